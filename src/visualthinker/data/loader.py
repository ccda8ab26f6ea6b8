"""`load_records`: the one entry point the trainer and the evaluation use to get records from anywhere."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

from visualthinker.data import blink, cvbench, sat, store, synthetic, vsr
from visualthinker.data.formats import open_table
from visualthinker.data.problems import ProblemLog, RecordList, check_unique_ids
from visualthinker.errors import ConfigError, DataError

NAMES = ("synthetic", "sat", "cvbench", "blink", "vsr")
FORMATS = ("records", "sat", "cvbench", "blink", "vsr")
HUB_IDS = {
    "sat": sat.HUB_ID,
    "cvbench": cvbench.HUB_ID,
    "blink": blink.HUB_ID,
    "vsr": vsr.HUB_IDS["random"],
}
KNOWN_REPOS = {repo.lower(): kind for kind, repo in HUB_IDS.items()} | {
    vsr.HUB_IDS["zeroshot"].lower(): "vsr"
}
DEFAULT_SPLITS = {"sat": "train", "cvbench": "test", "blink": "val", "vsr": "test", "synthetic": "train"}
DEFAULT_SYNTHETIC_N = 1000


def sniff_columns(columns: list[str] | set[str]) -> str | None:
    """Which dataset a table's columns belong to."""
    cols = set(columns)
    if {"image_bytes", "correct_answer"} <= cols:
        return "sat"
    if "image_1" in cols:
        return "blink"
    if {"caption", "label"} <= cols:
        return "vsr"
    if set(store.FIELDS) <= cols:
        return "records"
    if {"image", "choices", "answer", "prompt"} <= cols:
        return "cvbench"
    return None


def sniff_path(path: Path) -> str:
    if store.is_record_dir(path):
        return "records"
    if path.is_dir():
        if any(path.glob("SAT_*.parquet")):
            return "sat"
        if any(path.glob("*/val-*.parquet")) or any(path.glob("*/test-*.parquet")):
            return "blink"
        candidates = sorted(path.glob("*.parquet")) + sorted(path.glob("*.jsonl"))
        probe = candidates[0] if candidates else path  # otherwise perhaps a save_to_disk folder
    else:
        probe = path
    columns = open_table(probe).columns
    kind = sniff_columns(columns)
    if kind is None:
        raise DataError(
            f"{path}: cannot tell which dataset this is from its columns {sorted(columns)}; "
            f"pass format= one of {FORMATS}"
        )
    return kind


def _resolve(name_or_path: str | Path, fmt: str | None) -> tuple[str, str | Path]:
    """(kind, source) where source is a path or a hub id."""
    if fmt is not None and fmt not in FORMATS:
        raise ConfigError(f"data format {fmt!r} is unknown; choose one of {FORMATS}")
    text = str(name_or_path)
    if text == "synthetic":
        return "synthetic", text
    path = Path(text).expanduser()
    if path.exists():
        return fmt or sniff_path(path), path
    if text in HUB_IDS:
        return text, HUB_IDS[text]
    if fmt is not None and fmt != "records":
        return fmt, text  # any hub id with a known schema
    if text.lower() in KNOWN_REPOS:
        return KNOWN_REPOS[text.lower()], text
    raise DataError(
        f"{text!r} is neither a known dataset ({', '.join(NAMES)}) nor an existing path; "
        "for another hub id pass format=<sat|cvbench|blink|vsr>"
    )


def _call(kind: str, fn: Callable[..., RecordList], *args: Any, **kwargs: Any) -> RecordList:
    accepted = inspect.signature(fn).parameters
    unknown = [k for k in kwargs if k not in accepted]
    if unknown:
        options = sorted(k for k in accepted if k not in ("source", "log", "n", "seed", "split", "limit"))
        raise ConfigError(f"{kind}: unknown option(s) {unknown}; this dataset accepts {options}")
    return fn(*args, **kwargs)


def load_records(
    name_or_path: str | Path,
    *,
    split: str | None = None,
    limit: int | None = None,
    seed: int = 0,
    **options: Any,
) -> RecordList:
    """Records from "synthetic", "sat", "cvbench", "blink", "vsr" (hub ids) or a local path.

    A path's format is sniffed (a `data synth`/`data prepare` folder, a SAT/CV-Bench/BLINK/VSR file or
    folder) unless `format=` says. `on_error="collect"` gathers every bad row in the result's `problems`
    instead of raising at the first; other options go to the dataset's loader (e.g. `first_n=` for SAT,
    `subtasks=` for BLINK, `image_root=` for VSR, `n=`/`difficulty=`/`tasks=` for synthetic).
    """
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise ConfigError(f"limit must be a whole number >= 0 (or None for every record), got {limit!r}")
    on_error = options.pop("on_error", "raise")
    if on_error not in ("raise", "collect"):
        raise ConfigError(f"on_error must be 'raise' or 'collect', got {on_error!r}")
    log = ProblemLog(collect=on_error == "collect")
    kind, source = _resolve(name_or_path, options.pop("format", None))
    split = split or DEFAULT_SPLITS.get(kind)
    if kind == "synthetic":
        n = options.pop("n", None)
        n = int(n) if n is not None else (limit if limit is not None else DEFAULT_SYNTHETIC_N)
        records = _call(kind, synthetic.generate_records, n, seed, split=split, **options)
        if limit is not None:
            del records[limit:]
    elif kind == "records":
        source = Path(source)
        if source.is_file():  # a bare records.jsonl: its images are relative to its folder
            source = source.parent
        records = _call(kind, store.read_records, source, limit=limit, log=log, **options)
    elif kind == "sat":
        records = _call(kind, sat.load_sat, source, split=split, seed=seed, limit=limit, log=log, **options)
    elif kind == "cvbench":
        records = _call(kind, cvbench.load_cvbench, source, split=split, limit=limit, log=log, **options)
    elif kind == "blink":
        records = _call(kind, blink.load_blink, source, split=split, limit=limit, log=log, **options)
    else:
        records = _call(kind, vsr.load_vsr, source, split=split, limit=limit, log=log, **options)
    check_unique_ids(records, log)
    records.problems = log.problems
    records.log_summary()
    return records
