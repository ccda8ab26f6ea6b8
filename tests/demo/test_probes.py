"""The perception probe of the demo's base model: captions per choice, scored after the record's image."""

from __future__ import annotations

import pytest

from visualthinker.data.synthetic import ALL_TASKS, generate_records
from visualthinker.demo.probes import caption_perception, choice_captions
from visualthinker.errors import DataError


def test_choice_captions_state_each_choice_and_only_the_answer_is_true():
    records = generate_records(50, 0, split="test", tasks=ALL_TASKS)
    assert {r.task for r in records} == {"count", "relation", "depth", "distance", "tally"}
    for record in records:
        captions = choice_captions(record)
        assert len(captions) == len(record.choices) == len(set(captions))
        for choice, caption in zip(record.choices, captions, strict=True):
            assert choice in caption  # the caption asserts exactly this choice
    count = next(r for r in records if r.task == "count")
    colour, shape = count.question.split()[2:4]  # "How many red circles are ..."
    assert f"exactly {count.answer} {colour} {shape.removesuffix('s')}" in choice_captions(count)[
        count.choices.index(count.answer)]
    tally = next(r for r in records if r.task == "tally")
    assert choice_captions(tally)[tally.choices.index(tally.answer)] == f"{tally.answer} shapes in total."


def test_unknown_question_is_a_clear_error():
    record = generate_records(1, 0, split="test")[0]
    record.question = "What is this?"
    with pytest.raises(DataError, match="cannot rephrase"):
        choice_captions(record)


def test_caption_perception_reports_accuracy_and_chance(tmp_path):
    from visualthinker.models.tiny import build_tiny_model

    model_dir = build_tiny_model(tmp_path / "m", hidden=32, layers=1, vision_depth=1, min_pixels=112 * 112,
                                 max_pixels=112 * 112)
    records = generate_records(8, 1, split="test")
    out = caption_perception(model_dir, records, 112 * 112, 112 * 112)
    assert out["n"] == 8 and 0.0 <= out["accuracy"] <= 1.0
    assert set(out["per_task"]) == {r.task for r in records}
    assert out["chance"] == pytest.approx(sum(1 / len(r.choices) for r in records) / 8)


def test_listed_total_reads_the_total_an_enumeration_arrives_at():
    from visualthinker.demo.probes import listed_total

    assert listed_total(" 1. a red circle; 2. a blue square. That makes two shapes in total.") == 2
    assert listed_total("So 3 shapes. Wait, I missed one. That makes 4 shapes in total.") == 4
    assert listed_total("That makes 1 shape in total.") == 1
    assert listed_total("1. a red circle; 2. a blue square.") is None
    assert listed_total("That makes many shapes in total.") is None


def test_counting_by_listing_needs_tally_records_and_reports_both_ways(tmp_path):
    from visualthinker.demo.probes import counting_by_listing
    from visualthinker.models.adapter import get_adapter
    from visualthinker.models.tiny import build_tiny_model

    model_dir = build_tiny_model(tmp_path / "m", hidden=32, layers=1, vision_depth=1, min_pixels=112 * 112,
                                 max_pixels=112 * 112)
    adapter = get_adapter(str(model_dir))
    processor = adapter.load_processor(str(model_dir), 112 * 112, 112 * 112)
    model = adapter.load_model(str(model_dir)).eval()
    with pytest.raises(DataError, match="tally"):
        counting_by_listing(model, adapter, processor, generate_records(4, 1, split="test"))
    out = counting_by_listing(model, adapter, processor, generate_records(4, 1, split="test", tasks=["tally"]),
                              max_new_tokens=4)
    assert out["n"] == 4 and out["chance"] == pytest.approx(0.25)
    assert 0.0 <= out["listing_accuracy"] <= out["listing_reaches_total"] <= 1.0
    assert 0.0 <= out["glance_accuracy"] <= 1.0 and len(out["examples"]) == 4
