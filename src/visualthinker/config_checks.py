"""What a valid TrainConfig is: a declarative range per numeric key, then the checks that span keys (groups
that cannot learn, reward plug-ins that are not rewards). Every problem is one line naming the key, the value
and the fix; `TrainConfig.validate` reports them all at once.

A new numeric config key needs one entry in RANGES, or SFT_RANGES for the SFT config (tests/unit/
test_config_checks.py fails until it has one).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Range:
    """low <= value <= high (or < where open); None bounds are unbounded. `allow_none` keys may be null."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    fix: str = ""
    allow_none: bool = False

    def describe(self) -> str:
        parts = []
        if self.low is not None:
            parts.append(f"{'>' if self.low_open else '>='} {_num(self.low)}")
        if self.high is not None:
            parts.append(f"{'<' if self.high_open else '<='} {_num(self.high)}")
        return " and ".join(parts) or "a finite number"

    def holds(self, value: float) -> bool:
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return not (self.high is not None and (value >= self.high if self.high_open else value > self.high))


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e15 else repr(x)


def at_least(low: float, fix: str = "", allow_none: bool = False) -> Range:
    return Range(low=low, fix=fix, allow_none=allow_none)


def positive(fix: str = "") -> Range:
    return Range(low=0, low_open=True, fix=fix)


def fraction(low_open: bool = False, high_open: bool = True, fix: str = "") -> Range:
    return Range(low=0, high=1, low_open=low_open, high_open=high_open, fix=fix)


# One entry per numeric key. `fix` completes the message: what the value means or what to use instead.
RANGES: dict[str, Range] = {
    # model
    "lora_rank": at_least(0, "0 = full fine-tuning"),
    "lora_alpha": positive("LoRA's scaling numerator, e.g. 16"),
    "lora_dropout": fraction(),
    "min_pixels": at_least(1),
    "max_pixels": at_least(1),
    # data
    "train_limit": at_least(1, "null = every record", allow_none=True),
    "eval_limit": at_least(1, "null = every record", allow_none=True),
    "eval_every": at_least(0, "0 = no periodic evaluation"),
    "eval_max_new_tokens": at_least(1),
    "eval_batch_size": at_least(1),
    # rollout
    "num_generations": at_least(2, "advantages are relative to the group, so a group of one learns nothing"),
    "per_device_prompts": at_least(1),
    "gradient_accumulation_steps": at_least(1),
    "max_completion_length": at_least(1),
    "temperature": positive("1.0 samples the policy as it is"),
    "top_k": at_least(0, "0 = off"),
    "top_p": fraction(low_open=True, high_open=False, fix="1.0 = off"),
    "repetition_penalty": positive("1.0 = no penalty"),
    # objective
    "beta": at_least(0, "0 = no KL term"),
    "advantage_eps": positive("it keeps a group with equal rewards from dividing by zero; the paper uses 1e-4"),
    "num_iterations": at_least(1),
    "epsilon_low": fraction(),
    "epsilon_high": at_least(0),
    # optimisation
    "learning_rate": positive(),
    "lr_schedule_steps": at_least(1, "null = max_steps", allow_none=True),
    "warmup_steps": at_least(0, "0 = no warm-up"),
    "weight_decay": at_least(0, "0 = none"),
    "adam_beta1": fraction(),
    "adam_beta2": fraction(),
    "max_grad_norm": positive("a negative bound would flip the gradient; use e.g. 1.0"),
    "max_steps": at_least(1),
    "seed": Range(low=0, high=2**32 - 1),
    # outputs
    "save_every": at_least(0, "0 = only the final checkpoint"),
    "keep_checkpoints": at_least(1, "null = keep all", allow_none=True),
    "trajectories_every": at_least(1),
}


# The SFT trainer's config (sft/config.py) shares most keys, with the same meaning; these are its own.
SFT_RANGES: dict[str, Range] = {
    **{key: RANGES[key] for key in (
        "lora_rank", "lora_alpha", "lora_dropout", "min_pixels", "max_pixels", "train_limit",
        "gradient_accumulation_steps", "learning_rate", "warmup_steps", "weight_decay", "adam_beta1", "adam_beta2",
        "max_grad_norm", "seed", "save_every", "keep_checkpoints")},
    "max_seq_length": at_least(1),
    "per_device_batch_size": at_least(1),
    "num_epochs": positive(),
    "max_steps": at_least(1, "null = use num_epochs", allow_none=True),
}


def range_problems(config: Any, ranges: dict[str, Range]) -> list[str]:
    """One line per numeric key of `config` outside its range (or non-finite), in field order."""
    problems = []
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        rule = ranges.get(f.name)
        if rule is not None:
            problem = _range_problem(f.name, value, rule)
            if problem:
                problems.append(problem)
        elif isinstance(value, float) and not math.isfinite(value):
            problems.append(f"config key '{f.name}': must be a finite number, got {value!r}")
    return problems


def _range_problem(key: str, value: Any, rule: Range) -> str | None:
    if value is None:
        return None if rule.allow_none else f"config key '{key}': is required, got null"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None  # a type problem; _coerce reports those
    fix = f" ({rule.fix})" if rule.fix else ""
    if not math.isfinite(value):
        return f"config key '{key}': must be a finite number, got {value!r}{fix}"
    if not rule.holds(value):
        return f"config key '{key}': must be {rule.describe()}, got {value!r}{fix}"
    return None


def config_problems(config: Any) -> list[str]:
    """Every problem of a TrainConfig, in field order, one line each."""
    problems: list[str] = []

    def need(cond: bool, key: str, msg: str) -> None:
        if not cond:
            problems.append(f"config key '{key}': {msg}")

    problems.extend(range_problems(config, RANGES))
    need(bool(config.model_path), "model_path", "is required (a model directory, a hub id or builtin:tiny-qwen2-vl)")
    need(bool(str(config.output_dir).strip()), "output_dir", "is required (a folder for the run's outputs)")
    if all(isinstance(v, int) and v >= 1 for v in (config.min_pixels, config.max_pixels)):
        need(config.min_pixels <= config.max_pixels, "min_pixels",
             f"must be <= max_pixels ({config.max_pixels}), got {config.min_pixels}")
    need(not (config.freeze_vision and config.freeze_llm and config.lora_rank == 0), "freeze_llm",
         "freezing both the vision tower and the LLM leaves nothing to train; set one of them to false")
    need(bool(config.rewards), "rewards", "needs at least one reward, e.g. [accuracy, format]")
    if config.reward_weights is not None:
        need(len(config.reward_weights) == len(config.rewards), "reward_weights",
             f"has {len(config.reward_weights)} entries for {len(config.rewards)} rewards; give one per reward")
        for i, w in enumerate(config.reward_weights):
            need(isinstance(w, (int, float)) and math.isfinite(w), f"reward_weights[{i}]",
                 f"must be a finite number, got {w!r}")
        if len(config.reward_weights) == len(config.rewards) and all(w == 0 for w in config.reward_weights):
            need(False, "reward_weights", f"are all 0, got {config.reward_weights}: every reward is the same, so "
                 "every advantage is 0 and nothing is learnt; give at least one reward a non-zero weight")
    # Groups must differ for group-relative advantages to be non-zero: greedy sampling makes them identical.
    need(config.top_k != 1, "top_k", "1 samples greedily, so the completions of a group are identical, every "
         "advantage is 0 and nothing is learnt; use 0 (off) or >= 2")
    for name, options in config.reward_options.items():
        need(name in config.rewards or name in [_logged_name(s) for s in config.rewards], "reward_options",
             f"names {name!r}, which is not in rewards {config.rewards}")
        need(isinstance(options, dict), f"reward_options.{name}",
             f"must be a mapping of keyword arguments, got {options!r}")
    if not problems:
        problems.extend(_reward_problems(config))
    return problems


def _logged_name(spec: str) -> str:
    from visualthinker.rewards.registry import reward_name

    return reward_name(spec)


def _reward_problems(config: Any) -> list[str]:
    """Resolve every reward now (import plug-ins, bind options), so a wrong one fails before any model loads."""
    from visualthinker.errors import ConfigError
    from visualthinker.rewards.registry import check_reward_signature, resolve_reward

    problems = []
    for spec in config.rewards:
        options = dict(config.reward_options.get(spec, config.reward_options.get(_logged_name(spec), {})))
        try:
            check_reward_signature(spec, resolve_reward(spec, options))
        except ConfigError as exc:
            problems.append(str(exc))
    return problems
