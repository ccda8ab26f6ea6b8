"""lr_schedule_steps: the scheduler's horizon, separate from max_steps (the paper's 1 500 steps are a prefix of
the original's 3 750-step linear decay)."""

from __future__ import annotations

import pytest
import torch

from tests.paper.conftest import PAPER_CONFIGS
from visualthinker.config import load_config
from visualthinker.errors import ConfigError
from visualthinker.trainer.setup import build_optimizer


def _lrs(*overrides: str, steps: int) -> list[float]:
    config = load_config(None, ["model_path=x", *overrides])
    model = torch.nn.Linear(2, 2)
    optimizer, scheduler = build_optimizer(model, config)
    out = []
    for _ in range(steps):
        optimizer.step()
        scheduler.step()
        out.append(scheduler.get_last_lr()[0])
    return out


def test_default_horizon_is_max_steps():
    assert _lrs("max_steps=4", "learning_rate=1e-6", steps=4)[-1] == 0.0


def test_longer_horizon_leaves_the_paper_lr_at_step_1500():
    lrs = _lrs("max_steps=1500", "lr_schedule_steps=3750", "learning_rate=1e-6", steps=1500)
    assert lrs[-1] == pytest.approx(0.6e-6)
    assert sum(lrs) / len(lrs) == pytest.approx(0.8e-6, rel=1e-3)  # mean lr over the run (0.5e-6 before)


def test_horizon_counts_rollout_steps_times_mu():
    lrs = _lrs("max_steps=2", "lr_schedule_steps=4", "num_iterations=2", steps=4)
    assert lrs[-1] == pytest.approx(1e-6 * (1 - 4 / 8))


def test_bad_horizon_names_the_key():
    with pytest.raises(ConfigError, match="lr_schedule_steps"):
        load_config(None, ["model_path=x", "lr_schedule_steps=0"])


@pytest.mark.parametrize("config_path", PAPER_CONFIGS, ids=lambda p: p.stem)
def test_paper_configs_use_the_original_horizon_and_fp32_masters(config_path):
    config = load_config(config_path)
    assert (config.max_steps, config.lr_schedule_steps) == (1500, 3750)
    assert (config.dtype, config.mixed_precision, config.low_precision_weights) == ("bfloat16", "bf16", False)
    assert "top_k 50" in config_path.read_text()  # the comment says what the original sampled with
