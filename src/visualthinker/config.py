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

from visualthinker.config_checks import config_problems
from visualthinker.errors import ConfigError
from visualthinker.textfiles import read_text


@dataclass
class TrainConfig:
    # model ---------------------------------------------------------------------------------------------------
    model_path: str = ""  # local HF directory or hub id of the policy (the paper: Qwen/Qwen2-VL-2B, base)
    ref_model_path: str | None = None  # frozen reference for the KL term; default: the initial policy
    # Start the policy from another run's weights (a run directory -> its final/, or a checkpoints/step-N or
    # final/ folder), e.g. an SFT cold start; model_path still names the family, processor and prompt.
    init_from: str | None = None
    # Precision. `dtype` is the dtype the frozen reference is loaded in (it only runs forward passes). The
    # trained policy's weights, and the optimizer step on them, are float32 (master weights) unless
    # `low_precision_weights` is true. The compute dtype of forward and backward is `mixed_precision` (autocast
    # through accelerate; under DeepSpeed its bf16 engine, under FSDP2 its mixed-precision policy - both keep the
    # fp32 masters). The paper's setting: dtype bfloat16 + mixed_precision bf16 = bf16 compute, fp32 masters.
    dtype: Literal["float32", "bfloat16", "float16"] = "float32"
    # True: load the policy in `dtype` and let AdamW update those weights in place, with no fp32 copy. Saves
    # memory, but an update smaller than half an ulp (bf16: 2^-9 of the weight) is lost - at lr 1e-6 most of
    # them. Warned about at start.
    low_precision_weights: bool = False
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
    template: Literal["base", "instruct", "direct", "answer"] = "base"
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
    # each prompt (image included) computed once per group of G, in generation and in every log-prob pass
    # (reference, old policy, policy), on every launch (one process, DDP, ZeRO-2/3, FSDP2) and with gradient
    # checkpointing; false runs the plain path (`generate` and full-sequence forwards).
    shared_prefix: bool = True
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
    # The scheduler's horizon in rollout steps (linear/cosine decay reach their end there); None = max_steps.
    # Larger than max_steps trains on a prefix of a longer schedule, as the paper's 1 500 steps of the
    # original's 2-epoch run did.
    lr_schedule_steps: int | None = None
    warmup_steps: int = 0
    weight_decay: float = 0.0
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    max_grad_norm: float = 1.0
    max_steps: int = 1500
    seed: int = 42
    mixed_precision: Literal["no", "bf16", "fp16"] = "no"  # compute dtype (autocast); see `dtype` above
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
        """Every problem found, one line each (key, value, fix); raises ConfigError if there is any."""
        problems = config_problems(self)
        if problems:
            raise ConfigError("\n".join(problems))
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
        if value is False and "no" in args:  # YAML 1.1 reads a bare `no` (mixed_precision=no) as false
            value = "no"
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


def _field_types(cls: type = TrainConfig) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


ALIASES = {"lr": "learning_rate", "G": "num_generations", "kl_coef": "beta", "model": "model_path"}


def parse_override(text: str) -> tuple[str, Any]:
    """"key=value" with a YAML-parsed value ("lr=1e-6", "rewards=[accuracy,format]", "resume=true")."""
    if "=" not in text:
        raise ConfigError(f"override {text!r} is not of the form key=value")
    key, _, raw = text.partition("=")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError as exc:
        raise ConfigError(f"override {text!r}: value is not valid YAML ({' '.join(str(exc).split())})") from exc
    return key.strip(), value


def build_config(values: dict[str, Any], cls: type = TrainConfig):
    """`cls` is TrainConfig or another config dataclass with a `validate()` (e.g. sft.config.SFTConfig)."""
    types_by_key = _field_types(cls)
    kwargs = {}
    for key, value in values.items():
        if key not in types_by_key:
            close = ALIASES.get(key) or next(iter(difflib.get_close_matches(key, types_by_key, n=1)), None)
            hint = f"; did you mean {close!r}?" if close else ""
            raise ConfigError(f"unknown config key '{key}'{hint}")
        kwargs[key] = _coerce(key, value, types_by_key[key])
    return cls(**kwargs).validate()


def load_config(path: str | Path | None, overrides: list[str] | None = None, cls: type = TrainConfig):
    """Read a YAML config (or none) and apply `key=value` overrides on top; builds a `cls` (TrainConfig)."""
    values: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        if not path.exists():
            raise ConfigError(f"config file {path} does not exist")
        text = read_text(path, ConfigError, f"config file {path}", what="YAML config file")
        try:
            loaded = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"config file {path} is not valid YAML ({' '.join(str(exc).split())})") from exc
        if not isinstance(loaded, dict):
            raise ConfigError(f"config file {path} must hold a mapping of keys to values")
        values.update(loaded)
    for text in overrides or []:
        key, value = parse_override(text)
        values[key] = value
    return build_config(values, cls)


def save_config(config, path: str | Path) -> None:
    Path(path).write_text(yaml.safe_dump(config.to_dict(), sort_keys=False))
