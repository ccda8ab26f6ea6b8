"""CV-Bench, BLINK and VSR loaders against fixtures in their real layouts."""

from __future__ import annotations

import json

import pytest

from tests.data.fixtures import (
    CVBENCH_ROWS,
    VSR_ROWS,
    cvbench_rows,
    write_blink_fixture,
    write_cvbench_fixture,
)
from visualthinker.data import load_records
from visualthinker.errors import DataError

# ---------------------------------------------------------------------------------------------- CV-Bench


def _summary(records):
    return [(r.id, r.task, r.subtask, r.choices, r.answer, r.answer_letter, r.prompt) for r in records]


def test_cvbench_layouts_agree(cvbench_split, cvbench_single, tmp_path):
    split, single = load_records(cvbench_split), load_records(cvbench_single)
    saved = load_records(write_cvbench_fixture(tmp_path, layout="saved"))
    assert _summary(split) == _summary(single) == _summary(saved)
    assert len(split) == len(CVBENCH_ROWS)


def test_cvbench_fields(cvbench_split):
    records = load_records(cvbench_split)
    rows = cvbench_rows()
    assert [r.task for r in records] == [row["task"] for row in rows]
    assert {r.subtask for r in records} == {"ADE20K", "COCO", "Omni3D"}  # the official score's groups
    for record, row in zip(records, rows, strict=True):
        letter = row["answer"].strip("()")
        assert record.answer_letter == letter
        assert record.answer == row["choices"]["ABCDEF".index(letter)]
        assert record.prompt == row["prompt"]
        assert record.raw["type"] == row["type"] and record.raw["source"] == row["source"]
        assert record.source == "cvbench"
    assert records[2].answer == "5"  # "(F)" with six choices


def test_cvbench_task_filter_is_counted(cvbench_split):
    records = load_records(cvbench_split, tasks=["Depth"])
    assert [r.task for r in records] == ["Depth"] and records.skipped["rows of other tasks"] == 5


@pytest.mark.parametrize(
    ("change", "pattern"),
    [
        ({"answer": "(E)"}, r"test.parquet row 1, field 'answer': '\(E\)' is not among the 2 choices"),
        ({"answer": "B"}, r"row 1, field 'answer': expected a lettered answer"),
        ({"choices": []}, r"row 1, field 'choices': no answer choices"),
        ({"image": None}, r"row 1, field 'image'"),
        ({"task": "Size"}, r"row 1, field 'task'"),
    ],
)
def test_cvbench_bad_rows(tmp_path, change, pattern):
    rows = cvbench_rows()
    rows[1] = rows[1] | change
    with pytest.raises(DataError, match=pattern):
        load_records(write_cvbench_fixture(tmp_path, "single", rows))


def test_cvbench_duplicate_idx(tmp_path):
    rows = cvbench_rows()
    rows[3]["idx"] = rows[1]["idx"]
    with pytest.raises(
        DataError, match=r"row 3, field 'id': duplicate id 'cvbench-1' \(first seen at .*row 1\)"
    ):
        load_records(write_cvbench_fixture(tmp_path, "single", rows))


# -------------------------------------------------------------------------------------------------- BLINK


def test_blink_default_subtasks_val(blink_dir):
    records = load_records(blink_dir)
    assert [r.id for r in records] == [
        "val_Relative_Depth_1",
        "val_Relative_Depth_2",
        "val_Relative_Depth_3",
        "val_Spatial_Relation_1",
        "val_Spatial_Relation_2",
    ]
    assert {r.subtask for r in records} == {"Relative_Depth", "Spatial_Relation"}
    first = records[3]
    assert (first.answer, first.answer_letter, first.choices) == ("no", "B", ["yes", "no"])
    assert first.prompt == "Is the car beneath the cat?\nSelect from the following choices.\n(A) yes\n(B) no"
    assert first.load_images()[0].mode == "RGB"


def test_blink_multi_image_policies(blink_dir):
    kept = load_records(blink_dir, subtasks=["Multi-view_Reasoning"])
    assert len(kept[0].images) == 2
    skipped = load_records(blink_dir, subtasks="Multi-view_Reasoning", multi_image="skip")
    assert len(skipped) == 0 and skipped.skipped["multi-image rows"] == 1
    with pytest.raises(DataError, match=r"row 0, field 'image_2': a 2-image row"):
        load_records(blink_dir, subtasks=["Multi-view_Reasoning"], multi_image="error")


def test_blink_hidden_test_answers(blink_dir):
    with pytest.raises(DataError, match=r"answers are hidden.*split='val'"):
        load_records(blink_dir, split="test")


def test_blink_missing_subtask_folder(blink_dir):
    with pytest.raises(DataError, match=r"no Counting/val-\*\.parquet"):
        load_records(blink_dir, subtasks=["Counting"])


def test_blink_single_file(tmp_path):
    root = write_blink_fixture(tmp_path, subtasks=("Spatial_Relation",), splits=("val",))
    records = load_records(root / "Spatial_Relation" / "val-00000-of-00001.parquet")
    assert [r.subtask for r in records] == ["Spatial_Relation", "Spatial_Relation"]


# ---------------------------------------------------------------------------------------------------- VSR


def test_vsr_records_and_image_lookup(vsr_dir):
    records = load_records(vsr_dir)
    assert [r.answer for r in records] == ["True", "False", "True"]
    assert [r.answer_letter for r in records] == ["A", "B", "A"]
    assert records[0].prompt == (
        'Please analyze the provided image. Does the statement "The cat is on the bed." accurately describes '
        "what you see? Choose from (A) True or (B) False."
    )
    assert all(r.choices == ["True", "False"] for r in records)
    # direct, then val2017/ and train2017/ fall-backs taken from image_link
    assert [p.parent.name for p in (r.images[0] for r in records)] == ["images", "val2017", "train2017"]
    assert all(r.load_images()[0].size == (32, 24) for r in records)
    assert records[1].subtask == "left of"


def test_vsr_explicit_image_root_and_jsonl_path(vsr_dir):
    records = load_records(vsr_dir / "test.jsonl", image_root=str(vsr_dir / "images"))
    assert len(records) == 3


def test_vsr_missing_image_never_fetches(tmp_path, vsr_dir):
    (tmp_path / "images").mkdir()
    (tmp_path / "test.jsonl").write_text(json.dumps(VSR_ROWS[0]) + "\n")
    with pytest.raises(DataError, match=r"test.jsonl row 0, field 'image': 000000000001.jpg not found"):
        load_records(tmp_path)


def test_vsr_bad_label(tmp_path, vsr_dir):
    rows = [VSR_ROWS[0] | {"label": "yes"}]
    (tmp_path / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(DataError, match=r"row 0, field 'label'"):
        load_records(tmp_path / "test.jsonl", image_root=str(vsr_dir / "images"))


def test_vsr_needs_an_image_folder(tmp_path):
    (tmp_path / "test.jsonl").write_text(json.dumps(VSR_ROWS[0]) + "\n")
    with pytest.raises(DataError, match=r"image folder .* does not exist"):
        load_records(tmp_path / "test.jsonl")
