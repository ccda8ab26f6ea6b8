"""The declarative ranges cover every numeric config key, and each range says what it accepts."""

from __future__ import annotations

import dataclasses
import typing

import pytest

from visualthinker.config import TrainConfig, load_config
from visualthinker.config_checks import RANGES, SFT_RANGES, Range, config_problems
from visualthinker.errors import ConfigError


def _numeric_keys(cls: type = TrainConfig) -> list[str]:
    hints = typing.get_type_hints(cls)
    keys = []
    for f in dataclasses.fields(cls):
        args = set(typing.get_args(hints[f.name])) or {hints[f.name]}
        if args & {int, float}:
            keys.append(f.name)
    return keys


def test_every_numeric_key_has_a_range():
    missing = [k for k in _numeric_keys() if k not in RANGES]
    assert not missing, f"add these keys to config_checks.RANGES: {missing}"
    assert not [k for k in RANGES if k not in {f.name for f in dataclasses.fields(TrainConfig)}]


def test_defaults_are_inside_their_ranges():
    assert config_problems(TrainConfig(model_path="m")) == []


def test_range_descriptions():
    assert Range(low=0, low_open=True).describe() == "> 0"
    assert Range(low=0, high=1, high_open=True).describe() == ">= 0 and < 1"
    assert Range(low=0, high=1, high_open=True).holds(0.0) and not Range(low=0, high=1, high_open=True).holds(1.0)


@pytest.mark.parametrize("key", ["train_limit", "eval_limit", "keep_checkpoints"])
def test_nullable_keys_accept_null(key):
    assert getattr(load_config(None, ["model_path=m", f"{key}=null"]), key) is None


def test_a_directly_built_config_is_checked_too():
    with pytest.raises(ConfigError, match="'max_grad_norm': must be > 0"):
        TrainConfig(model_path="m", max_grad_norm=-1.0).validate()


def test_every_numeric_sft_key_has_a_range_and_is_checked():
    from visualthinker.sft.config import SFTConfig, load_sft_config

    missing = [k for k in _numeric_keys(SFTConfig) if k not in SFT_RANGES]
    assert not missing, f"add these keys to config_checks.SFT_RANGES: {missing}"
    SFTConfig(model_path="m").validate()
    with pytest.raises(ConfigError) as caught:
        load_sft_config(None, ["model_path=m", "warmup_steps=-1", "max_grad_norm=-1", "num_epochs=.nan"])
    assert str(caught.value).splitlines() == [
        "config key 'num_epochs': must be a finite number, got nan",
        "config key 'warmup_steps': must be >= 0, got -1 (0 = no warm-up)",
        "config key 'max_grad_norm': must be > 0, got -1.0 (a negative bound would flip the gradient; use e.g. 1.0)",
    ]
    assert load_sft_config(None, ["model_path=m", "max_steps=null"]).max_steps is None
