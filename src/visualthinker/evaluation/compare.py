"""Side-by-side table of results files in the layout of the paper's Table 3.

CV-Bench Count / Relation / Depth / Distance / Total (pooled, the paper's) | BLINK Relative Depth / Spatial
Relation / Average (pooled over both subsets, as the paper) | VSR. Accuracies in percent with two decimals;
"-" where a results file lacks the benchmark or task.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

COLUMNS: list[tuple[str, str, str | None]] = [
    # (header, bench, task or None for the benchmark's pooled accuracy)
    ("CV-Bench Count", "cvbench", "Count"),
    ("CV-Bench Relation", "cvbench", "Relation"),
    ("CV-Bench Depth", "cvbench", "Depth"),
    ("CV-Bench Distance", "cvbench", "Distance"),
    ("CV-Bench Total", "cvbench", None),
    ("BLINK Relative Depth", "blink", "Relative_Depth"),
    ("BLINK Spatial Relation", "blink", "Spatial_Relation"),
    ("BLINK Average", "blink", None),
    ("VSR", "vsr", None),
]
OFFICIAL_COLUMN = ("CV-Bench official", "cvbench", "official")


def _norm(name: str) -> str:
    return name.lower().replace(" ", "_").replace("-", "_")


def _cell(summary: dict[str, Any], bench: str, task: str | None, scoring: str) -> float | None:
    block = summary.get("benches", {}).get(bench, {}).get(scoring)
    if not block:
        return None
    if task is None:
        return block.get("accuracy")
    if task == "official":
        return block.get("official")
    groups = {**block.get("by_task", {}), **block.get("by_subset", {})}
    for name, group in groups.items():
        if _norm(name) == _norm(task):
            return group.get("accuracy")
    return None


def table_rows(results: Sequence[dict[str, Any]], labels: Sequence[str], scoring: str | None = None,
               official: bool = False) -> tuple[list[str], list[list[str]]]:
    columns = COLUMNS + ([OFFICIAL_COLUMN] if official else [])
    header = ["Model"] + [c[0] for c in columns]
    rows = []
    for data, label in zip(results, labels, strict=True):
        summary = data["summary"]
        which = scoring or summary.get("scoring", "strict")
        cells = [_cell(summary, bench, task, which) for _, bench, task in columns]
        rows.append([label] + ["-" if v is None else f"{100 * v:.2f}" for v in cells])
    return header, rows


def default_label(path: str | Path, data: dict[str, Any]) -> str:
    config = data.get("config", {})
    model = config.get("model") or config.get("predictions")
    return Path(model).name if model else Path(path).stem


def render_markdown(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def render_csv(header: list[str], rows: list[list[str]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue().rstrip("\n")
