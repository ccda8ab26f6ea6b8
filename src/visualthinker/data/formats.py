"""Generic row readers: parquet, jsonl/json, `save_to_disk` folders and hub ids, all yielding plain dicts.

Rows are read through Arrow without decoding images, so an image column arrives as whatever is stored:
raw `bytes` (pandas-written `binary`/`list<binary>`), `{"bytes", "path"}` dicts (datasets-written
`struct<bytes,path>`), or a path string (jsonl). Images are decoded later, one record at a time.
Row numbers in messages are 0-based positions in the file, the same index VisualThinker's SAT script used.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from visualthinker.errors import DataError
from visualthinker.jsonl import iter_objects
from visualthinker.textfiles import read_text

BATCH_ROWS = 256


@dataclass
class Table:
    """A readable set of rows with known columns; `name` is what error messages call it."""

    name: str
    columns: list[str]
    _rows: Callable[[], Iterator[dict[str, Any]]]
    base_dir: Path | None = None

    def rows(self) -> Iterator[tuple[int, dict[str, Any]]]:
        return enumerate(self._rows())


def open_table(path: str | Path, split: str | None = None) -> Table:
    """A local parquet / jsonl / json file or a `save_to_disk` folder."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file or folder")
    if path.is_dir():
        if (path / "dataset_dict.json").exists() or (path / "state.json").exists():
            return _open_saved(path, split)
        raise DataError(
            f"{path}: a folder, but not a `save_to_disk` dataset (no state.json/dataset_dict.json)"
        )
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return _open_parquet(path)
    if suffix == ".jsonl":
        return _open_jsonl(path)
    if suffix == ".json":
        return _open_json(path)
    raise DataError(
        f"{path}: unsupported file type {suffix!r}; use .parquet, .jsonl, .json or a save_to_disk folder"
    )


def _open_parquet(path: Path) -> Table:
    import pyarrow.parquet as pq

    try:
        handle = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises several unrelated types for unreadable files
        raise DataError(f"{path}: cannot read as parquet ({exc})") from exc

    def rows() -> Iterator[dict[str, Any]]:
        for batch in handle.iter_batches(batch_size=BATCH_ROWS):
            yield from batch.to_pylist()

    return Table(path.name, list(handle.schema_arrow.names), rows, path.parent)


def _open_jsonl(path: Path) -> Table:
    def rows() -> Iterator[dict[str, Any]]:
        for _, row in iter_objects(path, DataError, label=path.name):
            yield row

    first = next(rows(), None)
    return Table(path.name, list(first) if first else [], rows, path.parent)


def _open_json(path: Path) -> Table:
    try:
        data = json.loads(read_text(path, DataError))
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: invalid JSON ({exc})") from exc
    if isinstance(data, dict) and isinstance(data.get("data"), list):
        data = data["data"]
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise DataError(f"{path}: expected a JSON list of objects (or {{'data': [...]}})")
    return Table(path.name, list(data[0]) if data else [], lambda: iter(data), path.parent)


def _open_saved(path: Path, split: str | None) -> Table:
    import datasets

    loaded = datasets.load_from_disk(str(path))
    if isinstance(loaded, datasets.DatasetDict):
        if split is None and len(loaded) == 1:
            split = next(iter(loaded))
        if split not in loaded:
            raise DataError(f"{path}: no split {split!r}; available: {sorted(loaded)}")
        loaded = loaded[split]
    return _arrow_table(loaded, f"{path.name}" + (f"[{split}]" if split else ""), path)


def open_hub(
    repo: str,
    *,
    name: str | None = None,
    split: str,
    data_files: Any = None,
    streaming: bool = False,
    **load_options: Any,
) -> Table:
    """A hub dataset through `datasets.load_dataset` (honours HF_DATASETS_OFFLINE=1 and the local cache).

    `load_options` go to `load_dataset` as they are (e.g. `revision=`, `cache_dir=`).
    """
    import datasets

    try:
        loaded = datasets.load_dataset(
            repo, name, split=split, data_files=data_files, streaming=streaming, **load_options
        )
    except Exception as exc:  # network, cache and config errors all mean "cannot get this dataset"
        raise DataError(
            f"{repo}"
            + (f" ({name})" if name else "")
            + f" split {split!r}: cannot load ({type(exc).__name__}: {exc}). "
            "Offline, download it once with network access or pass a local path"
        ) from exc
    label = f"{repo}" + (f"/{name}" if name else "") + f"[{split}]"
    if streaming:
        # Streaming decodes images to PIL; the image decoder accepts those too.
        return Table(label, list(loaded.features or {}), lambda: iter(loaded))
    return _arrow_table(loaded, label, None)


def _arrow_table(dataset: Any, label: str, base_dir: Path | None) -> Table:
    arrow = dataset.with_format("arrow")

    def rows() -> Iterator[dict[str, Any]]:
        for batch in arrow.iter(batch_size=BATCH_ROWS):
            yield from batch.to_pylist()

    return Table(label, list(dataset.column_names), rows, base_dir)


def as_list(value: Any) -> list[Any] | None:
    """A list column that may arrive as a list, a tuple, a numpy array or a JSON string ("[...]")."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            return None
        return parsed if isinstance(parsed, list) else None
    if isinstance(value, (list, tuple)):
        return list(value)
    tolist = getattr(value, "tolist", None)
    return tolist() if callable(tolist) else None
