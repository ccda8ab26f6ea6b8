"""SAT (`array/SAT`): the training set, selected the way VisualThinker built `SAT_train_15000.json`.

Recipe: take the first `first_n` raw rows (15000) *before* any filtering, keep single-image rows (multi-image
rows are a counted skip), shuffle each row's choices with a seeded RNG (the raw data lists the correct answer
first), and show the question in the paper's SAT wording (`prompts.sat_question`).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path

from visualthinker.data.formats import Table, as_list, open_hub, open_table
from visualthinker.data.problems import ProblemLog, RecordList, require_columns, row_where
from visualthinker.data.record import Record
from visualthinker.errors import DataError
from visualthinker.prompts import sat_question

HUB_ID = "array/SAT"
SPLIT_FILES = {
    "train": "SAT_train.parquet",
    "val": "SAT_val.parquet",
    "test": "SAT_test.parquet",
    "static": "SAT_static.parquet",
}
COLUMNS = ("image_bytes", "question", "answers", "correct_answer")
STATIC_TYPES = ("other",)
DEFAULT_FIRST_N = 15000
# SAT's own loader removes this phrase from answers (a generator artefact it calls "a small bug"); the
# question already names the frame, so keeping it would only make the answer strings longer.
FIRST_FRAME = "in the first frame"


def sat_task(question: str, question_type: str | None) -> str:
    """count / relation / depth / distance / height for the static templates; "other" for the rest."""
    if question_type not in (None, "", *STATIC_TYPES):
        return "other"  # dynamic questions reuse words like "closer to the camera" with another meaning
    q = question.lower()
    if "how many" in q:
        return "count"
    if "higher height" in q or "3d positions" in q:
        return "height"
    if "closer to the camera" in q or "behind" in q or "in front of" in q or "further away" in q:
        return "depth"
    if "closer to" in q or "farther from" in q or "further from" in q:
        return "distance"
    if "left or right" in q or "above or below" in q or "relative positions" in q:
        return "relation"
    return "other"


def _strip_first_frame(text: str) -> str:
    return " ".join(text.replace(FIRST_FRAME, " ").split()) if FIRST_FRAME in text else text


def _type_filter(question_types: str | Sequence[str]) -> tuple[str, set[str] | None]:
    """("keep"|"drop", names): "all" keeps everything, "static" keeps "other", "dynamic" drops it."""
    if question_types == "all":
        return "keep", None
    if question_types == "static":
        return "keep", set(STATIC_TYPES)
    if question_types == "dynamic":
        return "drop", set(STATIC_TYPES)
    if isinstance(question_types, str):
        return "keep", {t.strip() for t in question_types.split(",") if t.strip()}
    return "keep", set(question_types)


def open_sat(source: str | Path, split: str, revision: str | None = None) -> Table:
    """A SAT parquet file, a folder holding `SAT_<split>.parquet` (or a save_to_disk dir), or a hub id."""
    path = Path(source)
    if path.is_dir() and split in SPLIT_FILES and (path / SPLIT_FILES[split]).exists():
        return open_table(path / SPLIT_FILES[split])
    if path.exists():
        return open_table(path, split)
    if split not in SPLIT_FILES:
        raise DataError(f"SAT: unknown split {split!r}; choose one of {sorted(SPLIT_FILES)}")
    # Only the one split's file, so asking for val does not download the 4.5 GB train file.
    return open_hub(str(source), split=split, data_files={split: SPLIT_FILES[split]}, revision=revision)


def load_sat(
    source: str | Path = HUB_ID,
    *,
    split: str = "train",
    first_n: int | None = DEFAULT_FIRST_N,
    single_image: bool = True,
    question_types: str | Sequence[str] = "all",
    seed: int = 0,
    limit: int | None = None,
    strip_first_frame: bool = True,
    revision: str | None = None,
    log: ProblemLog | None = None,
) -> RecordList:
    """SAT rows as records (see the module doc for the selection recipe).

    `first_n` counts raw rows before filtering (None: all rows); `limit` caps the records returned.
    `question_types` is "all" (VisualThinker), "static" (question_type "other"), "dynamic", or names.
    `revision` pins a hub commit when `source` is a hub id.
    """
    log = log or ProblemLog()
    table = open_sat(source, split, revision)
    require_columns(
        table.name, table.columns, COLUMNS, "expected SAT columns (image_bytes, question, answers, ...)"
    )
    mode, types = _type_filter(question_types)
    out = RecordList(origin=table.name)
    for row, data in table.rows():
        if first_n is not None and row >= first_n:
            break
        if limit is not None and len(out) >= limit:
            break
        try:
            record = _row_record(table.name, row, data, split, seed, strip_first_frame)
        except DataError as exc:
            log.report(str(exc))
            continue
        qtype = record.subtask or ""
        if len(record.images) > 1 and single_image:
            out.skip("multi-image rows")
            continue
        if types is not None and ((qtype in types) != (mode == "keep")):
            out.skip(f"rows of other question types than {question_types!r}")
            continue
        out.append(record)
    out.problems = log.problems
    return out


def _row_record(file: str, row: int, data: dict, split: str, seed: int, strip: bool) -> Record:
    images = as_list(data.get("image_bytes"))
    if not images:
        raise DataError(f"{row_where(file, row, 'image_bytes')}: no images")
    question = data.get("question")
    if not isinstance(question, str) or not question.strip():
        raise DataError(f"{row_where(file, row, 'question')}: empty or missing question")
    answers = as_list(data.get("answers"))
    if not answers:
        raise DataError(f"{row_where(file, row, 'answers')}: no answer choices")
    if not all(isinstance(a, str) and a.strip() for a in answers):
        raise DataError(
            f"{row_where(file, row, 'answers')}: every choice must be a non-empty string, got {answers!r}"
        )
    correct = data.get("correct_answer")
    if not isinstance(correct, str) or correct not in answers:
        raise DataError(
            f"{row_where(file, row, 'correct_answer')}: {correct!r} is not among the choices {answers!r}"
        )
    choices = [_strip_first_frame(a) for a in answers] if strip else list(answers)
    answer = _strip_first_frame(correct) if strip else correct
    # One RNG per row keyed by (seed, row): a row's order does not depend on which other rows were kept.
    random.Random(f"sat:{seed}:{row}").shuffle(choices)
    qtype = data.get("question_type")
    return Record(
        id=f"sat-{split}-{row}",
        images=images,
        question=question,
        choices=choices,
        answer=answer,
        prompt=sat_question(question, choices),
        task=sat_task(question, qtype),
        source="sat",
        subtask=qtype,
        raw={"row": row, "question_type": qtype, "answers": list(answers), "correct_answer": correct},
        origin=row_where(file, row),
    )
