"""Reward plug-ins that break the reward contract, named in configs as `tests.adversarial.plugins:<name>`."""

from __future__ import annotations

NOT_CALLABLE = 3


def nan_scores(completions: list[str], **_) -> list[float]:
    return [float("nan")] * len(completions)


def inf_scores(completions: list[str], **_) -> list[float]:
    return [0.0] * (len(completions) - 1) + [float("inf")]


def none_scores(completions: list[str], **_) -> list:
    return [None] * len(completions)


def short_scores(completions: list[str], **_) -> list[float]:
    return [1.0]


def varied_reward(completions: list[str], **_) -> list[float]:
    return [float(i % 2) for i in range(len(completions))]


def no_columns(completions):  # takes no keyword columns: not a reward
    return [0.0] * len(completions)
