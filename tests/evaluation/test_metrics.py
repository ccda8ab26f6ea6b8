"""Aggregates: the two CV-Bench totals, BLINK micro vs subset mean, bootstrap intervals."""

from __future__ import annotations

import pytest

from visualthinker.evaluation.metrics import bench_summary, bootstrap_ci, cvbench_official, summarize


def item(bench, correct, task="t", image_source=None, subtask=None, paper=None, tokens=10):
    return {"bench": bench, "id": "x", "task": task, "subtask": subtask, "image_source": image_source,
            "correct": correct, "correct_paper": correct if paper is None else paper,
            "format_failure": False, "invalid_answer": False, "response_tokens": tokens, "finished": True}


def cvbench_items():
    # ADE20K 1/4, COCO 2/2, Omni3D 1/2 -> pooled 4/8 = 0.5; official 0.5*((0.25+1)/2 + 0.5) = 0.5625
    rows = [("Count", "ADE20K", c) for c in (True, False, False, False)]
    rows += [("Relation", "COCO", True), ("Count", "COCO", True)]
    rows += [("Depth", "Omni3D", True), ("Distance", "Omni3D", False)]
    return [item("cvbench", c, task=t, image_source=s, subtask=s) for t, s, c in rows]


def test_cvbench_official_differs_from_pooled_accuracy():
    items = cvbench_items()
    s = bench_summary("cvbench", items)
    assert s["strict"]["accuracy"] == pytest.approx(0.5)
    assert s["strict"]["official"] == pytest.approx(0.5625)
    assert cvbench_official(items) == pytest.approx(0.5625)
    assert s["strict"]["by_source"]["ADE20K"]["accuracy"] == pytest.approx(0.25)
    assert s["strict"]["by_task"]["Count"]["accuracy"] == pytest.approx(0.4)
    lo, hi = s["strict"]["official_ci95"]
    assert 0 <= lo <= hi <= 1


def test_cvbench_official_is_undefined_without_all_sources():
    assert cvbench_official([i for i in cvbench_items() if i["image_source"] != "COCO"]) is None


def test_blink_micro_and_subset_mean():
    items = [item("blink", c, task="Relative_Depth", subtask="Relative_Depth") for c in (True, True, True, False)]
    items += [item("blink", c, task="Spatial_Relation", subtask="Spatial_Relation") for c in (False, False)]
    s = bench_summary("blink", items)
    assert s["strict"]["accuracy"] == pytest.approx(0.5)  # 3/6, the paper's "Average"
    assert s["strict"]["subset_mean"] == pytest.approx((0.75 + 0.0) / 2)
    assert s["strict"]["by_subset"]["Relative_Depth"]["accuracy"] == pytest.approx(0.75)


def test_both_scorings_and_headline():
    items = [item("vsr", False, paper=True), item("vsr", True, paper=True)]
    s = summarize(items, headline="paper")["vsr"]
    assert s["strict"]["accuracy"] == 0.5 and s["paper"]["accuracy"] == 1.0
    assert s["accuracy"] == 1.0 and s["scoring"] == "paper"
    assert s["response_length"] == 10 and s["format_failure_rate"] == 0


def test_bootstrap_ci_bounds_and_determinism():
    values = [1.0] * 60 + [0.0] * 40
    lo, hi = bootstrap_ci(values)
    assert lo < 0.6 < hi and lo > 0.45 and hi < 0.75
    assert bootstrap_ci(values) == (lo, hi)  # fixed seed
    assert bootstrap_ci([1.0] * 5) == (1.0, 1.0)
    assert bootstrap_ci([]) is None
