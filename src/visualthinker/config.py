"""The training config: one typed dataclass, loaded from YAML, overridden by `key=value` arguments, validated
before anything heavy starts. An unknown key or a bad value is an error that names the key."""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import yaml

from visualthinker.errors import ConfigError


@dataclass
class TrainConfig:
    # model ---------------------------------------------------------------------------------------------------
    model_path: str = ""  # local HF directory or hub id of the policy (the paper: Qwen/Qwen2-VL-2B, base)
    ref_model_path: str | None = None  # frozen reference for the KL term; default: model_path
    dtype: Literal["float32", "bfloat16", "float16"] = "float32"
    attn_implementation: str | None = None  # e.g. flash_attention_2 on GPU
    gradient_checkpointing: bool = False
    freeze_vision: bool = False  # really freezes the vision tower (the original flag was a no-op)
    freeze_llm: bool = False  # freezes the language model and lm_head
    lora_rank: int = 0  # 0 = full fine-tuning; > 0 wraps the policy with peft LoRA
    lora_alpha: int = 16
    lora_dropout: float = 0.0
    lora_train_vision: bool = False
    min_pixels: int = 3136
    max_pixels: int = 401408  # 512 * 28 * 28, the paper's setting
    # data ----------------------------------------------------------------------------------------------------
    train_data: str = "synthetic"  # a dataset name (synthetic, sat) or a path readable by visualthinker.data
    train_split: str | None = "train"
    train_limit: int | None = None
    data_options: dict[str, Any] = field(default_factory=dict)  # passed to the loader (e.g. n, difficulty)
    eval_data: str | None = None  # periodic evaluation set; None = off
    eval_split: str | None = "test"
    eval_limit: int | None = 64  # a seeded subset stratified over tasks (evaluation/subset.py); null = all
    eval_options: dict[str, Any] = field(default_factory=dict)
    eval_every: int = 0  # steps; 0 = off. Also evaluates at step 0 when on.
    eval_max_new_tokens: int = 1024
    eval_batch_size: int = 8
    # prompt --------------------------------------------------------------------------------------------------
    template: Literal["base", "instruct", "direct"] = "base"
    literal_image_tag: bool = True  # the released code leaves a literal "<image>" after the vision tokens
    # rewards -------------------------------------------------------------------------------------------------
    rewards: list[str] = field(default_factory=lambda: ["accuracy", "format"])
    reward_weights: list[float] | None = None  # default: all 1.0 (the paper sums accuracy and format)
    reward_options: dict[str, dict[str, Any]] = field(default_factory=dict)  # e.g. {length: {cap: 700}}
    format_strict: bool = False  # True: nothing, not even a newline, may follow </answer> (the original)
    # rollout -------------------------------------------------------------------------------------------------
    num_generations: int = 8  # G
    per_device_prompts: int = 1
    gradient_accumulation_steps: int = 2
    max_completion_length: int = 700
    temperature: float = 1.0
    top_k: int = 0  # 0 = off (the original silently used 50)
    top_p: float = 1.0
    repetition_penalty: float = 1.0
    # objective -----------------------------------------------------------------------------------------------
    beta: float = 0.04  # 0 loads no reference model
    loss_aggregation: Literal["grpo", "token_mean", "dr_grpo", "bnpo"] = "grpo"
    scale_rewards: bool = True  # divide advantages by the group std (False = Dr. GRPO)
    advantage_eps: float = 1e-4
    num_iterations: int = 1  # mu: policy updates per rollout batch (> 1 activates PPO clipping)
    epsilon_low: float = 0.2
    epsilon_high: float = 0.2
    # optimisation --------------------------------------------------------------------------------------------
    learning_rate: float = 1e-6
    lr_scheduler: Literal["linear", "constant", "cosine"] = "linear"
    warmup_steps: int = 0
    weight_decay: float = 0.0
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    max_grad_norm: float = 1.0
    max_steps: int = 1500
    seed: int = 42
    mixed_precision: Literal["no", "bf16", "fp16"] = "no"
    # outputs -------------------------------------------------------------------------------------------------
    output_dir: str = "runs/default"
    save_every: int = 100
    keep_checkpoints: int | None = None  # None = keep all
    resume: bool = False
    trajectories_every: int = 1
    trajectory_images: bool = True  # thumbnails for the report's trajectory browser
    report_to: list[str] = field(default_factory=lambda: ["tensorboard"])
    progress_bar: bool = True

    # ---------------------------------------------------------------------------------------------------------
    def validate(self) -> TrainConfig:
        def need(cond: bool, key: str, msg: str) -> None:
            if not cond:
                raise ConfigError(f"config key '{key}': {msg}")

        need(bool(self.model_path), "model_path", "is required (a model directory or hub id)")
        for key in ("num_generations", "per_device_prompts", "gradient_accumulation_steps", "max_completion_length",
                    "max_steps", "num_iterations", "eval_max_new_tokens", "eval_batch_size", "min_pixels",
                    "max_pixels", "trajectories_every"):
            need(getattr(self, key) >= 1, key, f"must be >= 1, got {getattr(self, key)}")
        need(self.num_generations >= 2 or not self.scale_rewards, "num_generations",
             "must be >= 2 for group-relative advantages with std scaling")
        need(self.temperature > 0, "temperature", "must be > 0")
        need(0 < self.top_p <= 1, "top_p", "must be in (0, 1]")
        need(self.top_k >= 0, "top_k", "must be >= 0 (0 = off)")
        need(self.beta >= 0, "beta", "must be >= 0")
        need(self.learning_rate > 0, "learning_rate", "must be > 0")
        need(self.save_every >= 0 and self.eval_every >= 0, "save_every/eval_every", "must be >= 0")
        need(0 <= self.epsilon_low < 1 and self.epsilon_high >= 0, "epsilon_low/epsilon_high", "out of range")
        need(self.min_pixels <= self.max_pixels, "min_pixels", "must be <= max_pixels")
        need(self.lora_rank >= 0, "lora_rank", "must be >= 0")
        need(not (self.freeze_vision and self.freeze_llm and self.lora_rank == 0), "freeze_llm",
             "freezing both the vision tower and the LLM leaves nothing to train")
        need(bool(self.rewards), "rewards", "needs at least one reward")
        if self.reward_weights is not None:
            need(len(self.reward_weights) == len(self.rewards), "reward_weights",
                 f"has {len(self.reward_weights)} entries for {len(self.rewards)} rewards")
        for name in self.reward_options:
            need(name in self.rewards, "reward_options", f"names {name!r}, which is not in rewards {self.rewards}")
        return self

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _coerce(key: str, value: Any, annotation: Any) -> Any:
    """Check `value` against the field's annotation (YAML already parsed scalars); convert ints to floats."""
    origin, args = get_origin(annotation), get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(key, value, arg)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if errors else f"config key '{key}': bad value {value!r}")
    if origin is Literal:
        if value not in args:
            raise ConfigError(f"config key '{key}': {value!r} is not one of {list(args)}")
        return value
    if origin is list:
        if not isinstance(value, list):
            value = [value] if not isinstance(value, str) else [v.strip() for v in value.split(",") if v.strip()]
        return [_coerce(f"{key}[{i}]", v, args[0]) for i, v in enumerate(value)] if args else value
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"config key '{key}': expected a mapping, got {value!r}")
        return value
    if annotation is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"config key '{key}': expected true or false, got {value!r}")
        return value
    if annotation is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"config key '{key}': expected an integer, got {value!r}")
        return value
    if annotation is float:
        if isinstance(value, str):  # YAML 1.1 reads "1e-6" (no dot) as a string
            with contextlib.suppress(ValueError):
                value = float(value)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"config key '{key}': expected a number, got {value!r}")
        return float(value)
    if annotation is str:
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise ConfigError(f"config key '{key}': expected a string, got {value!r}")
        return str(value)
    return value


def _field_types() -> dict[str, Any]:
    hints = typing.get_type_hints(TrainConfig)
    return {f.name: hints[f.name] for f in dataclasses.fields(TrainConfig)}


ALIASES = {"lr": "learning_rate", "G": "num_generations", "kl_coef": "beta", "model": "model_path"}


def parse_override(text: str) -> tuple[str, Any]:
    """"key=value" with a YAML-parsed value ("lr=1e-6", "rewards=[accuracy,format]", "resume=true")."""
    if "=" not in text:
        raise ConfigError(f"override {text!r} is not of the form key=value")
    key, _, raw = text.partition("=")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError as exc:
        raise ConfigError(f"override {text!r}: value is not valid YAML ({exc})") from exc
    return key.strip(), value


def build_config(values: dict[str, Any]) -> TrainConfig:
    types_by_key = _field_types()
    kwargs = {}
    for key, value in values.items():
        if key not in types_by_key:
            close = ALIASES.get(key) or next(iter(difflib.get_close_matches(key, types_by_key, n=1)), None)
            hint = f"; did you mean {close!r}?" if close else ""
            raise ConfigError(f"unknown config key '{key}'{hint}")
        kwargs[key] = _coerce(key, value, types_by_key[key])
    return TrainConfig(**kwargs).validate()


def load_config(path: str | Path | None, overrides: list[str] | None = None) -> TrainConfig:
    """Read a YAML config (or none) and apply `key=value` overrides on top."""
    values: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        if not path.exists():
            raise ConfigError(f"config file {path} does not exist")
        try:
            loaded = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"config file {path} is not valid YAML ({exc})") from exc
        if not isinstance(loaded, dict):
            raise ConfigError(f"config file {path} must hold a mapping of keys to values")
        values.update(loaded)
    for text in overrides or []:
        key, value = parse_override(text)
        values[key] = value
    return build_config(values)


def save_config(config: TrainConfig, path: str | Path) -> None:
    Path(path).write_text(yaml.safe_dump(config.to_dict(), sort_keys=False))
