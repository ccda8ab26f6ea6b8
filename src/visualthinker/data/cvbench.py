"""CV-Bench (`nyu-visionx/CV-Bench`), split `test`: 2,638 lettered questions in four tasks.

Layouts accepted: `test_2d.parquet` + `test_3d.parquet` (current), a single `test.parquet` (the revision
VisualThinker used), a legacy `val.parquet/` or `test.parquet/` save_to_disk folder, one parquet/jsonl file,
or the hub id. The image source column (ADE20K / COCO / Omni3D), which the official score groups by, is kept
as `Record.subtask` and as `raw["source"]`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from visualthinker.data.formats import Table, as_list, open_hub, open_table
from visualthinker.data.problems import ProblemLog, RecordList, require_columns, row_where
from visualthinker.data.record import LETTERS, Record
from visualthinker.errors import DataError

HUB_ID = "nyu-visionx/CV-Bench"
COLUMNS = ("image", "question", "choices", "answer", "prompt", "task", "source")
TASKS = ("Count", "Relation", "Depth", "Distance")
ANSWER_RE = re.compile(r"^\(([A-Z])\)$")
RAW_KEYS = (
    "idx",
    "type",
    "task",
    "source",
    "source_dataset",
    "source_filename",
    "filename",
    "target_class",
    "target_size",
    "bbox",
    "answer",
)


def cvbench_tables(source: str | Path, split: str = "test", revision: str | None = None) -> list[Table]:
    path = Path(source)
    if path.is_dir():
        parts = [path / f"{split}_2d.parquet", path / f"{split}_3d.parquet"]
        if all(p.exists() for p in parts):
            return [open_table(p) for p in parts]
        for candidate in (path / f"{split}.parquet", path / "val.parquet", path / f"{split}.jsonl"):
            if candidate.exists():  # a file, or the legacy save_to_disk folder of the same name
                return [open_table(candidate)]
        return [open_table(path, split)]
    if path.exists():
        return [open_table(path)]
    return [open_hub(str(source), split=split, revision=revision)]


def load_cvbench(
    source: str | Path = HUB_ID,
    *,
    split: str = "test",
    tasks: Sequence[str] | None = None,
    limit: int | None = None,
    revision: str | None = None,
    log: ProblemLog | None = None,
) -> RecordList:
    """`tasks` keeps only those tasks (a counted skip); `revision` pins a hub commit (e.g. "22409a9")."""
    log = log or ProblemLog()
    tables = cvbench_tables(source, split, revision)
    out = RecordList(origin=" + ".join(t.name for t in tables))
    wanted = set(tasks) if tasks else None
    for table in tables:
        require_columns(
            table.name, table.columns, COLUMNS, "expected CV-Bench columns (image, prompt, answer, ...)"
        )
        for row, data in table.rows():
            if limit is not None and len(out) >= limit:
                break
            if wanted is not None and data.get("task") not in wanted:
                out.skip("rows of other tasks")
                continue
            try:
                out.append(_row_record(table, row, data))
            except DataError as exc:
                log.report(str(exc))
    out.problems = log.problems
    return out


def lettered_answer(file: str, row: int, answer: object, choices: list[str]) -> tuple[str, str]:
    """ "(B)" -> ("B", choices[1]), with a located error for anything else."""
    match = ANSWER_RE.match(answer.strip()) if isinstance(answer, str) else None
    if not match:
        raise DataError(
            f"{row_where(file, row, 'answer')}: expected a lettered answer like '(A)', got {answer!r}"
        )
    index = LETTERS.index(match.group(1))
    if index >= len(choices):
        raise DataError(
            f"{row_where(file, row, 'answer')}: {answer!r} is not among the {len(choices)} choices {choices!r}"
        )
    return match.group(1), choices[index]


def checked_choices(file: str, row: int, value: object) -> list[str]:
    choices = as_list(value)
    if not choices:
        raise DataError(f"{row_where(file, row, 'choices')}: no answer choices")
    if not all(isinstance(c, str) and c.strip() for c in choices):
        raise DataError(
            f"{row_where(file, row, 'choices')}: every choice must be a non-empty string, got {choices!r}"
        )
    return choices


def _row_record(table: Table, row: int, data: dict) -> Record:
    file = table.name
    choices = checked_choices(file, row, data.get("choices"))
    letter, answer = lettered_answer(file, row, data.get("answer"), choices)
    prompt = data.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise DataError(f"{row_where(file, row, 'prompt')}: empty or missing prompt")
    task = data.get("task")
    if task not in TASKS:
        raise DataError(f"{row_where(file, row, 'task')}: unknown task {task!r}; expected one of {TASKS}")
    image = data.get("image")
    if image is None:
        raise DataError(f"{row_where(file, row, 'image')}: image is missing (null)")
    idx = data.get("idx", row)
    raw = {key: data.get(key) for key in RAW_KEYS if key in data}
    raw.setdefault("type", "2D" if task in ("Count", "Relation") else "3D")
    return Record(
        id=f"cvbench-{idx}",
        images=[image],
        question=str(data.get("question") or ""),
        choices=choices,
        answer=answer,
        prompt=prompt,
        task=task,
        source="cvbench",
        answer_letter=letter,
        subtask=data.get("source"),
        raw=raw,
        image_root=table.base_dir,
        origin=row_where(file, row),
    )
