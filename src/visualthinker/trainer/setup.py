"""Building the policy, the frozen reference, the optimizer and the schedule from a TrainConfig (GRPO) or an
SFTConfig (SFT)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from transformers import get_scheduler

from visualthinker.config import TrainConfig
from visualthinker.errors import ConfigError
from visualthinker.models.adapter import QwenVLAdapter

if TYPE_CHECKING:
    from visualthinker.sft.config import SFTConfig


def freeze(adapter: QwenVLAdapter, model: torch.nn.Module, vision: bool, llm: bool) -> None:
    """Really freeze (requires_grad_(False), a call, not the attribute assignment of the original code)."""
    modules = (adapter.vision_modules(model) if vision else []) + (adapter.language_modules(model) if llm else [])
    for module in modules:
        module.requires_grad_(False)


def apply_lora(adapter: QwenVLAdapter, model: torch.nn.Module, config: TrainConfig | SFTConfig) -> torch.nn.Module:
    try:
        from peft import LoraConfig, get_peft_model
    except ImportError as exc:
        raise ConfigError("config key 'lora_rank' > 0 needs peft: pip install 'visualthinker[lora]'") from exc
    lora = LoraConfig(r=config.lora_rank, lora_alpha=config.lora_alpha, lora_dropout=config.lora_dropout,
                      target_modules=adapter.lora_target_modules(config.lora_train_vision))
    return get_peft_model(model, lora)


def resolve_init_from(path: str) -> str:
    """A model directory from `init_from`: a run directory means its final/ model."""
    root = Path(path)
    for candidate in (root, root / "final"):
        if (candidate / "config.json").exists():
            return str(candidate)
    raise ConfigError(f"config key 'init_from': {path} is neither a model directory nor a run directory with "
                      "final/ (give a run's output_dir, its final/ or one of its checkpoints/step-N)")


def initial_weights(config) -> str:
    """Where the policy's first weights come from: `init_from` (another run) or `model_path`."""
    init_from = getattr(config, "init_from", None)
    return resolve_init_from(init_from) if init_from else config.model_path


logger = logging.getLogger(__name__)


def policy_weights_dtype(config: TrainConfig | SFTConfig) -> str:
    """float32 master weights unless `low_precision_weights` asks for the weights in `dtype` (with a warning)."""
    if not getattr(config, "low_precision_weights", False) or config.dtype == "float32":
        return "float32"
    logger.warning(
        "low_precision_weights=true: the policy's weights are %s and AdamW updates them in place with no float32 "
        "copy; at learning_rate %g most updates are smaller than half a %s ulp and are lost (plain DDP or one "
        "process; DeepSpeed's bf16 engine keeps float32 masters anyway)", config.dtype, config.learning_rate,
        config.dtype)
    return config.dtype


def build_policy(adapter: QwenVLAdapter, config: TrainConfig | SFTConfig) -> torch.nn.Module:
    """The trainable model; GRPO and SFT configs share these keys (model, dtype, LoRA, freezing, checkpointing).
    Its weights are float32 by default (master weights); the compute dtype comes from `mixed_precision`."""
    model = adapter.load_model(initial_weights(config), policy_weights_dtype(config), config.attn_implementation)
    if config.lora_rank > 0:
        model = apply_lora(adapter, model, config)
    freeze(adapter, model, config.freeze_vision, config.freeze_llm)
    if config.gradient_checkpointing:
        if hasattr(model, "activation_checkpointing_enable"):  # transformers >= 5.24 name
            model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
        else:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.config.use_cache = False
    return model


def build_reference(adapter: QwenVLAdapter, config: TrainConfig) -> torch.nn.Module | None:
    """A frozen copy of the initial policy in `dtype` (forward passes only, so no master copy is needed);
    none when beta = 0, or with LoRA (the base weights serve)."""
    if config.beta == 0 or config.lora_rank > 0:
        return None
    ref = adapter.load_model(config.ref_model_path or initial_weights(config), config.dtype,
                             config.attn_implementation)
    ref.requires_grad_(False)
    return ref.eval()


def trainable_parameters(model: torch.nn.Module) -> list[torch.nn.Parameter]:
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ConfigError("no trainable parameters: check freeze_vision / freeze_llm / lora settings")
    return params


def build_optimizer(model: torch.nn.Module, config: TrainConfig | SFTConfig, total_steps: int | None = None):
    """AdamW and the LR schedule; `total_steps` = optimizer updates (default: GRPO's max_steps x mu)."""
    optimizer = torch.optim.AdamW(trainable_parameters(model), lr=config.learning_rate,
                                  betas=(config.adam_beta1, config.adam_beta2), weight_decay=config.weight_decay)
    # GRPO: one scheduler step per optimizer update, mu updates per rollout step, over lr_schedule_steps steps.
    if total_steps is None:
        total_steps = (config.lr_schedule_steps or config.max_steps) * config.num_iterations
    scheduler = get_scheduler(config.lr_scheduler, optimizer, num_warmup_steps=config.warmup_steps,
                              num_training_steps=total_steps)
    return optimizer, scheduler
