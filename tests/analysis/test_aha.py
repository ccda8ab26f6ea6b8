from __future__ import annotations

import pytest

from tests.analysis.synthetic_run import SyntheticRun
from visualthinker.analysis import AhaConfig, analyze_run, detect_aha
from visualthinker.errors import ConfigError


def test_planted_jump_is_found() -> None:
    steps = list(range(1, 41))
    rates = [0.02] * 19 + [0.5] * 21
    result = detect_aha(steps, rates, AhaConfig(baseline_steps=10, multiple=2, floor=0.05, window=10))
    assert result["step"] == 20
    assert result["baseline"] == pytest.approx(0.02)
    assert result["threshold"] == pytest.approx(0.05)  # the floor wins over 2 x 0.02


def test_zero_baseline_uses_floor_and_no_jump_means_none() -> None:
    steps = list(range(30))
    assert detect_aha(steps, [0.0] * 30)["step"] is None
    # isolated spikes above the floor never stay for a window
    spiky = [0.0, 0.2] * 15
    result = detect_aha(steps, spiky, AhaConfig(window=3))
    assert result["step"] is None
    assert "never stayed" in result["reason"]


def test_jump_too_close_to_the_end_is_not_reported() -> None:
    steps = list(range(20))
    rates = [0.0] * 15 + [0.9] * 5
    assert detect_aha(steps, rates, AhaConfig(window=10))["step"] is None
    assert detect_aha(steps, rates, AhaConfig(window=5))["step"] == 15


def test_smoothing_bridges_a_single_dip() -> None:
    steps = list(range(40))
    rates = [0.0] * 20 + [0.6, 0.6, 0.6, 0.0] + [0.6] * 16
    assert detect_aha(steps, rates, AhaConfig(window=10))["step"] == 24
    assert detect_aha(steps, rates, AhaConfig(window=10, smooth=3))["step"] == 20


def test_sparse_logging_counts_logged_steps() -> None:
    steps = list(range(0, 400, 10))
    rates = [0.0] * 20 + [0.4] * 20
    assert detect_aha(steps, rates, AhaConfig(window=5))["step"] == 200


def test_no_trajectories() -> None:
    assert detect_aha([], [])["step"] is None


@pytest.mark.parametrize("kwargs", [{"window": 0}, {"baseline_steps": 0}, {"multiple": 0}, {"floor": 1.5}, {"smooth": 0}])
def test_config_validation(kwargs: dict) -> None:
    with pytest.raises(ConfigError):
        AhaConfig(**kwargs)


def test_detector_on_synthetic_runs(aha_run: SyntheticRun, flat_run: SyntheticRun, aha_analysis: dict) -> None:
    cfg = AhaConfig()  # the defaults: K=10, M=2, F=0.05, W=10
    found = aha_analysis["aha"]["step"]
    assert found is not None and aha_run.aha_step <= found < aha_run.aha_step + cfg.window
    assert analyze_run(flat_run.path, aha=cfg)["aha"]["step"] is None
