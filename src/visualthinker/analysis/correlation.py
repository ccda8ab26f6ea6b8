"""Rank correlation without scipy: pandas' own Series.corr(method="spearman") imports scipy, which the project
does not depend on, so ranks (ties get their average rank) are computed here and fed to Pearson."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any


def average_ranks(values: Sequence[float]) -> list[float]:
    """1-based ranks; tied values share the mean of the ranks they span."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        shared = (i + j) / 2 + 1
        for k in range(i, j + 1):
            ranks[order[k]] = shared
        i = j + 1
    return ranks


def pearson(x: Sequence[float], y: Sequence[float]) -> float | None:
    n = len(x)
    if n != len(y) or n < 2:
        return None
    mx, my = sum(x) / n, sum(y) / n
    sxy = sum((a - mx) * (b - my) for a, b in zip(x, y, strict=True))
    sxx = sum((a - mx) ** 2 for a in x)
    syy = sum((b - my) ** 2 for b in y)
    if sxx == 0 or syy == 0:
        return None  # a constant series has no defined correlation
    return sxy / math.sqrt(sxx * syy)


def _finite_pairs(x: Sequence[Any], y: Sequence[Any]) -> tuple[list[float], list[float]]:
    xs, ys = [], []
    for a, b in zip(x, y, strict=True):
        if a is None or b is None:
            continue
        fa, fb = float(a), float(b)
        if math.isfinite(fa) and math.isfinite(fb):
            xs.append(fa)
            ys.append(fb)
    return xs, ys


def spearman(x: Sequence[Any], y: Sequence[Any]) -> float | None:
    """Spearman's rho over the pairs where both values are finite; None with fewer than 3 pairs or a constant."""
    xs, ys = _finite_pairs(x, y)
    if len(xs) < 3:
        return None
    return pearson(average_ranks(xs), average_ranks(ys))


def correlation_entry(x: Sequence[Any], y: Sequence[Any]) -> dict[str, Any]:
    xs, _ = _finite_pairs(x, y)
    return {"spearman": spearman(x, y), "n": len(xs)}
