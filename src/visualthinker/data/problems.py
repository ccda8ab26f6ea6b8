"""Bookkeeping shared by the loaders: the list they return (with its skip counts) and the error policy.

Loaders either stop at the first bad row (the default: a DataError naming file, row and field) or, for
`data validate`, collect every problem and keep going. Rows dropped on purpose (e.g. SAT multi-image rows)
are counted per reason so a drop is never silent.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable

from visualthinker.data.record import Record
from visualthinker.errors import DataError

logger = logging.getLogger("visualthinker.data")


class RecordList(list[Record]):
    """A plain list of records that also remembers what was skipped and (in collect mode) what was wrong."""

    def __init__(self, records: Iterable[Record] = (), origin: str = "") -> None:
        super().__init__(records)
        self.origin = origin
        self.skipped: Counter[str] = Counter()
        self.problems: list[str] = []

    def skip(self, reason: str, count: int = 1) -> None:
        self.skipped[reason] += count

    def log_summary(self) -> None:
        if self.skipped:
            detail = ", ".join(f"{n} {reason}" for reason, n in sorted(self.skipped.items()))
            logger.warning("%s: kept %d records; skipped %s", self.origin, len(self), detail)


class ProblemLog:
    """Raise on the first problem, or collect them all (`collect=True`) for a full validation report."""

    def __init__(self, collect: bool = False) -> None:
        self.collect = collect
        self.problems: list[str] = []

    def report(self, message: str) -> None:
        if not self.collect:
            raise DataError(message)
        self.problems.append(message)


def row_where(file: str, row: int, field: str | None = None) -> str:
    """The location prefix every row-level message starts with."""
    return f"{file} row {row}" + (f", field {field!r}" if field else "")


def require_columns(file: str, columns: Iterable[str], required: Iterable[str], hint: str = "") -> None:
    """A file-level check: missing columns make every row unusable, so this always raises."""
    have = set(columns)
    missing = [c for c in required if c not in have]
    if missing:
        raise DataError(
            f"{file}: missing column(s) {missing}; found {sorted(have)}" + (f". {hint}" if hint else "")
        )


def check_unique_ids(records: RecordList, log: ProblemLog) -> None:
    seen: dict[str, Record] = {}
    for record in records:
        first = seen.setdefault(record.id, record)
        if first is not record:
            log.report(
                f"{record.origin or records.origin}, field 'id': duplicate id {record.id!r} "
                f"(first seen at {first.origin or 'an earlier row'}); ids must be unique"
            )
