"""Aggregate metrics over scored items (dicts as stored in results.json).

Every accuracy is computed for both scorings ("strict" and "paper"); 95% confidence intervals are percentile
bootstraps over items with a fixed seed, so re-running the summary gives the same bounds.

CV-Bench has two totals: the paper's pooled "Total" (micro accuracy over all rows) and the official score
0.5 * ((acc_ADE20K + acc_COCO) / 2 + acc_Omni3D), where each accuracy pools all rows of that *image source*
(not of a task). BLINK reports the micro accuracy over its subsets (as the paper) and their unweighted mean (as
the BLINK authors).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

SCORINGS = ("strict", "paper")
CORRECT_FIELD = {"strict": "correct", "paper": "correct_paper"}
CVBENCH_SOURCES = ("ADE20K", "COCO", "Omni3D")
BOOTSTRAP_SAMPLES = 1000
BOOTSTRAP_SEED = 0


def _mean(values: Sequence[float]) -> float | None:
    return float(np.mean(values)) if len(values) else None


def bootstrap_ci(
    values: Sequence[float] | np.ndarray,
    statistic: Callable[[np.ndarray], float] | None = None,
    samples: int = BOOTSTRAP_SAMPLES,
    seed: int = BOOTSTRAP_SEED,
    level: float = 0.95,
) -> tuple[float, float] | None:
    """Percentile bootstrap interval of `statistic` (default: the mean) over resampled rows of `values`."""
    data = np.asarray(values)
    if len(data) == 0:
        return None
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(data), size=(samples, len(data)))
    if statistic is None:
        stats = data[idx].mean(axis=1)
    else:
        stats = np.array([statistic(data[row]) for row in idx], dtype=float)
        stats = stats[~np.isnan(stats)]
        if len(stats) == 0:
            return None
    alpha = (1 - level) / 2
    return float(np.quantile(stats, alpha)), float(np.quantile(stats, 1 - alpha))


def accuracy_block(correct: Sequence[bool], ci: bool = True) -> dict[str, Any]:
    block: dict[str, Any] = {"n": len(correct), "accuracy": _mean([float(c) for c in correct])}
    if ci:
        bounds = bootstrap_ci([float(c) for c in correct])
        block["ci95"] = list(bounds) if bounds else None
    return block


def grouped(items: Sequence[dict], key: str, field: str) -> dict[str, dict[str, Any]]:
    groups: dict[str, list[bool]] = defaultdict(list)
    for item in items:
        value = item.get(key)
        if value is not None:
            groups[str(value)].append(bool(item[field]))
    return {name: accuracy_block(vals) for name, vals in sorted(groups.items())}


def cvbench_official(items: Sequence[dict], field: str = "correct") -> float | None:
    """0.5 * ((acc_ADE20K + acc_COCO) / 2 + acc_Omni3D), each accuracy over all rows of that image source.

    None when a source is missing (e.g. a --limit run); the formula is undefined without all three.
    """
    by_source: dict[str, list[float]] = defaultdict(list)
    for item in items:
        by_source[str(item.get("image_source"))].append(float(item[field]))
    if any(not by_source.get(s) for s in CVBENCH_SOURCES):
        return None
    acc = {s: float(np.mean(by_source[s])) for s in CVBENCH_SOURCES}
    return 0.5 * ((acc["ADE20K"] + acc["COCO"]) / 2 + acc["Omni3D"])


def _cvbench_official_ci(items: Sequence[dict], field: str) -> list[float] | None:
    codes = {s: i for i, s in enumerate(CVBENCH_SOURCES)}
    rows = np.array([[codes.get(str(it.get("image_source")), -1), float(it[field])] for it in items])
    if len(rows) == 0:
        return None

    def stat(sample: np.ndarray) -> float:
        accs = []
        for code in range(3):
            sel = sample[sample[:, 0] == code, 1]
            if len(sel) == 0:
                return float("nan")
            accs.append(sel.mean())
        return 0.5 * ((accs[0] + accs[1]) / 2 + accs[2])

    bounds = bootstrap_ci(rows, stat)
    return list(bounds) if bounds else None


def blink_subset_mean(items: Sequence[dict], field: str = "correct") -> float | None:
    """Unweighted mean of the per-subset accuracies (the BLINK authors' overall score)."""
    groups: dict[str, list[float]] = defaultdict(list)
    for item in items:
        groups[str(item.get("subtask") or item.get("task"))].append(float(item[field]))
    return float(np.mean([np.mean(v) for v in groups.values()])) if groups else None


def bench_summary(bench: str, items: Sequence[dict], headline: str = "strict") -> dict[str, Any]:
    """All metrics of one benchmark, for both scorings; `accuracy` repeats the headline scoring's."""
    lengths = [it["response_tokens"] for it in items if it.get("response_tokens") is not None]
    out: dict[str, Any] = {
        "n": len(items),
        "response_length": _mean(lengths),
        "format_failure_rate": _mean([float(it["format_failure"]) for it in items]),
        "invalid_answer_rate": _mean([float(it["invalid_answer"]) for it in items]),
        "unfinished_rate": _mean([float(not it["finished"]) for it in items if it.get("finished") is not None]),
    }
    for scoring in SCORINGS:
        field = CORRECT_FIELD[scoring]
        block = accuracy_block([bool(it[field]) for it in items])
        block["by_task"] = grouped(items, "task", field)
        if any(it.get("image_source") for it in items):
            block["by_source"] = grouped(items, "image_source", field)
        if bench == "cvbench":
            # the paper's "Total" is the pooled accuracy above; the official score weighs image sources
            block["official"] = cvbench_official(items, field)
            block["official_ci95"] = _cvbench_official_ci(items, field) if block["official"] is not None else None
        if bench == "blink":
            block["by_subset"] = grouped([{**it, "_s": it.get("subtask") or it.get("task")} for it in items], "_s", field)
            block["subset_mean"] = blink_subset_mean(items, field)
        out[scoring] = block
    out["scoring"] = headline
    out["accuracy"] = out[headline]["accuracy"]
    return out


def summarize(items: Sequence[dict], headline: str = "strict") -> dict[str, Any]:
    """Per-benchmark summaries in first-seen bench order."""
    benches: dict[str, list[dict]] = {}
    for item in items:
        benches.setdefault(item["bench"], []).append(item)
    return {bench: bench_summary(bench, rows, headline) for bench, rows in benches.items()}
