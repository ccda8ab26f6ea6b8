"""The aha step: when self-reflection switches on and stays on.

Definition (paper-recipe.md §5 asks for an explicit one; the paper only marks it on a plot):
    baseline  = mean reflection rate over the first `baseline_steps` logged steps
    threshold = max(multiple * baseline, floor)
    aha step  = the first logged step s after the baseline period such that the reflection rate is above the
                threshold at s and at every one of the next `window - 1` logged steps.
"Logged steps" are steps that have a trajectory file; when trajectories are written every step they are training
steps. The floor makes a zero baseline work (a base model that never reflects early on) and keeps one lucky
reflective sample from counting. A jump that begins fewer than `window` logged steps before the end of the run is
not reported: there is not enough evidence that it stays. `smooth` > 1 replaces each rate by the trailing mean of
that many logged steps first, for runs with so few completions per step that the raw rate is mostly noise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from visualthinker.errors import ConfigError


@dataclass(frozen=True)
class AhaConfig:
    baseline_steps: int = 10
    multiple: float = 2.0
    floor: float = 0.05
    window: int = 10
    smooth: int = 1

    def __post_init__(self) -> None:
        if self.baseline_steps < 1:
            raise ConfigError(f"aha detector: baseline_steps must be >= 1, got {self.baseline_steps}")
        if self.window < 1:
            raise ConfigError(f"aha detector: window must be >= 1, got {self.window}")
        if self.smooth < 1:
            raise ConfigError(f"aha detector: smooth must be >= 1, got {self.smooth}")
        if self.multiple <= 0:
            raise ConfigError(f"aha detector: multiple must be > 0, got {self.multiple}")
        if not 0 <= self.floor < 1:
            raise ConfigError(f"aha detector: floor must be in [0, 1), got {self.floor}")


def trailing_mean(values: Sequence[float], width: int) -> list[float]:
    out = []
    for i in range(len(values)):
        chunk = values[max(0, i - width + 1) : i + 1]
        out.append(sum(chunk) / len(chunk))
    return out


def detect_aha(steps: Sequence[int], rates: Sequence[float], config: AhaConfig | None = None) -> dict[str, Any]:
    """Returns {"step": int | None, "baseline", "threshold", "reason", **config}; `steps` must be increasing."""
    cfg = config or AhaConfig()
    if len(steps) != len(rates):
        raise ValueError("steps and rates must have the same length")
    result: dict[str, Any] = {"step": None, "baseline": None, "threshold": None, **asdict(cfg)}
    if not steps:
        result["reason"] = "no trajectories: reflection rate unavailable"
        return result
    series = trailing_mean(list(rates), cfg.smooth)
    k = min(cfg.baseline_steps, len(series))
    baseline = sum(series[:k]) / k
    threshold = max(cfg.multiple * baseline, cfg.floor)
    result.update(baseline=baseline, threshold=threshold)
    # consecutive logged steps above the threshold, counted backwards, so each candidate is O(1)
    above_run = [0] * (len(series) + 1)
    for i in range(len(series) - 1, -1, -1):
        above_run[i] = above_run[i + 1] + 1 if series[i] > threshold else 0
    for i in range(k, len(series)):
        if above_run[i] >= cfg.window:
            result["step"] = int(steps[i])
            result["reason"] = (
                f"reflection rate above {threshold:.3f} for {cfg.window} logged steps from step {steps[i]}"
            )
            return result
    if len(series) <= k:
        result["reason"] = f"only {len(series)} logged steps: all used for the baseline"
    else:
        result["reason"] = f"reflection rate never stayed above {threshold:.3f} for {cfg.window} logged steps"
    return result
