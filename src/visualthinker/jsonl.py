"""Reading JSON-lines files with errors that name the file and line (one reader for every jsonl we consume)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from visualthinker.errors import DataError, VisualThinkerError
from visualthinker.textfiles import iter_lines


def iter_objects(path: Path, error: type[VisualThinkerError] = DataError, label: str | None = None,
                 hint: str = "") -> Iterator[tuple[int, dict[str, Any]]]:
    """(1-based line number, object) for each non-blank line; a line that is not a JSON object raises `error`."""
    name = label or str(path)
    for line_no, line in iter_lines(Path(path), error, name):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise error(f"{name} line {line_no}: malformed JSON ({exc.msg} at column {exc.colno}){hint}") from exc
        if not isinstance(obj, dict):
            raise error(f"{name} line {line_no}: expected a JSON object, got {type(obj).__name__}{hint}")
        yield line_no, obj
