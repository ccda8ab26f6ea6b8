"""The project's own on-disk format, written by `data synth` / `data prepare` and read by `load_records`.

DIR/
  records.jsonl   one Record per line: id, images (paths relative to DIR), question, choices, answer,
                  prompt, task, source, answer_letter, subtask, raw
  images/         000000_0.png, 000001_0.jpg, ...  (encoded bytes copied as they were; PIL images as PNG)
  meta.json       {"format": "visualthinker-records", "version": 1, "count": N, ...how it was made}
"""

from __future__ import annotations

import io
import json
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from PIL import Image

from visualthinker.data.images import decode_image
from visualthinker.data.problems import ProblemLog, RecordList, require_columns, row_where
from visualthinker.data.record import LETTERS, Record
from visualthinker.errors import DataError
from visualthinker.textfiles import iter_lines, read_text

FORMAT = "visualthinker-records"
VERSION = 1
RECORDS_FILE = "records.jsonl"
META_FILE = "meta.json"
IMAGES_DIR = "images"
FIELDS = ("id", "images", "question", "choices", "answer", "prompt", "task", "source")
EXTENSIONS = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp", "GIF": ".gif", "BMP": ".bmp"}


def is_record_dir(path: Path) -> bool:
    return path.is_dir() and (path / RECORDS_FILE).exists()


def _write_image(value: Any, where: str, base_dir: Path | None, target_stem: Path) -> Path:
    """Keep encoded bytes as they are (no re-encoding loss); check they decode first."""
    image = decode_image(value, where, base_dir)  # raises a located DataError for corrupt images
    data: bytes | None = None
    if isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value)
    elif isinstance(value, dict) and value.get("bytes"):
        data = value["bytes"]
    if data is not None:
        fmt = Image.open(io.BytesIO(data)).format or ""
        if fmt in EXTENSIONS:
            target = target_stem.with_suffix(EXTENSIONS[fmt])
            target.write_bytes(data)
            return target
    elif isinstance(value, (str, Path)):
        source = Path(value) if Path(value).is_absolute() or base_dir is None else base_dir / value
        if source.suffix.lower() in {".jpg", ".jpeg", ".png", ".webp"}:
            target = target_stem.with_suffix(source.suffix.lower())
            shutil.copyfile(source, target)
            return target
    target = target_stem.with_suffix(".png")
    image.save(target, format="PNG")
    return target


def write_records(
    records: Iterable[Record],
    out_dir: str | Path,
    meta: dict[str, Any] | None = None,
    overwrite: bool = False,
) -> Path:
    """Write records (and their images) to `out_dir`; returns the records.jsonl path."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise DataError(f"{out} is a file, not a folder; give a folder for records.jsonl and images/")
    if (out / RECORDS_FILE).is_dir():
        raise DataError(f"{out / RECORDS_FILE} is a directory; move it away or choose another folder")
    if (out / RECORDS_FILE).exists() and not overwrite:
        raise DataError(f"{out}: already holds {RECORDS_FILE}; choose another folder or pass overwrite")
    if overwrite and (out / RECORDS_FILE).exists() and (out / IMAGES_DIR).exists():  # only a folder we wrote
        shutil.rmtree(out / IMAGES_DIR)
    (out / IMAGES_DIR).mkdir(parents=True, exist_ok=True)
    count = 0
    tmp = out / (RECORDS_FILE + ".tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        for n, record in enumerate(records):
            where = record.origin or f"{record.source} record {record.id!r}"
            paths = []
            for k, value in enumerate(record.images):
                target = _write_image(
                    value, f"{where}, image {k}", record.image_root, out / IMAGES_DIR / f"{n:06d}_{k}"
                )
                paths.append(target.relative_to(out).as_posix())
            line = {
                "id": record.id,
                "images": paths,
                "question": record.question,
                "choices": record.choices,
                "answer": record.answer,
                "prompt": record.prompt,
                "task": record.task,
                "source": record.source,
                "answer_letter": record.answer_letter,
                "subtask": record.subtask,
                "raw": record.raw,
            }
            handle.write(json.dumps(line, ensure_ascii=False, default=str) + "\n")
            count += 1
    tmp.replace(out / RECORDS_FILE)  # a crash mid-way never leaves a truncated records.jsonl behind
    info = {"format": FORMAT, "version": VERSION, "count": count, **(meta or {})}
    (out / META_FILE).write_text(json.dumps(info, indent=2, default=str) + "\n", encoding="utf-8")
    return out / RECORDS_FILE


def read_meta(path: str | Path) -> dict[str, Any]:
    meta = Path(path) / META_FILE
    if not meta.exists():
        return {}
    try:
        return json.loads(read_text(meta, DataError))
    except json.JSONDecodeError as exc:
        raise DataError(f"{meta}: invalid JSON ({exc}); re-write the folder with `visualthinker data`") from exc


def read_records(path: str | Path, *, limit: int | None = None, log: ProblemLog | None = None) -> RecordList:
    root = Path(path)
    file = root / RECORDS_FILE
    if not file.exists():
        raise DataError(
            f"{root}: no {RECORDS_FILE}; not a folder written by `visualthinker data synth/prepare`"
        )
    log = log or ProblemLog()
    out = RecordList(origin=str(file))
    # A line that is not UTF-8 stops the read in both modes: what follows it cannot be trusted to line up.
    for line_no, line in iter_lines(file, DataError, str(file)):
        row = line_no - 1
        if limit is not None and len(out) >= limit:
            break
        try:
            data = json.loads(line)
            if not isinstance(data, dict):
                raise DataError(f"{row_where(RECORDS_FILE, row)}: expected a JSON object")
            out.append(record_from_dict(data, RECORDS_FILE, row, root))
        except json.JSONDecodeError as exc:
            log.report(f"{row_where(RECORDS_FILE, row)}: invalid JSON ({exc})")
        except DataError as exc:
            log.report(str(exc))
    out.problems = log.problems
    return out


def record_from_dict(data: dict[str, Any], file: str, row: int, root: Path | None) -> Record:
    require_columns(row_where(file, row), data, FIELDS)
    choices = data["choices"]
    if not isinstance(choices, list) or not choices or not all(isinstance(c, str) and c for c in choices):
        raise DataError(
            f"{row_where(file, row, 'choices')}: expected a non-empty list of strings, got {choices!r}"
        )
    if data["answer"] not in choices:
        raise DataError(
            f"{row_where(file, row, 'answer')}: {data['answer']!r} is not among the choices {choices!r}"
        )
    letter = data.get("answer_letter")
    if letter is not None and (
        letter not in LETTERS[: len(choices)] or choices[LETTERS.index(letter)] != data["answer"]
    ):
        raise DataError(
            f"{row_where(file, row, 'answer_letter')}: {letter!r} does not point at the answer {data['answer']!r}"
        )
    for key in ("question", "prompt", "task", "source"):
        if not isinstance(data[key], str):
            raise DataError(f"{row_where(file, row, key)}: expected a string, got {data[key]!r}")
    images = data["images"]
    if not isinstance(images, list) or not images:
        raise DataError(f"{row_where(file, row, 'images')}: expected a non-empty list of image paths")
    return Record(
        id=str(data["id"]),
        images=images,
        question=data["question"],
        choices=choices,
        answer=data["answer"],
        prompt=data["prompt"],
        task=data["task"],
        source=data["source"],
        answer_letter=letter,
        subtask=data.get("subtask"),
        raw=data.get("raw") or {},
        image_root=root,
        origin=row_where(file, row),
    )
