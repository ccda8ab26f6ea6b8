from __future__ import annotations

import pandas as pd
import pyarrow.parquet as pq
import pytest

from tests.data.fixtures import (
    SAT_DYNAMIC_EVERY,
    sat_rows,
    solid_image_bytes,
    truncated_jpeg,
    write_sat_fixture,
)
from visualthinker.data import load_records, validate_source
from visualthinker.data.sat import load_sat, sat_task
from visualthinker.errors import DataError
from visualthinker.prompts import sat_question


def test_fixture_storage_matches_upstream(sat_pandas, sat_datasets):
    assert str(pq.read_schema(sat_pandas).field("image_bytes").type) == "list<element: binary>"
    assert "struct<bytes: binary, path: string>" in str(
        pq.read_schema(sat_datasets).field("image_bytes").type
    )


def test_visualthinker_selection_first_n_then_single_image(sat_pandas):
    first_n = 10
    records = load_records(sat_pandas, first_n=first_n)  # format sniffed from the columns
    single = [i for i in range(first_n) if i % SAT_DYNAMIC_EVERY != SAT_DYNAMIC_EVERY - 1]
    assert [r.id for r in records] == [f"sat-train-{i}" for i in single]
    assert records.skipped["multi-image rows"] == first_n - len(single)
    assert all(len(r.images) == 1 and r.source == "sat" and r.answer_letter is None for r in records)


def test_default_first_n_is_15000_and_limit_caps_output(sat_pandas):
    assert len(load_records(sat_pandas)) == 18  # 24 raw rows < 15000, 6 of them 2-image
    assert len(load_records(sat_pandas, limit=5)) == 5


def test_choices_shuffled_with_seed_and_prompt_format(sat_pandas):
    a = load_records(sat_pandas, seed=0)
    b = load_records(sat_pandas, seed=0)
    c = load_records(sat_pandas, seed=1)
    raw = sat_rows()
    assert [r.choices for r in a] == [r.choices for r in b]
    assert [r.choices for r in a] != [r.choices for r in c]
    for record in a:
        row = raw[record.raw["row"]]
        assert sorted(record.choices) == sorted(row["answers"])
        assert record.answer == row["correct_answer"]
        assert record.prompt == sat_question(row["question"], record.choices)
        assert record.prompt.startswith(" Answer in natural language. ")
    # The raw data always lists the answer first; after shuffling it must not always be first.
    assert {r.choices.index(r.answer) for r in a} != {0}


def test_a_rows_order_does_not_depend_on_the_selection(sat_pandas):
    everything = {r.id: r.choices for r in load_records(sat_pandas)}
    few = load_records(sat_pandas, first_n=6)
    assert all(everything[r.id] == r.choices for r in few)


def test_pandas_and_datasets_files_give_the_same_records(sat_pandas, sat_datasets):
    a, b = load_records(sat_pandas), load_records(sat_datasets)
    assert [(r.id, r.choices, r.answer, r.prompt) for r in a] == [
        (r.id, r.choices, r.answer, r.prompt) for r in b
    ]
    assert a[0].load_images()[0].size == b[0].load_images()[0].size == (32, 24)
    assert isinstance(b[0].images[0], dict)  # struct<bytes,path> arrives as a dict, decoded lazily


def test_folder_with_split_files_and_save_to_disk(tmp_path, sat_pandas):
    import datasets

    assert len(load_records(sat_pandas.parent, format="sat")) == 18
    dataset = datasets.Dataset.from_pandas(pd.DataFrame(sat_rows(8)))
    dataset.save_to_disk(str(tmp_path / "saved"))
    assert len(load_records(tmp_path / "saved", format="sat")) == 6


@pytest.mark.parametrize(
    ("question", "task"),
    [
        ("How many chairs are visible in the scene?", "count"),
        ("Considering the relative positions, is the lamp to the left or right of the sofa?", "relation"),
        ("Considering the relative positions, is the cup above or below the shelf?", "relation"),
        ("Which object is closer to the camera taking this photo, the lamp or the sofa?", "depth"),
        ("Is the lamp behind the sofa?", "depth"),
        ("Is the lamp further away or in front of the sofa?", "depth"),
        ("Which object is closer to the lamp, the sofa or the table?", "distance"),
        ("Consider the 3D positions of the objects. Is the centerpoint of the lamp at a higher height than the sofa?", "height"),
        ("What colour is the sofa?", "other"),
    ],
)  # fmt: skip
def test_task_from_static_template(question, task):
    assert sat_task(question, "other") == task


def test_dynamic_questions_are_other():
    assert (
        sat_task("If I turn left, would the lamp move closer to the camera?", "action_consequence") == "other"
    )


def test_question_type_filter(sat_pandas):
    static = load_records(sat_pandas, question_types="static", single_image=False)
    dynamic = load_records(sat_pandas, question_types="dynamic", single_image=False)
    assert {r.subtask for r in static} == {"other"} and len(static) == 18
    assert {r.subtask for r in dynamic} == {"action_sequence"} and len(dynamic) == 6
    assert all(len(r.images) == 2 for r in dynamic)


def test_first_frame_phrase_is_stripped(tmp_path):
    row = sat_rows(1)[0] | {
        "question": "Is the lamp to the left or right of the sofa?",
        "answers": ["left in the first frame", "right in the first frame"],
        "correct_answer": "left in the first frame",
    }
    path = write_sat_fixture(tmp_path, [row])
    record = load_sat(path)[0]
    assert sorted(record.choices) == ["left", "right"] and record.answer == "left"
    kept = load_sat(path, strip_first_frame=False)[0]
    assert kept.answer == "left in the first frame"


def _bad(tmp_path, **change):
    rows = sat_rows(4)
    rows[2] = rows[2] | change
    return write_sat_fixture(tmp_path, rows)


def test_answer_not_among_choices_names_row_and_field(tmp_path):
    path = _bad(tmp_path, correct_answer="under")
    with pytest.raises(DataError, match=r"SAT_train.parquet row 2, field 'correct_answer'.*'under'"):
        load_records(path)


def test_empty_choices_names_row_and_field(tmp_path):
    path = _bad(tmp_path, answers=[], correct_answer="")
    with pytest.raises(DataError, match=r"row 2, field 'answers'"):
        load_records(path)


def test_missing_column_names_file_and_column(tmp_path):
    path = tmp_path / "SAT_train.parquet"
    pd.DataFrame([{k: v for k, v in row.items() if k != "correct_answer"} for row in sat_rows(3)]).to_parquet(
        path
    )
    with pytest.raises(DataError, match=r"SAT_train.parquet: missing column\(s\) \['correct_answer'\]"):
        load_records(path, format="sat")


def test_corrupt_image_is_reported_with_its_row(tmp_path):
    path = _bad(tmp_path, image_bytes=[truncated_jpeg()])
    records = load_records(path)  # images decode lazily ...
    with pytest.raises(DataError, match=r"SAT_train.parquet row 2.*image 0.*corrupt or truncated"):
        records[2].load_images()
    _, problems = validate_source(path)  # ... and validate decodes them all
    assert len(problems) == 1 and "row 2" in problems[0]


def test_collect_mode_reports_every_bad_row(tmp_path):
    rows = sat_rows(6)
    rows[0] = rows[0] | {"correct_answer": "nope"}
    rows[4] = rows[4] | {"answers": []}
    path = write_sat_fixture(tmp_path, rows)
    records = load_records(path, on_error="collect")
    assert len(records.problems) == 2
    assert "row 0" in records.problems[0] and "row 4" in records.problems[1]


def test_grayscale_and_rgba_images_become_rgb(tmp_path):
    rows = sat_rows(2)
    rows[0]["image_bytes"] = [solid_image_bytes(0, fmt="PNG", mode="L")]
    rows[1]["image_bytes"] = [solid_image_bytes(1, fmt="PNG", mode="RGBA")]
    records = load_records(write_sat_fixture(tmp_path, rows))
    assert [r.load_images()[0].mode for r in records] == ["RGB", "RGB"]
