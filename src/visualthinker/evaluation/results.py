"""results.json and its progress sidecars.

Layout of results.json: {"format": 1, "config": {...run settings...}, "summary": {"scoring", "benches": {bench:
metrics}, "throughput"}, "items": [one dict per item]}.

While a run is going, every process appends each finished batch to its own sidecar next to the output
(`results.partial.jsonl` for process 0, `results.partial-rank{r}.jsonl` for the others): a first line
{"_meta": config}, then one item per line, and {"_throughput": ...} when that process is done. A killed run
therefore loses at most the batch in flight, and a re-run with the same --output resumes from the sidecars.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from visualthinker.errors import DataError
from visualthinker.textfiles import read_text

RESULTS_FORMAT = 1
# Settings that change what is generated: a resumed run must match them.
GENERATION_KEYS = ("model", "predictions", "prompt", "template", "literal_image_tag", "max_new_tokens", "decoding",
                   "dtype", "max_pixels", "min_pixels")


def item_key(item: dict) -> tuple[str, str]:
    return str(item["bench"]), str(item["id"])


def partial_path(output: str | Path, rank: int = 0) -> Path:
    output = Path(output)
    suffix = ".partial.jsonl" if rank == 0 else f".partial-rank{rank}.jsonl"
    return output.with_name(output.stem + suffix)


def partial_paths(output: str | Path) -> list[Path]:
    output = Path(output)
    return sorted(output.parent.glob(output.stem + ".partial*.jsonl"))


def drop_torn_line(path: Path) -> None:
    """Cut a last line without newline (a write interrupted by a kill), so the next append starts clean."""
    if not path.exists():
        return
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        with path.open("r+b") as fh:
            fh.truncate(data.rfind(b"\n") + 1)


def append_jsonl(path: Path, rows: Iterable[dict]) -> None:
    with path.open("a", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def read_partials(output: str | Path) -> tuple[list[dict], list[dict], list[dict]]:
    """(metas, items, throughputs) from every sidecar; a truncated last line (killed mid-write) is ignored."""
    metas, items, throughputs = [], [], []
    for path in partial_paths(output):
        lines = read_text(path, DataError).splitlines()
        for n, line in enumerate(lines):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                if n == len(lines) - 1:
                    break  # the write in flight when the run was killed
                raise DataError(f"{path} line {n + 1} is not JSON ({exc}); delete the file to start over") from exc
            if "_meta" in row:
                metas.append(row["_meta"])
            elif "_throughput" in row:
                throughputs.append(row["_throughput"])
            else:
                items.append(row)
    return metas, items, throughputs


def check_resumable(output: str | Path, config: dict, previous: Iterable[dict]) -> None:
    """Refuse to mix items generated under different settings into one results file."""
    for meta in previous:
        diff = [k for k in GENERATION_KEYS if meta.get(k) != config.get(k)]
        if diff:
            details = ", ".join(f"{k}: {meta.get(k)!r} -> {config.get(k)!r}" for k in diff)
            raise DataError(f"{output} holds results of a run with other settings ({details}); "
                            "use another --output, or delete it and its .partial*.jsonl files to start over")


def write_results(path: str | Path, data: dict[str, Any]) -> None:
    """Atomic write (temp file + rename), so a reader never sees half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def read_results(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.exists():
        raise DataError(f"results file {path} does not exist; run `visualthinker eval --output {path}` first")
    try:
        data = json.loads(read_text(path, DataError, f"results file {path}"))
    except json.JSONDecodeError as exc:
        raise DataError(f"results file {path} is not valid JSON ({exc}); re-run the evaluation") from exc
    if not isinstance(data, dict) or "summary" not in data or "items" not in data:
        raise DataError(f"{path} is not a visualthinker results file (no 'summary'/'items'); "
                        "give the --output of `visualthinker eval`")
    return data
