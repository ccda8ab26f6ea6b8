"""The project's records.jsonl format, format sniffing, hub loading and the image edge cases."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from tests.data.fixtures import sat_rows, solid_image_bytes, write_sat_fixture
from visualthinker.data import (
    Record,
    generate_records,
    load_records,
    read_records,
    validate_records,
    write_records,
)
from visualthinker.data.formats import open_hub
from visualthinker.data.store import META_FILE, RECORDS_FILE
from visualthinker.errors import ConfigError, DataError


def _fields(records):
    return [
        (r.id, r.question, r.choices, r.answer, r.prompt, r.task, r.source, r.answer_letter) for r in records
    ]


def test_roundtrip_synthetic(tmp_path):
    records = generate_records(12, seed=0)
    write_records(records, tmp_path / "out", {"dataset": "synthetic"})
    back = load_records(tmp_path / "out")
    assert _fields(back) == _fields(records)
    assert back[0].load_images()[0].tobytes() == records[0].images[0].tobytes()  # PNG is lossless
    assert json.loads((tmp_path / "out" / META_FILE).read_text())["count"] == 12
    assert back[0].origin == "records.jsonl row 0"


def test_roundtrip_keeps_encoded_bytes(tmp_path, sat_pandas):
    records = load_records(sat_pandas)
    write_records(records, tmp_path / "sat")
    first = json.loads((tmp_path / "sat" / RECORDS_FILE).read_text().splitlines()[0])
    assert first["images"] == ["images/000000_0.jpg"]
    assert (tmp_path / "sat" / first["images"][0]).read_bytes() == records[0].images[0]
    assert _fields(read_records(tmp_path / "sat")) == _fields(records)


def test_refuses_to_overwrite(tmp_path):
    records = generate_records(2, seed=0)
    write_records(records, tmp_path)
    with pytest.raises(DataError, match="already holds records.jsonl"):
        write_records(records, tmp_path)
    write_records(records[:1], tmp_path, overwrite=True)
    assert len(read_records(tmp_path)) == 1


def _write_lines(tmp_path, lines):
    (tmp_path / "images").mkdir(exist_ok=True)
    (tmp_path / "images" / "a.png").write_bytes(solid_image_bytes(0, fmt="PNG"))
    (tmp_path / RECORDS_FILE).write_text("".join(json.dumps(line) + "\n" for line in lines))
    return tmp_path


def _line(i, **change):
    line = {
        "id": f"r{i}",
        "images": ["images/a.png"],
        "question": "Is it red?",
        "choices": ["yes", "no"],
        "answer": "yes",
        "prompt": "Is it red? (A) yes (B) no",
        "task": "colour",
        "source": "handmade",
        "answer_letter": "A",
    }
    return line | change


@pytest.mark.parametrize(
    ("change", "pattern"),
    [
        ({"answer": "maybe"}, r"records.jsonl row 1, field 'answer': 'maybe' is not among"),
        ({"choices": []}, r"row 1, field 'choices'"),
        ({"answer_letter": "B"}, r"row 1, field 'answer_letter'"),
        ({"images": []}, r"row 1, field 'images'"),
        ({"id": "r0"}, r"row 1, field 'id': duplicate id 'r0' \(first seen at records.jsonl row 0\)"),
    ],
)
def test_bad_record_lines(tmp_path, change, pattern):
    path = _write_lines(tmp_path, [_line(0), _line(1, **change)])
    with pytest.raises(DataError, match=pattern):
        load_records(path)


def test_missing_field_in_records_line(tmp_path):
    line = _line(0)
    del line["prompt"]
    with pytest.raises(DataError, match=r"records.jsonl row 0: missing column\(s\) \['prompt'\]"):
        load_records(_write_lines(tmp_path, [line]))


def test_missing_image_file_named_by_validate(tmp_path):
    path = _write_lines(tmp_path, [_line(0), _line(1, images=["images/gone.png"])])
    problems = validate_records(load_records(path))
    assert len(problems) == 1
    assert "records.jsonl row 1" in problems[0] and "gone.png does not exist" in problems[0]


def test_huge_image_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # instead of writing a gigapixel file
    rows = sat_rows(1)
    rows[0]["image_bytes"] = [solid_image_bytes(0, size=(64, 64), fmt="PNG")]
    record = load_records(write_sat_fixture(tmp_path, rows))[0]
    with pytest.raises(
        DataError, match=r"SAT_train.parquet row 0, record 'sat-train-0', image 0: image is too large"
    ):
        record.load_images()


def test_large_image_is_bounded_on_load():
    big = Image.new("RGBA", (2000, 1000), (10, 20, 30, 128))
    record = Record("x", [big], "q", ["a"], "a", "q", "t", "s")
    image = record.load_images(max_pixels=100_000)[0]
    assert image.mode == "RGB" and image.width * image.height <= 100_000


def test_unknown_name_and_option(tmp_path):
    with pytest.raises(DataError, match="neither a known dataset"):
        load_records("no-such-dataset")
    with pytest.raises(ConfigError, match=r"unknown option\(s\) \['subtasks'\]"):
        load_records("synthetic", subtasks=["x"])
    with pytest.raises(ConfigError, match="data format"):
        load_records(tmp_path, format="csv")


def test_unrecognised_columns(tmp_path):
    (tmp_path / "x.jsonl").write_text(json.dumps({"foo": 1}) + "\n")
    with pytest.raises(DataError, match=r"cannot tell which dataset.*pass format="):
        load_records(tmp_path / "x.jsonl")


def test_hub_reader_goes_through_load_dataset(tmp_path, sat_pandas):
    # `load_dataset("parquet", ...)` runs the same code path as a hub id read from the cache.
    table = open_hub("parquet", split="train", data_files=str(sat_pandas), cache_dir=str(tmp_path / "cache"))
    rows = [row for _, row in table.rows()]
    assert len(rows) == 24 and isinstance(rows[0]["image_bytes"][0], bytes)


def test_hub_failure_is_a_data_error(monkeypatch):
    import datasets

    def offline(*args, **kwargs):
        raise ConnectionError("Couldn't reach the Hub (offline mode is enabled)")

    # What an uncached id gives offline, without the network retries.
    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(DataError, match=r"array/SAT split 'train': cannot load \(ConnectionError"):
        load_records("sat")
