"""`analyze_run`: every number the report shows, as one JSON-serialisable dict (also written as report.json)."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from visualthinker.analysis.aha import AhaConfig, detect_aha
from visualthinker.analysis.correlation import correlation_entry
from visualthinker.analysis.reflection import REOPEN_THINK, Lexicon, find_markers
from visualthinker.analysis.runs import (
    Completion,
    check_run_dir,
    load_config,
    load_metrics,
    read_step,
    trajectory_files,
)

SCHEMA_VERSION = 1
_EVAL_KEY = re.compile(r"^eval/(?P<bench>.+)/(?P<what>accuracy|response_length)$")
_REWARD_KEY = re.compile(r"^rewards/(?P<name>.+)/mean$")
# share of logged steps at each end of the run compared in the early/late length histograms
HISTOGRAM_FRACTION = 0.2
HISTOGRAM_BINS = 30
FIRST_REFLECTIVE = 5


def _clean(value: Any) -> Any:
    """JSON has no NaN/inf and no numpy scalars."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _mean(values: Sequence[float]) -> float | None:
    return float(np.mean(values)) if len(values) else None


def _length_stats(lengths: Sequence[int], prefix: str) -> dict[str, float | None]:
    if not lengths:
        return {f"{prefix}mean": None, f"{prefix}median": None, f"{prefix}p90": None}
    arr = np.asarray(lengths, dtype=float)
    return {
        f"{prefix}mean": float(arr.mean()),
        f"{prefix}median": float(np.median(arr)),
        f"{prefix}p90": float(np.percentile(arr, 90)),
    }


def _step_stats(step: int, completions: list[Completion], lexicon: Lexicon) -> tuple[dict[str, Any], list[set[str]]]:
    lengths = [c.completion_tokens for c in completions]
    finished = [c.completion_tokens for c in completions if c.finished]
    markers = [{m.marker for m in find_markers(c.completion, lexicon)} for c in completions]
    reflective = [bool(m) for m in markers]
    n = len(completions)
    rate = sum(reflective) / n if n else None
    correct = [(c.correct, r) for c, r in zip(completions, reflective, strict=True) if c.correct is not None]
    row: dict[str, Any] = {
        "step": step,
        "n": n,
        "n_finished": len(finished),
        "finished_rate": len(finished) / n if n else None,
        **_length_stats(lengths, "length_"),
        **_length_stats(finished, "finished_length_"),
        "reflective": sum(reflective),
        "reflection_rate": rate,
        # binomial standard error of a share: how far the step's rate could move by sampling alone
        "reflection_stderr": math.sqrt(rate * (1 - rate) / n) if n else None,
        "reopened_think_rate": sum(REOPEN_THINK in m for m in markers) / n if n else None,
        "reward_mean": _mean([c.reward for c in completions]),
        "accuracy": _mean([float(ok) for ok, _ in correct]),
        "accuracy_reflective": _mean([float(ok) for ok, r in correct if r]),
        "accuracy_nonreflective": _mean([float(ok) for ok, r in correct if not r]),
    }
    for name in sorted({k for c in completions for k in c.rewards}):
        row[f"rewards/{name}"] = _mean([c.rewards[name] for c in completions if name in c.rewards])
    return row, markers


def _columns(rows: list[dict[str, Any]]) -> dict[str, list[Any]]:
    keys = list(dict.fromkeys(k for row in rows for k in row))
    return {k: [row.get(k) for row in rows] for k in keys}


def _metrics_columns(metrics: pd.DataFrame) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {"step": [int(s) for s in metrics.index]}
    for column in metrics.columns:
        out[str(column)] = [None if pd.isna(v) else float(v) for v in metrics[column]]
    return out


def _eval_series(metrics: pd.DataFrame) -> dict[str, dict[str, list[Any]]]:
    benches: dict[str, dict[str, str]] = {}
    for column in metrics.columns:
        match = _EVAL_KEY.match(str(column))
        if match:
            benches.setdefault(match["bench"], {})[match["what"]] = str(column)
    out = {}
    for bench, keys in sorted(benches.items()):
        frame = metrics[list(keys.values())].dropna(how="all")
        out[bench] = {
            "step": [int(s) for s in frame.index],
            "accuracy": [None if pd.isna(v) else float(v) for v in frame.get(keys.get("accuracy", ""), [None] * len(frame))],
            "response_length": [
                None if pd.isna(v) else float(v) for v in frame.get(keys.get("response_length", ""), [None] * len(frame))
            ],
        }
    return out


def length_series(analysis: dict[str, Any]) -> tuple[list[int], list[float | None], str]:
    """Mean rollout length per step: from trajectories when logged (the paper's Figure 1 source), else from the
    trainer's `completion_length/mean`."""
    per_step = analysis.get("per_step") or {}
    if per_step.get("step"):
        return per_step["step"], per_step["length_mean"], "trajectories"
    metrics = analysis.get("metrics") or {}
    if "completion_length/mean" in metrics:
        return metrics["step"], metrics["completion_length/mean"], "metrics"
    return [], [], "none"


def accuracy_series(analysis: dict[str, Any]) -> tuple[list[int], list[float | None], str]:
    """Training accuracy per step: the accuracy reward's mean from metrics, else from trajectories."""
    metrics = analysis.get("metrics") or {}
    if "rewards/accuracy/mean" in metrics:
        return metrics["step"], metrics["rewards/accuracy/mean"], "metrics"
    per_step = analysis.get("per_step") or {}
    if per_step.get("step") and any(v is not None for v in per_step.get("accuracy", [])):
        return per_step["step"], per_step["accuracy"], "trajectories"
    return [], [], "none"


def _value_at_or_before(steps: list[int], values: list[Any], step: int) -> Any:
    """Value at the last logged step <= `step`: eval and trajectory logging need not fall on the same steps."""
    best = None
    for s, v in zip(steps, values, strict=True):
        if s > step:
            break
        if v is not None:
            best = v
    return best


def _correlations(analysis: dict[str, Any], overall: dict[str, Any]) -> dict[str, Any]:
    len_steps, len_values, _ = length_series(analysis)
    acc_steps, acc_values, _ = accuracy_series(analysis)
    acc_by_step = dict(zip(acc_steps, acc_values, strict=True))
    per_step = analysis["per_step"]
    out: dict[str, Any] = {
        "length_vs_train_accuracy": correlation_entry(len_values, [acc_by_step.get(s) for s in len_steps]),
        "reflection_vs_train_accuracy": correlation_entry(
            per_step.get("reflection_rate", []), [acc_by_step.get(s) for s in per_step.get("step", [])]
        ),
        "reflective_vs_nonreflective": overall,
        "length_vs_eval_accuracy": {},
    }
    for bench, series in analysis["eval"].items():
        rollout = [_value_at_or_before(len_steps, len_values, s) for s in series["step"]]
        out["length_vs_eval_accuracy"][bench] = {
            "rollout_length": correlation_entry(rollout, series["accuracy"]),
            "eval_response_length": correlation_entry(series["response_length"], series["accuracy"]),
        }
    return out


def _histograms(early: list[int], late: list[int], early_steps: list[int], late_steps: list[int]) -> dict[str, Any]:
    if not early and not late:
        return {}
    both = np.asarray(early + late, dtype=float)
    edges = np.histogram_bin_edges(both, bins=HISTOGRAM_BINS) if both.max() > both.min() else [both.min() - 0.5, both.min() + 0.5]
    return {
        "bins": [float(e) for e in edges],
        "early": {
            "steps": [early_steps[0], early_steps[-1]] if early_steps else [],
            "n": len(early),
            "counts": [int(c) for c in np.histogram(early, bins=edges)[0]],
        },
        "late": {
            "steps": [late_steps[0], late_steps[-1]] if late_steps else [],
            "n": len(late),
            "counts": [int(c) for c in np.histogram(late, bins=edges)[0]],
        },
    }


def _completion_record(c: Completion, markers: set[str]) -> dict[str, Any]:
    return {
        "step": c.step,
        "prompt_id": c.prompt_id,
        "group_index": c.group_index,
        "sample_index": c.sample_index,
        "prompt": c.prompt,
        "completion": c.completion,
        "rewards": c.rewards,
        "reward": c.reward,
        "advantage": c.advantage,
        "correct": c.correct,
        "completion_tokens": c.completion_tokens,
        "finished": c.finished,
        "image": c.image,
        "markers": sorted(markers),
    }


def _last(values: list[Any]) -> Any:
    return next((v for v in reversed(values) if v is not None), None)


def analyze_run(
    run_dir: str | Path,
    *,
    lexicon: Lexicon | None = None,
    aha: AhaConfig | None = None,
    first_reflective: int = FIRST_REFLECTIVE,
) -> dict[str, Any]:
    """Read a run directory and compute the report's numbers (see docs/report.md for each key's meaning)."""
    path = check_run_dir(run_dir)
    lex = lexicon or Lexicon()
    aha_cfg = aha or AhaConfig()
    metrics = load_metrics(path)

    files = trajectory_files(path)
    n_edge = max(1, math.ceil(len(files) * HISTOGRAM_FRACTION)) if files else 0
    early_steps = [s for s, _ in files[:n_edge]]
    late_steps = [s for s, _ in files[-n_edge:]] if len(files) > n_edge else []
    early_len: list[int] = []
    late_len: list[int] = []
    rows: list[dict[str, Any]] = []
    marker_counts = dict.fromkeys(lex.markers, 0)
    pooled = {True: [0, 0], False: [0, 0]}  # reflective? -> [correct, known]
    first: list[dict[str, Any]] = []
    total = 0
    for step, file in files:
        completions = read_step(file, step)
        row, markers = _step_stats(step, completions, lex)
        rows.append(row)
        total += len(completions)
        if step in early_steps:
            early_len += [c.completion_tokens for c in completions]
        if step in late_steps:
            late_len += [c.completion_tokens for c in completions]
        for c, found in zip(completions, markers, strict=True):
            for marker in found:
                marker_counts[marker] += 1
            if c.correct is not None:
                pooled[bool(found)][0] += int(c.correct)
                pooled[bool(found)][1] += 1
            if found and len(first) < first_reflective:
                first.append(_completion_record(c, found))

    reward_names = sorted(
        {m["name"] for m in (_REWARD_KEY.match(str(c)) for c in metrics.columns) if m}
        | {k.removeprefix("rewards/") for row in rows for k in row if k.startswith("rewards/")}
    )
    analysis: dict[str, Any] = {
        "schema": SCHEMA_VERSION,
        "run_dir": str(path),
        "config": load_config(path),
        "lexicon": list(lex.markers),
        "reward_names": reward_names,
        "metrics": _metrics_columns(metrics),
        "eval": _eval_series(metrics),
        "per_step": _columns(rows),
    }
    per_step = analysis["per_step"]
    # a step file with no lines has no rate; it must not count as a zero-rate step in the baseline
    rated = [(s, r) for s, r in zip(per_step.get("step", []), per_step.get("reflection_rate", []), strict=True)
             if r is not None]
    analysis["aha"] = detect_aha([s for s, _ in rated], [r for _, r in rated], aha_cfg)

    def share(flag: bool) -> float | None:
        return pooled[flag][0] / pooled[flag][1] if pooled[flag][1] else None

    overall = {
        "accuracy_reflective": share(True),
        "n_reflective": pooled[True][1],
        "accuracy_nonreflective": share(False),
        "n_nonreflective": pooled[False][1],
        "difference": (share(True) - share(False)) if share(True) is not None and share(False) is not None else None,
    }
    analysis["correlation"] = _correlations(analysis, overall)
    analysis["markers"] = {
        m: {"completions": n, "share": n / total if total else None} for m, n in marker_counts.items()
    }
    analysis["histograms"] = _histograms(early_len, late_len, early_steps, late_steps)
    analysis["first_reflective"] = first

    len_steps, len_values, len_source = length_series(analysis)
    acc_steps, acc_values, acc_source = accuracy_series(analysis)
    m = analysis["metrics"]
    all_steps = sorted(set(m["step"]) | set(per_step.get("step", [])))
    reflective_total = sum(per_step.get("reflective", []))
    analysis["summary"] = {
        "first_step": all_steps[0] if all_steps else None,
        "last_step": all_steps[-1] if all_steps else None,
        "metric_steps": len(m["step"]),
        "trajectory_steps": len(files),
        "completions": total,
        "reflection_rate_overall": reflective_total / total if total else None,
        "aha_step": analysis["aha"]["step"],
        "length_source": len_source,
        "accuracy_source": acc_source,
        "final": {
            "reward": _last(m.get("reward", [])),
            "kl": _last(m.get("kl", [])),
            "train_accuracy": _last(acc_values),
            "length_mean": _last(len_values),
            "reflection_rate": _last(per_step.get("reflection_rate", [])),
            **{f"eval/{b}/accuracy": _last(s["accuracy"]) for b, s in analysis["eval"].items()},
        },
    }
    return _clean(analysis)
