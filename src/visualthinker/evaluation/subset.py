"""The periodic-evaluation subset: a seeded sample stratified over tasks (and CV-Bench image sources).

Figure 1 plots benchmark accuracy against step, so every step must see the same items, and those items must
look like the whole benchmark. CV-Bench's rows are ordered by file (2D first) and task, so its first 500 rows are
nearly all Count; a stratified sample keeps each (task, image source) stratum at its share of the full set.

Allocation is proportional with largest remainders (Hamilton): each stratum gets floor(n * size / total), and
the items left over go to the strata with the largest fractional parts (ties by stratum name), so every
stratum's count is within 1 of its exact share. Within a stratum the items are drawn with a generator seeded by
(seed, stratum), and the subset keeps the dataset's order. A pure function of (records, n, seed).
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from visualthinker.data.record import Record
from visualthinker.errors import ConfigError
from visualthinker.evaluation.metrics import CVBENCH_SOURCES


def image_source(record: Record) -> str | None:
    """CV-Bench's image source (ADE20K / COCO / Omni3D), which the official score groups by."""
    for value in (record.raw.get("source"), record.subtask):
        if isinstance(value, str) and value in CVBENCH_SOURCES:
            return value
    return None


def stratum(record: Record) -> str:
    """The stratum a record is sampled in: its task, and its CV-Bench image source where it has one."""
    source = image_source(record)
    return record.task if source is None else f"{record.task}/{source}"


def allocate(sizes: dict[str, int], n: int) -> dict[str, int]:
    """How many items each stratum gets out of `n`: proportional, largest remainders, ties by name."""
    total = sum(sizes.values())
    if n >= total:
        return dict(sizes)
    exact = {key: n * size / total for key, size in sizes.items()}
    counts = {key: int(share) for key, share in exact.items()}
    left = n - sum(counts.values())
    for key in sorted(exact, key=lambda k: (-(exact[k] - counts[k]), k))[:left]:
        counts[key] += 1
    return counts


def stratified_subset(records: Sequence[Record], n: int | None, seed: int) -> list[Record]:
    """`n` records drawn per stratum in proportion to the full set (all of them when n is None or >= the set),
    in the dataset's order; the same (records, n, seed) always gives the same subset."""
    if n is None or n >= len(records):
        return list(records)
    if n < 1:
        raise ConfigError(f"eval_limit must be >= 1 or null (all items), got {n}")
    by_stratum: dict[str, list[int]] = {}
    for i, record in enumerate(records):
        by_stratum.setdefault(stratum(record), []).append(i)
    counts = allocate({key: len(rows) for key, rows in by_stratum.items()}, n)
    chosen: list[int] = []
    for key, rows in by_stratum.items():
        # A string seed is hashed with SHA-512 by `random`, so the draw does not depend on PYTHONHASHSEED.
        chosen += random.Random(f"{seed}/{key}").sample(rows, counts[key])
    return [records[i] for i in sorted(chosen)]


def strata_counts(records: Sequence[Record]) -> dict[str, int]:
    """Items per stratum, by stratum name."""
    out: dict[str, int] = {}
    for record in records:
        key = stratum(record)
        out[key] = out.get(key, 0) + 1
    return dict(sorted(out.items()))


def subset_manifest(records: Sequence[Record], *, data: str | None, split: str | None, seed: int,
                    limit: int | None) -> dict:
    """What a run's `eval_subset.json` holds: how the subset was drawn, its class mix, and its ids."""
    return {"data": data, "split": split, "seed": seed, "eval_limit": limit, "n": len(records),
            "strata": strata_counts(records), "ids": [str(r.id) for r in records]}
