from __future__ import annotations

import math

import pandas as pd
import pytest

from tests.analysis.synthetic_run import make_run
from visualthinker.analysis import analyze_run
from visualthinker.analysis.correlation import average_ranks, spearman


def test_average_ranks_with_ties() -> None:
    assert average_ranks([10, 20, 20, 5]) == [2.0, 3.5, 3.5, 1.0]


def test_spearman_matches_pandas_with_ties() -> None:
    x = [1, 2, 3, 4, 5, 5, 7]
    y = [5, 6, 7, 8, 7, 1, 9]
    expected = pd.DataFrame({"x": x, "y": y}).corr(method="spearman").loc["x", "y"]
    assert spearman(x, y) == pytest.approx(expected)


def test_spearman_edge_cases() -> None:
    assert spearman([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert spearman([1, 2, 3], [1, 1, 1]) is None  # constant series
    assert spearman([1, 2], [1, 2]) is None  # too few points
    assert spearman([1, 2, None, 4, math.nan], [1, 2, 3, 4, 5]) == pytest.approx(1.0)  # missing values dropped


def test_length_accuracy_sign(tmp_path, aha_analysis) -> None:
    pos = aha_analysis["correlation"]
    assert pos["length_vs_train_accuracy"]["spearman"] > 0.3
    assert pos["length_vs_eval_accuracy"]["synthetic"]["rollout_length"]["spearman"] > 0.5
    neg_run = make_run(tmp_path / "neg", steps=30, aha_step=None, length_accuracy="negative", seed=2,
                       with_images=False)
    neg = analyze_run(neg_run.path)["correlation"]
    assert neg["length_vs_train_accuracy"]["spearman"] < -0.3


def test_reflective_vs_nonreflective_accuracy(aha_analysis) -> None:
    rr = aha_analysis["correlation"]["reflective_vs_nonreflective"]
    # reflection appears late, when the synthetic policy is also more accurate
    assert rr["n_reflective"] > 0 and rr["n_nonreflective"] > 0
    assert rr["accuracy_reflective"] > rr["accuracy_nonreflective"]
    assert rr["difference"] == pytest.approx(rr["accuracy_reflective"] - rr["accuracy_nonreflective"])
