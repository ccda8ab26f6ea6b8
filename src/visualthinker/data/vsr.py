"""VSR (`cambridgeltl/vsr_random`, `vsr_zeroshot`): true/false captions about COCO 2017 images.

The annotation files carry no pixels, only a COCO file name and a URL. Images are NEVER fetched: each is
resolved in a local folder as `<image_root>/<image>`, falling back to `<image_root>/<train2017|val2017>/<image>`
(the folder named in `image_link`). The question uses VisualThinker's exact wording (its grammar included).
"""

from __future__ import annotations

from pathlib import Path

from visualthinker.data.formats import Table, open_hub, open_table
from visualthinker.data.problems import ProblemLog, RecordList, require_columns, row_where
from visualthinker.data.record import Record
from visualthinker.errors import DataError

HUB_IDS = {"random": "cambridgeltl/vsr_random", "zeroshot": "cambridgeltl/vsr_zeroshot"}
COLUMNS = ("image", "caption", "label")
VSR_QUESTION = (
    'Please analyze the provided image. Does the statement "{caption}" accurately describes what you see? '
    "Choose from (A) True or (B) False."
)
CHOICES = ["True", "False"]
COCO_FOLDERS = ("train2017", "val2017")


def vsr_table(source: str | Path, split: str, revision: str | None = None) -> Table:
    path = Path(source)
    if path.is_dir():
        # The git repo and the hub call the dev split "dev"; plain load_dataset calls it "validation".
        names = [split] + (["dev"] if split == "validation" else ["validation"] if split == "dev" else [])
        for name in names:
            if (path / f"{name}.jsonl").exists():
                return open_table(path / f"{name}.jsonl")
        raise DataError(f"{path}: no {split}.jsonl; expected VSR split files (train/dev/test.jsonl)")
    if path.exists():
        return open_table(path)
    return open_hub(str(source), split="validation" if split == "dev" else split, revision=revision)


def resolve_image(root: Path, name: str, link: str | None) -> Path | None:
    direct = root / name
    if direct.exists():
        return direct
    folders = [f for f in COCO_FOLDERS if link and f"/{f}/" in link] or list(COCO_FOLDERS)
    for folder in folders:
        candidate = root / folder / name
        if candidate.exists():
            return candidate
    return None


def load_vsr(
    source: str | Path = HUB_IDS["random"],
    *,
    split: str = "test",
    image_root: str | Path | None = None,
    limit: int | None = None,
    revision: str | None = None,
    log: ProblemLog | None = None,
) -> RecordList:
    """`image_root` defaults to an `images/` folder next to the jsonl file."""
    log = log or ProblemLog()
    table = vsr_table(source, split, revision)
    require_columns(table.name, table.columns, COLUMNS, "expected VSR columns (image, caption, label, ...)")
    if image_root is None:
        if table.base_dir is None:
            raise DataError(
                f"{table.name}: VSR ships no images; pass image_root=<folder with the COCO 2017 images> "
                "(images are never downloaded)"
            )
        image_root = table.base_dir / "images"
    root = Path(image_root)
    if not root.is_dir():
        raise DataError(
            f"{table.name}: VSR image folder {root} does not exist; pass image_root=<COCO images folder>"
        )
    out = RecordList(origin=table.name)
    for row, data in table.rows():
        if limit is not None and len(out) >= limit:
            break
        try:
            out.append(_row_record(table.name, row, data, split, root))
        except DataError as exc:
            log.report(str(exc))
    out.problems = log.problems
    return out


def _row_record(file: str, row: int, data: dict, split: str, root: Path) -> Record:
    caption = data.get("caption")
    if not isinstance(caption, str) or not caption.strip():
        raise DataError(f"{row_where(file, row, 'caption')}: empty or missing caption")
    label = data.get("label")
    if label not in (0, 1) or isinstance(label, bool):
        raise DataError(f"{row_where(file, row, 'label')}: expected 1 (true) or 0 (false), got {label!r}")
    name = data.get("image")
    if not isinstance(name, str) or not name:
        raise DataError(f"{row_where(file, row, 'image')}: missing image file name")
    path = resolve_image(root, name, data.get("image_link"))
    if path is None:
        raise DataError(
            f"{row_where(file, row, 'image')}: {name} not found in {root} or its train2017/val2017 folders "
            "(images are never downloaded)"
        )
    question = VSR_QUESTION.format(caption=caption)
    answer = CHOICES[0] if label == 1 else CHOICES[1]
    raw = {
        k: data.get(k)
        for k in ("image", "image_link", "caption", "label", "relation", "subj", "obj")
        if k in data
    }
    return Record(
        id=f"vsr-{split}-{row}",
        images=[path],
        question=question,
        choices=list(CHOICES),
        answer=answer,
        prompt=question,
        task="vsr",
        source="vsr",
        answer_letter="A" if label == 1 else "B",
        subtask=data.get("relation"),
        raw=raw,
        origin=row_where(file, row),
    )
