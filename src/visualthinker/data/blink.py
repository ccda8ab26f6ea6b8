"""BLINK (`BLINK-Benchmark/BLINK`), split `val` of any subtask config (default: VisualThinker's two).

Files: `<root>/<Subtask>/<split>-00000-of-00001.parquet` (the hub layout), or the hub id. Rows with several
images keep all of them in `Record.images` (`multi_image="keep"`), or are a counted skip ("skip") or an error
("error"). Test-split answers are "hidden" upstream, so asking for them is an error rather than a 0% score.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from visualthinker.data.cvbench import checked_choices, lettered_answer
from visualthinker.data.formats import Table, open_hub, open_table
from visualthinker.data.problems import ProblemLog, RecordList, require_columns, row_where
from visualthinker.data.record import Record
from visualthinker.errors import DataError

HUB_ID = "BLINK-Benchmark/BLINK"
DEFAULT_SUBTASKS = ("Relative_Depth", "Spatial_Relation")
IMAGE_COLUMNS = ("image_1", "image_2", "image_3", "image_4")
COLUMNS = ("idx", "image_1", "choices", "answer", "prompt")
MULTI_IMAGE = ("keep", "skip", "error")


def blink_table(source: str | Path, subtask: str, split: str, revision: str | None = None) -> Table:
    path = Path(source)
    if path.is_dir():
        files = sorted((path / subtask).glob(f"{split}-*.parquet"))
        if not files:
            raise DataError(
                f"{path}: no {subtask}/{split}-*.parquet; expected the hub layout <Subtask>/<split>-....parquet"
            )
        if len(files) > 1:
            raise DataError(
                f"{path / subtask}: several {split} shards {[f.name for f in files]}; merge them into one"
            )
        return open_table(files[0])
    if path.exists():
        return open_table(path)
    return open_hub(str(source), name=subtask, split=split, revision=revision)


def load_blink(
    source: str | Path = HUB_ID,
    *,
    split: str = "val",
    subtasks: Sequence[str] | str = DEFAULT_SUBTASKS,
    multi_image: str = "keep",
    limit: int | None = None,
    revision: str | None = None,
    log: ProblemLog | None = None,
) -> RecordList:
    """`source` may also be one subtask's parquet file; its subtask then comes from the `sub_task` column."""
    if multi_image not in MULTI_IMAGE:
        raise DataError(f"BLINK: multi_image must be one of {MULTI_IMAGE}, got {multi_image!r}")
    if isinstance(subtasks, str):
        subtasks = [s.strip() for s in subtasks.split(",") if s.strip()]
    log = log or ProblemLog()
    single_file = Path(source).is_file()
    tables = (
        [(None, open_table(source))]
        if single_file
        else [(s, blink_table(source, s, split, revision)) for s in subtasks]
    )
    out = RecordList(origin=" + ".join(t.name for _, t in tables))
    for subtask, table in tables:
        require_columns(
            table.name, table.columns, COLUMNS, "expected BLINK columns (idx, image_1, prompt, ...)"
        )
        for row, data in table.rows():
            if limit is not None and len(out) >= limit:
                break
            if data.get("answer") == "hidden":
                raise DataError(
                    f"{row_where(table.name, row, 'answer')}: BLINK {split!r} answers are hidden (scored only on "
                    "the EvalAI server); use split='val'"
                )
            images = [data[c] for c in IMAGE_COLUMNS if data.get(c) is not None]
            if len(images) > 1 and multi_image != "keep":
                if multi_image == "skip":
                    out.skip("multi-image rows")
                    continue
                log.report(
                    f"{row_where(table.name, row, 'image_2')}: a {len(images)}-image row; pass multi_image='keep' "
                    "or 'skip'"
                )
                continue
            try:
                out.append(_row_record(table, row, data, images, subtask or data.get("sub_task") or "BLINK"))
            except DataError as exc:
                log.report(str(exc))
    out.problems = log.problems
    return out


def _row_record(table: Table, row: int, data: dict, images: list, subtask: str) -> Record:
    file = table.name
    if data.get("image_1") is None:
        raise DataError(f"{row_where(file, row, 'image_1')}: image is missing (null)")
    choices = checked_choices(file, row, data.get("choices"))
    letter, answer = lettered_answer(file, row, data.get("answer"), choices)
    prompt = data.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise DataError(f"{row_where(file, row, 'prompt')}: empty or missing prompt")
    return Record(
        id=str(data["idx"]),
        images=images,
        question=str(data.get("question") or ""),
        choices=choices,
        answer=answer,
        prompt=prompt,
        task=subtask,
        source="blink",
        answer_letter=letter,
        subtask=subtask,
        raw={"idx": data["idx"], "sub_task": data.get("sub_task"), "answer": data.get("answer")},
        image_root=table.base_dir,
        origin=row_where(file, row),
    )
