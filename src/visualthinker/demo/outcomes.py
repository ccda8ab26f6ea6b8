"""What the demo's numbers say about the issue's R1-Zero targets: does the length grow, does a longer (or an
enumerating) completion pay, and which targets a run (or a set of runs) meets.

Pure functions over the demo's summaries, so `bench/bench_demo.py`, the demo's printed summary and the tests
read the same definitions.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Sequence
from typing import Any

# A think part that goes through items one at a time: "1. a red circle ...; 2. a blue square ..." (the corpus's
# enumerating captions) or "first ... second ...".
_NUMBERED = re.compile(r"(?:^|[\s;:,(])([1-9])[.)]\s")
_ORDINALS = re.compile(r"\b(first|second|third)\b", re.IGNORECASE)


def enumerates(completion: str) -> bool:
    """True when the think part lists at least two items in order (1., 2. or first, second)."""
    think = completion.split("</think>", 1)[0]
    numbers = [int(n) for n in _NUMBERED.findall(think)]
    if any(b == a + 1 for a, b in zip(numbers, numbers[1:], strict=False)):
        return True
    words = [w.lower() for w in _ORDINALS.findall(think)]
    return "first" in words and "second" in words


def smoothed(values: Sequence[float], window: int) -> list[float]:
    """Centred moving average (shorter at the ends)."""
    half = max(0, window // 2)
    return [statistics.fmean(values[max(0, i - half):i + half + 1]) for i in range(len(values))]


def length_growth(lengths: Sequence[float]) -> dict[str, float | None]:
    """The issue's "length pays" curve test: mean completion length over the last 20 % of steps against the
    minimum of the length curve smoothed over 10 % of the steps; `ratio` >= 1.5 is the target."""
    if len(lengths) < 5:
        return {"last_fifth_mean": None, "smoothed_min": None, "ratio": None}
    curve = smoothed(lengths, max(1, len(lengths) // 10))
    tail = lengths[-max(1, len(lengths) // 5):]
    low, last = min(curve), statistics.fmean(tail)
    return {"last_fifth_mean": last, "smoothed_min": low, "ratio": last / low if low > 0 else None}


def _share(flags: Sequence[bool]) -> float | None:
    return sum(flags) / len(flags) if flags else None


def length_pays(results: Sequence[tuple[str, int, bool]]) -> dict[str, Any]:
    """From (completion, tokens, correct) of a final evaluation: accuracy of the longest third against the
    rest, and of enumerating completions against the rest."""
    ranked = sorted(results, key=lambda r: r[1], reverse=True)
    third = len(ranked) // 3
    enum = [enumerates(text) for text, _, _ in results]
    return {
        "longest_third_accuracy": _share([ok for _, _, ok in ranked[:third]]),
        "rest_accuracy": _share([ok for _, _, ok in ranked[third:]]),
        "enumerating_share": _share(enum),
        "enumerating_accuracy": _share([ok for (_, _, ok), e in zip(results, enum, strict=True) if e]),
        "non_enumerating_accuracy": _share([ok for (_, _, ok), e in zip(results, enum, strict=True) if not e]),
    }


def run_targets(summary: dict[str, Any]) -> dict[str, bool | None]:
    """The per-run targets of issue #13 (None: not measurable in this run)."""
    base, final, chance = summary["base_accuracy"], summary["final_accuracy"], summary["chance_accuracy"]
    per_task_chance = summary.get("per_task_chance", {})
    growth = (summary.get("length_growth") or {}).get("ratio")
    pays = summary.get("length_pays") or {}
    longest, rest = pays.get("longest_third_accuracy"), pays.get("rest_accuracy")
    return {
        "gain_30": final >= base + 0.30 - 1e-9,
        "chance_plus_20": final >= chance + 0.20 - 1e-9,
        "every_task_above_chance": all(acc > per_task_chance.get(task, 1.0)
                                      for task, acc in summary["final_per_task_accuracy"].items())
        if per_task_chance else None,
        "length_grows_1_5x": None if growth is None else growth >= 1.5,
        "longer_is_more_accurate": None if longest is None or rest is None else longest > rest,
    }


def thinking_helps(think_final: Sequence[float], direct_final: Sequence[float]) -> dict[str, Any]:
    """Mean final accuracy with the base (think) prompt against the `direct` prompt; target: >= 10 points."""
    if not think_final or not direct_final:
        return {"think": None, "direct": None, "difference": None, "met": None}
    think, direct = statistics.fmean(think_final), statistics.fmean(direct_final)
    return {"think": think, "direct": direct, "difference": think - direct, "met": think - direct >= 0.10 - 1e-9}
