"""Reward lookup by name: the built-ins, or any `module:function` plug-in named in the config."""

from __future__ import annotations

import functools
import importlib
import inspect
from collections.abc import Callable
from typing import Any

from visualthinker.errors import ConfigError
from visualthinker.rewards.functions import accuracy_reward, format_reward, length_reward

RewardFn = Callable[..., list[float]]

# The keyword columns every reward is called with (Record.columns() plus what the rollout adds).
REWARD_COLUMNS = ("id", "question", "choices", "answer", "answer_letter", "task", "source",
                  "completion_tokens", "prefills_think")

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
        except Exception as exc:  # the plug-in's module itself failed while importing
            raise ConfigError(f"rewards: importing {spec!r} failed ({type(exc).__name__}: {exc}); "
                              "fix the plug-in module") from exc
        if not callable(fn):
            raise ConfigError(f"rewards: {spec!r} is a {type(fn).__name__}, not a function; "
                              "give a function f(completions, **columns) -> list[float]")
    else:
        raise ConfigError(
            f"rewards: unknown reward {spec!r}; use one of {sorted(BUILTIN_REWARDS)} or 'package.module:function'"
        )
    if options:
        try:
            inspect.signature(fn).bind_partial(**options)
        except TypeError as exc:
            raise ConfigError(f"reward_options for {spec!r}: {exc}; give only keyword arguments the reward takes") \
                from exc
        except ValueError:  # no signature to inspect (a builtin): the call will tell
            pass
    return functools.partial(fn, **options) if options else fn


def check_reward_signature(spec: str, fn: RewardFn) -> None:
    """A reward must take the completions positionally and every column as a keyword (or **kwargs)."""
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):
        return  # a C function without a signature: nothing to check before the first call
    try:
        signature.bind(["completion"], **{name: None for name in REWARD_COLUMNS})
    except TypeError as exc:
        raise ConfigError(f"rewards: {spec!r} does not take the reward arguments f(completions, **columns) "
                          f"({exc}); give it a signature like (completions, **kwargs) returning one float each") \
            from exc


def reward_name(spec: str) -> str:
    """The name under which a reward is logged (`rewards/<name>/mean`)."""
    return spec.rsplit(":", 1)[-1].removesuffix("_reward") if ":" in spec else spec
