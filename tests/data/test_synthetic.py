from __future__ import annotations

import math
import time
from collections import Counter

import pytest

from visualthinker.data import generate_records, load_records
from visualthinker.data.synthetic import DIFFICULTIES, TASKS, render
from visualthinker.errors import DataError
from visualthinker.prompts import sat_question


def _key(record):
    return (record.images[0].tobytes(), record.question)


def test_deterministic_by_seed():
    a, b = generate_records(40, seed=3), generate_records(40, seed=3)
    assert [(r.id, r.question, r.choices, r.answer) for r in a] == [
        (r.id, r.question, r.choices, r.answer) for r in b
    ]
    assert [r.images[0].tobytes() for r in a] == [r.images[0].tobytes() for r in b]
    c = generate_records(40, seed=4)
    assert [r.question for r in a] != [r.question for r in c]


@pytest.mark.parametrize("difficulty", list(DIFFICULTIES))
def test_splits_share_no_image_question_pair(difficulty):
    train = {_key(r) for r in generate_records(400, seed=0, split="train", difficulty=difficulty)}
    for seed in (0, 1):
        test = {_key(r) for r in generate_records(200, seed=seed, split="test", difficulty=difficulty)}
        assert not train & test
    # no duplicates within a split either
    assert len(train) == 400


def test_tasks_answers_and_positions_are_balanced():
    records = generate_records(480, seed=0)
    tasks = Counter(r.task for r in records)
    assert set(tasks) == set(TASKS) and max(tasks.values()) - min(tasks.values()) <= 1
    for task in TASKS:
        subset = [r for r in records if r.task == task]
        values = Counter(_answer_value(r) for r in subset)
        positions = Counter(r.choices.index(r.answer) for r in subset)
        assert max(values.values()) - min(values.values()) <= 0.15 * len(subset), (task, values)
        assert max(positions.values()) - min(positions.values()) <= 0.15 * len(subset), (task, positions)
    assert {r.answer for r in records if r.task == "count"} == {"1", "2", "3"}
    assert {r.answer for r in records if r.task == "relation"} == {"left", "right", "above", "below"}


def _answer_value(record):
    """The answer itself, or for depth/distance whether the answer is the object named first."""
    if record.task in ("count", "relation"):
        return record.answer
    other = next(c for c in record.choices if c != record.answer)
    return record.question.index(record.answer) < record.question.index(other)


def test_record_fields_and_prompt():
    for record in generate_records(20, seed=1, difficulty="medium"):
        assert record.source == "synthetic" and record.answer_letter is None
        assert record.answer in record.choices and len(set(record.choices)) == len(record.choices)
        assert record.prompt == sat_question(record.question, record.choices)
        image = record.load_images()[0]
        assert image.size == (112, 112) and image.mode == "RGB"


@pytest.mark.parametrize("difficulty", list(DIFFICULTIES))
def test_the_scene_contains_the_answer(difficulty):
    for record in generate_records(120, seed=2, difficulty=difficulty):
        objects = [tuple(o) for o in record.raw["objects"]]
        named = {f"{c} {s}": (x, y, size) for c, s, x, y, size in objects}
        q = record.question
        if record.task == "count":
            colour, shape = q.removeprefix("How many ").split(" are")[0].rstrip("s").split()
            assert sum(1 for c, s, *_ in objects if (c, s) == (colour, shape)) == int(record.answer)
        elif record.task == "relation":
            a, b = _two_named(q, named)
            dx, dy = a[0] - b[0], a[1] - b[1]
            expected = {"left": dx < 0, "right": dx > 0, "above": dy < 0, "below": dy > 0}
            assert expected[record.answer]
        elif record.task == "depth":
            other = next(c for c in record.choices if c != record.answer)
            assert named[record.answer][2] > named[other][2]  # the closer object is drawn bigger
        else:
            anchor = q.split("closer to the ")[1].split(",")[0]
            other = next(c for c in record.choices if c != record.answer)
            d = {n: math.dist(named[anchor][:2], named[n][:2]) for n in (record.answer, other)}
            assert d[other] >= DIFFICULTIES[difficulty].distance_ratio * d[record.answer] - 1e-9


def _two_named(question, named):
    a = question.split("is the ")[1].split(" to the")[0].split(" above")[0]
    b = question.rsplit("the ", 1)[1].rstrip("?")
    return named[a], named[b]


def test_rendered_colours_are_visible():
    record = generate_records(1, seed=0, tasks=["count"])[0]
    colours = {colour for _, colour in record.images[0].getcolors(maxcolors=4096)}
    assert len(colours) >= 3  # background, outline and at least one fill
    image = render([("red", "square", 56, 56, 20)], 112, (240, 240, 240))
    assert image.getpixel((56, 56)) == (220, 40, 40)


@pytest.mark.parametrize("split", ["train", "test"])
def test_generating_1000_records_is_fast(split):
    start = time.process_time()  # CPU time: other jobs on a shared machine do not count
    generate_records(1000, seed=0, split=split)
    assert time.process_time() - start < 2.0


def test_task_subset_and_options():
    records = generate_records(10, seed=0, tasks=["depth"], image_size=64, difficulty="hard")
    assert {r.task for r in records} == {"depth"} and records[0].images[0].size == (64, 64)
    with pytest.raises(DataError, match="unknown task"):
        generate_records(1, seed=0, tasks=["size"])
    with pytest.raises(DataError, match="unknown split"):
        generate_records(1, seed=0, split="dev")


def test_load_records_synthetic():
    records = load_records("synthetic", split="test", limit=12, seed=5, difficulty="medium")
    assert len(records) == 12 and records[0].id.startswith("synthetic-test-5-")
    assert len(load_records("synthetic", n=7)) == 7


def test_tally_scenes_hold_distinct_shapes_and_ask_for_the_total():
    """The demo's task where thinking can pay: every shape of its own kind, the answer is how many there are."""
    from visualthinker.data.synthetic import TALLY_QUESTION

    records = generate_records(200, seed=1, split="test", tasks=["tally"])
    assert {r.task for r in records} == {"tally"}
    values = Counter(r.answer for r in records)
    assert set(values) == {"2", "3", "4", "5"} and max(values.values()) - min(values.values()) <= 2
    for r in records:
        assert r.question == TALLY_QUESTION and sorted(r.choices) == ["2", "3", "4", "5"]
    hard = generate_records(20, seed=1, tasks=["tally"], difficulty="hard")
    assert {r.answer for r in hard} <= {"3", "4", "5", "6", "7"} and len(hard[0].choices) == 5
    # tally is opt-in: the default set stays SAT / CV-Bench's four tasks
    assert "tally" not in TASKS and {r.task for r in generate_records(40, seed=0)} == set(TASKS)


def test_tally_objects_are_distinct_kinds_and_the_answer_counts_them():
    import random

    from visualthinker.data.synthetic import BUILDERS, DIFFICULTIES, _Retry, _Scene

    rng = random.Random(0)
    made = 0
    while made < 50:
        value = rng.randrange(4)
        try:
            item = BUILDERS["tally"](_Scene(rng, DIFFICULTIES["easy"], 112), value)
        except _Retry:
            continue
        made += 1
        kinds = [(o[0], o[1]) for o in item.objects]
        assert len(set(kinds)) == len(kinds) == int(item.answer) == DIFFICULTIES["easy"].tally[value]
