"""The SFT config: a dataclass read, overridden and checked by the same machinery as TrainConfig
(`visualthinker.config.load_config(path, overrides, cls=SFTConfig)`)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from visualthinker.config import load_config
from visualthinker.errors import ConfigError


@dataclass
class SFTConfig:
    # model (the same keys and meaning as in TrainConfig) ------------------------------------------------------
    model_path: str = ""  # local HF directory, hub id or builtin:... (the paper: Qwen/Qwen2-VL-2B, base)
    init_from: str | None = None  # start from another run's weights (run dir -> final/, or a checkpoint dir)
    dtype: Literal["float32", "bfloat16", "float16"] = "float32"
    attn_implementation: str | None = None
    gradient_checkpointing: bool = False
    freeze_vision: bool = False
    freeze_llm: bool = False
    lora_rank: int = 0
    lora_alpha: int = 16
    lora_dropout: float = 0.0
    lora_train_vision: bool = False
    min_pixels: int = 3136
    max_pixels: int = 401408  # 512 * 28 * 28, as the original SFT
    # data ----------------------------------------------------------------------------------------------------
    train_data: str = "synthetic"  # anything visualthinker.data.load_records reads
    train_split: str | None = "train"
    train_limit: int | None = None
    data_options: dict[str, Any] = field(default_factory=dict)
    # what is learned -----------------------------------------------------------------------------------------
    # answer: the correct choice's text (the original SFT target); completions: a JSONL file of
    # {"id": record id, "completion": text} (a reasoning cold start), records without one are left out.
    target: Literal["answer", "completions"] = "answer"
    completions: str | None = None
    # chat: Qwen chat template with the default system turn, user = image + question, no suffix (the original
    # SFT); instruct: the same with the GRPO instruct suffix; base / direct: the paper's raw base prompts.
    template: Literal["chat", "instruct", "base", "direct"] = "chat"
    literal_image_tag: bool = True  # the original's text item kept a literal "<image>" before the question
    completion_suffix: str = "<|im_end|>"  # appended to every target: the token generation stops on
    loss_on: Literal["completion", "all"] = "completion"  # all = the original (prompt and system turn too)
    max_seq_length: int = 1024  # a longer example is an error (vision tokens cannot be cut)
    group_by_length: bool = True  # batches of similar length, so that padding does not dominate
    # optimisation --------------------------------------------------------------------------------------------
    per_device_batch_size: int = 1
    gradient_accumulation_steps: int = 2
    num_epochs: float = 2.0
    max_steps: int | None = None  # optimizer steps; overrides num_epochs
    learning_rate: float = 2e-5
    lr_scheduler: Literal["linear", "constant", "cosine"] = "linear"
    warmup_steps: int = 0
    weight_decay: float = 0.0
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    max_grad_norm: float = 1.0
    seed: int = 42
    mixed_precision: Literal["no", "bf16", "fp16"] = "no"
    # outputs -------------------------------------------------------------------------------------------------
    output_dir: str = "runs/sft"
    save_every: int = 300
    keep_checkpoints: int | None = None
    resume: bool = False
    report_to: list[str] = field(default_factory=lambda: ["tensorboard"])
    progress_bar: bool = True

    def validate(self) -> SFTConfig:
        def need(cond: bool, key: str, msg: str) -> None:
            if not cond:
                raise ConfigError(f"config key '{key}': {msg}")

        from visualthinker.config_checks import SFT_RANGES, range_problems

        problems = range_problems(self, SFT_RANGES)  # every numeric key, the same rules as TrainConfig's
        if problems:
            raise ConfigError("\n".join(problems))
        need(bool(self.model_path), "model_path", "is required (a model directory or hub id)")
        for key in ("per_device_batch_size", "gradient_accumulation_steps", "max_seq_length", "min_pixels",
                    "max_pixels"):
            need(getattr(self, key) >= 1, key, f"must be >= 1, got {getattr(self, key)}")
        need(self.max_steps is None or self.max_steps >= 1, "max_steps", "must be >= 1 (or null: use num_epochs)")
        need(self.num_epochs > 0, "num_epochs", "must be > 0")
        need(self.learning_rate > 0, "learning_rate", "must be > 0")
        need(self.save_every >= 0, "save_every", "must be >= 0")
        need(self.min_pixels <= self.max_pixels, "min_pixels", "must be <= max_pixels")
        need(self.lora_rank >= 0, "lora_rank", "must be >= 0")
        need(not (self.freeze_vision and self.freeze_llm and self.lora_rank == 0), "freeze_llm",
             "freezing both the vision tower and the LLM leaves nothing to train")
        if self.target == "completions":
            need(bool(self.completions), "completions", "target=completions needs a JSONL file of "
                 '{"id": ..., "completion": ...} lines')
            need(Path(self.completions).exists(), "completions", f"{self.completions} does not exist")
        else:
            need(self.completions is None, "completions", "is only read with target=completions")
        return self

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def load_sft_config(path: str | Path | None, overrides: list[str] | None = None) -> SFTConfig:
    return load_config(path, overrides, cls=SFTConfig)
