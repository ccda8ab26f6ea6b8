"""The definitions behind the issue's demo targets (length grows, length pays, thinking helps)."""

from __future__ import annotations

import pytest

from visualthinker.demo.outcomes import enumerates, length_growth, length_pays, run_targets, thinking_helps


def test_enumerates_needs_two_consecutive_items_in_the_think_part():
    assert enumerates(" 1. a red circle at the top left; 2. a red circle in the centre. </think> <answer> 2")
    assert enumerates(" first the circle, second the square </think>")
    assert not enumerates(" there are 3 circles. </think> <answer> 3 </answer>")
    assert not enumerates(" 1. a red circle; 3. a blue square </think>")  # not in order
    assert not enumerates(" look. </think> <answer> 1. a 2. b </answer>")  # the list is in the answer


def test_length_growth_compares_the_last_fifth_with_the_smoothed_minimum():
    flat = length_growth([20.0] * 50)
    assert flat["ratio"] == pytest.approx(1.0)
    dip_then_grow = [30.0] * 20 + [10.0] * 10 + [40.0] * 20
    grown = length_growth(dip_then_grow)
    assert grown["last_fifth_mean"] == pytest.approx(40.0)
    assert grown["smoothed_min"] == pytest.approx(10.0)
    assert grown["ratio"] == pytest.approx(4.0)
    assert length_growth([1.0, 2.0])["ratio"] is None  # too short to say


def test_length_pays_splits_by_length_and_by_enumeration():
    results = [(" 1. a; 2. b </think>", 60, True), (" 1. a; 2. b; 3. c </think>", 50, True),
               (" hm </think>", 10, False), (" no </think>", 12, True), (" x </think>", 8, False),
               (" y </think>", 9, False)]
    pays = length_pays(results)
    assert pays["longest_third_accuracy"] == 1.0  # the two longest
    assert pays["rest_accuracy"] == pytest.approx(0.25)
    assert pays["enumerating_share"] == pytest.approx(2 / 6)
    assert pays["enumerating_accuracy"] == 1.0 and pays["non_enumerating_accuracy"] == pytest.approx(0.25)
    assert length_pays([])["longest_third_accuracy"] is None


def test_run_targets_and_thinking_helps():
    summary = {"base_accuracy": 0.0, "final_accuracy": 0.66, "chance_accuracy": 0.458,
               "per_task_chance": {"count": 1 / 3, "depth": 0.5},
               "final_per_task_accuracy": {"count": 0.4, "depth": 0.5},
               "length_growth": {"ratio": 1.2}, "length_pays": {"longest_third_accuracy": 0.7, "rest_accuracy": 0.6}}
    targets = run_targets(summary)
    assert targets["gain_30"] and targets["chance_plus_20"]
    assert targets["every_task_above_chance"] is False  # depth only at chance
    assert targets["length_grows_1_5x"] is False and targets["longer_is_more_accurate"] is True
    assert thinking_helps([0.5, 0.6], [0.4, 0.45])["met"] is True
    assert thinking_helps([0.5], [0.45])["met"] is False
    assert thinking_helps([], [0.4])["met"] is None
