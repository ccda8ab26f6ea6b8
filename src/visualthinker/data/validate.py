"""Whole-dataset checks for `visualthinker data validate`: every problem, each with its row, not just the first."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from visualthinker.data.problems import RecordList
from visualthinker.data.record import LETTERS, Record
from visualthinker.errors import DataError

# The trainer's defaults: validate bounds images as a default training run would.
DEFAULT_MAX_PIXELS = 401408
DEFAULT_MIN_PIXELS = 3136


def record_problems(record: Record, decode_images: bool = True, max_pixels: int | None = DEFAULT_MAX_PIXELS,
                    min_pixels: int | None = DEFAULT_MIN_PIXELS) -> list[str]:
    where = record.origin or f"{record.source} record {record.id!r}"
    problems = []
    for key in ("question", "prompt", "task", "source"):
        value = getattr(record, key)
        if not isinstance(value, str):
            problems.append(f"{where}, field {key!r}: expected a string, got {value!r}")
    if problems:
        return problems  # the checks below assume strings
    if not record.id:
        problems.append(f"{where}, field 'id': empty id")
    if not record.choices:
        problems.append(f"{where}, field 'choices': no answer choices")
    elif record.answer not in record.choices:
        problems.append(
            f"{where}, field 'answer': {record.answer!r} is not among the choices {record.choices!r}"
        )
    elif record.answer_letter is not None:
        index = LETTERS.find(record.answer_letter) if len(record.answer_letter) == 1 else -1
        if not 0 <= index < len(record.choices) or record.choices[index] != record.answer:
            problems.append(
                f"{where}, field 'answer_letter': {record.answer_letter!r} does not point at {record.answer!r}"
            )
    if not record.prompt or not record.prompt.strip():
        problems.append(f"{where}, field 'prompt': empty prompt")
    if not record.images:
        problems.append(f"{where}, field 'images': no images")
    if decode_images:
        for k in range(len(record.images)):
            try:
                record.load_image(k, max_pixels, min_pixels)  # the very call training and evaluation make
            except DataError as exc:
                problems.append(str(exc))
    return problems


def validate_records(records: Iterable[Record], decode_images: bool = True,
                     max_pixels: int | None = DEFAULT_MAX_PIXELS,
                     min_pixels: int | None = DEFAULT_MIN_PIXELS) -> list[str]:
    problems: list[str] = []
    for record in records:
        problems.extend(record_problems(record, decode_images, max_pixels, min_pixels))
    return problems


def validate_source(
    name_or_path: str | Path, *, decode_images: bool = True, max_pixels: int | None = DEFAULT_MAX_PIXELS,
    min_pixels: int | None = DEFAULT_MIN_PIXELS, **options: Any
) -> tuple[RecordList | None, list[str]]:
    """Load with every row-level problem collected, then check each record; file-level errors become one problem."""
    from visualthinker.data.loader import load_records

    try:
        records = load_records(name_or_path, on_error="collect", **options)
    except DataError as exc:
        return None, [str(exc)]
    problems = list(records.problems) + validate_records(records, decode_images, max_pixels, min_pixels)
    if not records:
        # Training and evaluation refuse an empty set, so validate does too.
        problems.append(f"{records.origin or name_or_path}: no usable records; nothing to train or evaluate on")
    return records, problems
