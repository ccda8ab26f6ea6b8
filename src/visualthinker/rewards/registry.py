"""Reward lookup by name: the built-ins, or any `module:function` plug-in named in the config."""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from typing import Any

from visualthinker.errors import ConfigError
from visualthinker.rewards.functions import accuracy_reward, format_reward, length_reward

RewardFn = Callable[..., list[float]]

BUILTIN_REWARDS: dict[str, RewardFn] = {
    "accuracy": accuracy_reward,
    "format": format_reward,
    "length": length_reward,
}


def resolve_reward(spec: str, options: dict[str, Any] | None = None) -> RewardFn:
    """A built-in name ("accuracy") or "package.module:function"; `options` are bound as keyword arguments."""
    if spec in BUILTIN_REWARDS:
        fn = BUILTIN_REWARDS[spec]
    elif ":" in spec:
        module_name, _, attr = spec.partition(":")
        try:
            fn = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as exc:
            raise ConfigError(f"rewards: cannot import {spec!r} ({exc}); give 'package.module:function'") from exc
        if not callable(fn):
            raise ConfigError(f"rewards: {spec!r} is not callable")
    else:
        raise ConfigError(
            f"rewards: unknown reward {spec!r}; use one of {sorted(BUILTIN_REWARDS)} or 'package.module:function'"
        )
    return functools.partial(fn, **options) if options else fn


def reward_name(spec: str) -> str:
    """The name under which a reward is logged (`rewards/<name>/mean`)."""
    return spec.rsplit(":", 1)[-1].removesuffix("_reward") if ":" in spec else spec
