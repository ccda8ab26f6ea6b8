"""PNG plots for the report. Figures are built on matplotlib's object API with the Agg canvas, never pyplot:
no global backend switch, no GUI, and nothing leaks between plots when a report runs inside a notebook."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from visualthinker.analysis.analyze import accuracy_series, length_series

ACC_COLOR = "#1f77b4"
LEN_COLOR = "#d62728"
AHA_COLOR = "#2ca02c"
DPI = 100


def _nan(values: Sequence[Any]) -> list[float]:
    return [math.nan if v is None else float(v) for v in values]


def as_percent(values: Sequence[Any]) -> list[float]:
    """Accuracies may be logged as shares (0-1) or percentages; plot both as %."""
    vals = _nan(values)
    finite = [v for v in vals if math.isfinite(v)]
    if finite and max(finite) <= 1.0:
        return [v * 100 for v in vals]
    return vals


def _figure(width: float = 8.0, height: float = 4.2) -> Figure:
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Figure, path: Path) -> Path:
    fig.savefig(path, format="png", dpi=DPI)
    return path


def _mark_aha(ax: Axes, aha_step: int | None, label: bool = True) -> None:
    if aha_step is None:
        return
    ax.axvline(aha_step, color=AHA_COLOR, linestyle="--", linewidth=1.5, label=f"aha step {aha_step}" if label else None)


def _empty(ax: Axes, message: str) -> None:
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, color="gray")
    ax.set_xticks([])
    ax.set_yticks([])


def plot_figure1(analysis: dict[str, Any], path: Path) -> Path:
    """The paper's Figure 1: benchmark accuracy (left axis) and mean rollout length (right axis) vs step."""
    fig = _figure()
    ax = fig.add_subplot()
    lines = []
    evals = {b: s for b, s in analysis["eval"].items() if any(v is not None for v in s["accuracy"])}
    if evals:
        for bench, series in evals.items():
            lines += ax.plot(series["step"], as_percent(series["accuracy"]), marker="o", markersize=3,
                             label=f"{bench} accuracy")
        ax.set_ylabel("benchmark accuracy (%)", color=ACC_COLOR)
    else:
        steps, values, _ = accuracy_series(analysis)
        lines += ax.plot(steps, as_percent(values), color=ACC_COLOR, alpha=0.8, label="train accuracy reward")
        ax.set_ylabel("train accuracy (%)", color=ACC_COLOR)
    ax.set_xlabel("training step")
    right = ax.twinx()
    steps, values, source = length_series(analysis)
    lines += right.plot(steps, _nan(values), color=LEN_COLOR, linewidth=1.2,
                        label=f"mean response length ({'training rollouts' if source == 'trajectories' else source})")
    right.set_ylabel("mean response length (tokens)", color=LEN_COLOR)
    aha = analysis["aha"]["step"]
    if aha is not None:
        lines.append(ax.axvline(aha, color=AHA_COLOR, linestyle="--", linewidth=1.5, label=f"aha step {aha}"))
    ax.legend(handles=lines, loc="upper left", fontsize=8)
    ax.grid(alpha=0.3)
    ax.set_title("Benchmark accuracy and response length during training")
    return _save(fig, path)


def plot_rewards(analysis: dict[str, Any], path: Path) -> Path:
    fig = _figure(10, 4)
    left, right = fig.subplots(1, 2)
    m = analysis["metrics"]
    steps = m["step"]
    drawn = False
    if "reward" in m:
        left.plot(steps, _nan(m["reward"]), color="black", label="total reward")
        drawn = True
    for name in analysis["reward_names"]:
        key = f"rewards/{name}/mean"
        if key in m:
            left.plot(steps, _nan(m[key]), label=f"{name} reward")
            drawn = True
    if drawn:
        _mark_aha(left, analysis["aha"]["step"])
        left.set_xlabel("training step")
        left.set_ylabel("mean reward")
        left.legend(fontsize=8)
        left.grid(alpha=0.3)
        left.set_title("Rewards")
    else:
        _empty(left, "no reward columns in metrics.jsonl")
    if "kl" in m:
        right.plot(steps, _nan(m["kl"]), color="#9467bd")
        _mark_aha(right, analysis["aha"]["step"], label=False)
        right.set_xlabel("training step")
        right.set_ylabel("KL to reference")
        right.grid(alpha=0.3)
        right.set_title("KL divergence")
    else:
        _empty(right, "no 'kl' in metrics.jsonl")
    return _save(fig, path)


def plot_reflection(analysis: dict[str, Any], path: Path) -> Path:
    fig = _figure()
    ax = fig.add_subplot()
    per_step = analysis["per_step"]
    if not per_step.get("step"):
        _empty(ax, "no trajectories: reflection rate unavailable")
        return _save(fig, path)
    steps = per_step["step"]
    rate = _nan(per_step["reflection_rate"])
    err = _nan(per_step["reflection_stderr"])
    ax.fill_between(steps, [r - e for r, e in zip(rate, err, strict=True)], [r + e for r, e in zip(rate, err, strict=True)],
                    color="#ff7f0e", alpha=0.2, label="± 1 standard error")
    ax.plot(steps, rate, color="#ff7f0e", label="reflection rate")
    aha = analysis["aha"]
    if aha["baseline"] is not None:
        ax.axhline(aha["baseline"], color="gray", linestyle=":", label=f"baseline {aha['baseline']:.3f}")
        ax.axhline(aha["threshold"], color="gray", linestyle="--", label=f"threshold {aha['threshold']:.3f}")
    _mark_aha(ax, aha["step"])
    ax.set_ylim(bottom=0)
    ax.set_xlabel("training step")
    ax.set_ylabel("share of completions with a reflection marker")
    ax.legend(fontsize=8, loc="upper left")
    ax.grid(alpha=0.3)
    ax.set_title("Self-reflection rate" + (f" (aha step {aha['step']})" if aha["step"] is not None else " (no aha step)"))
    return _save(fig, path)


def plot_length(analysis: dict[str, Any], path: Path) -> Path:
    fig = _figure()
    ax = fig.add_subplot()
    per_step = analysis["per_step"]
    if per_step.get("step"):
        steps = per_step["step"]
        for stat, color in (("mean", LEN_COLOR), ("median", "#8c564b"), ("p90", "#e377c2")):
            ax.plot(steps, _nan(per_step[f"length_{stat}"]), color=color, label=f"{stat}, all")
            ax.plot(steps, _nan(per_step[f"finished_length_{stat}"]), color=color, linestyle="--", alpha=0.7,
                    label=f"{stat}, finished only")
    else:
        steps, values, source = length_series(analysis)
        if not steps:
            _empty(ax, "no response lengths logged")
            return _save(fig, path)
        ax.plot(steps, _nan(values), color=LEN_COLOR, label=f"mean ({source})")
    _mark_aha(ax, analysis["aha"]["step"])
    ax.set_xlabel("training step")
    ax.set_ylabel("response length (tokens)")
    ax.legend(fontsize=8, ncol=2)
    ax.grid(alpha=0.3)
    ax.set_title("Response length per step")
    return _save(fig, path)


def plot_length_histograms(analysis: dict[str, Any], path: Path) -> Path:
    fig = _figure()
    ax = fig.add_subplot()
    hist = analysis["histograms"]
    if not hist:
        _empty(ax, "no trajectories: no per-completion lengths")
        return _save(fig, path)
    bins = hist["bins"]
    for part, color in (("early", ACC_COLOR), ("late", LEN_COLOR)):
        data = hist[part]
        if not data["n"]:
            continue
        total = data["n"]
        density = [c / total for c in data["counts"]]
        lo, hi = data["steps"]
        ax.stairs(density, bins, fill=True, alpha=0.35, color=color, label=f"{part}: steps {lo}-{hi} (n={total})")
        ax.stairs(density, bins, color=color)
    ax.set_xlabel("response length (tokens)")
    ax.set_ylabel("share of completions")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    ax.set_title("Response length: early vs late training")
    return _save(fig, path)


def plot_correctness(analysis: dict[str, Any], path: Path) -> Path:
    fig = _figure()
    ax = fig.add_subplot()
    per_step = analysis["per_step"]
    if not per_step.get("step") or all(v is None for v in per_step.get("accuracy", [])):
        _empty(ax, "no accuracy reward in trajectories")
        return _save(fig, path)
    steps = per_step["step"]
    ax.plot(steps, as_percent(per_step["accuracy"]), color="black", alpha=0.6, label="all completions")
    ax.plot(steps, as_percent(per_step["accuracy_reflective"]), "o", markersize=3, color="#ff7f0e",
            label="reflective completions")
    ax.plot(steps, as_percent(per_step["accuracy_nonreflective"]), "x", markersize=3, color=ACC_COLOR,
            label="non-reflective completions")
    _mark_aha(ax, analysis["aha"]["step"])
    ax.set_xlabel("training step")
    ax.set_ylabel("accuracy reward == 1 (%)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    ax.set_title("Correctness of reflective vs non-reflective completions")
    return _save(fig, path)


SINGLE_RUN_PLOTS = {
    "figure1.png": plot_figure1,
    "rewards.png": plot_rewards,
    "reflection.png": plot_reflection,
    "length.png": plot_length,
    "length_hist.png": plot_length_histograms,
    "correctness.png": plot_correctness,
}


def write_run_plots(analysis: dict[str, Any], out_dir: Path) -> dict[str, Path]:
    return {name: fn(analysis, out_dir / name) for name, fn in SINGLE_RUN_PLOTS.items()}


def _compare_series(analysis: dict[str, Any], what: str) -> tuple[list[int], list[float], str]:
    if what == "length":
        steps, values, _ = length_series(analysis)
        return steps, _nan(values), "mean response length (tokens)"
    if what == "reward":
        m = analysis["metrics"]
        return m["step"], _nan(m.get("reward", [None] * len(m["step"]))), "total reward"
    if what == "accuracy":
        evals = [s for s in analysis["eval"].values() if any(v is not None for v in s["accuracy"])]
        if evals:
            return evals[0]["step"], as_percent(evals[0]["accuracy"]), "benchmark accuracy (%)"
        steps, values, _ = accuracy_series(analysis)
        return steps, as_percent(values), "train accuracy (%)"
    per_step = analysis["per_step"]
    return per_step.get("step", []), _nan(per_step.get("reflection_rate", [])), "reflection rate"


COMPARE_PANELS = (
    ("length", "compare_length.png", "Response length"),
    ("reward", "compare_reward.png", "Total reward"),
    ("accuracy", "compare_accuracy.png", "Accuracy"),
    ("reflection", "compare_reflection.png", "Self-reflection rate"),
)


def write_compare_plots(analyses: Sequence[dict[str, Any]], labels: Sequence[str], out_dir: Path) -> dict[str, Path]:
    """One overlay per quantity; each run's aha step is a dashed line in the run's colour."""
    colors = [f"C{i % 10}" for i in range(len(analyses))]
    written = {}
    for what, name, title in COMPARE_PANELS:
        fig = _figure(7, 3.8)
        ax = fig.add_subplot()
        ylabel = ""
        drawn = False
        for analysis, label, color in zip(analyses, labels, colors, strict=True):
            steps, values, ylabel_run = _compare_series(analysis, what)
            ylabel = ylabel or ylabel_run
            if steps and any(math.isfinite(v) for v in values):
                ax.plot(steps, values, color=color, label=label, linewidth=1.2)
                drawn = True
            aha = analysis["aha"]["step"]
            if aha is not None:
                ax.axvline(aha, color=color, linestyle="--", linewidth=1, alpha=0.8)
        if not drawn:
            _empty(ax, f"no run has data for: {title.lower()}")
            written[name] = _save(fig, out_dir / name)
            continue
        ax.set_xlabel("training step")
        ax.set_ylabel(ylabel)
        ax.set_title(title + " (dashed: aha step)")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
        written[name] = _save(fig, out_dir / name)
    return written
