"""Building the Accelerator from the launch (one place for `train` and `sft`), saving a plain Hugging Face model
directory from whatever engine wraps the policy, and checking that the ranks agree."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import torch
from accelerate import Accelerator

from visualthinker.errors import ConfigError


def has_accelerator_device() -> bool:
    return torch.cuda.is_available() or (hasattr(torch, "xpu") and torch.xpu.is_available())


def build_accelerator(gradient_accumulation_steps: int, mixed_precision: str, report_to: list[str] | None,
                      output_dir: Path) -> Accelerator:
    accelerator = Accelerator(
        # Without cpu=True, accelerate ignores a torchrun launch on a machine with no GPU and runs every
        # process as an independent "main" process.
        cpu=not has_accelerator_device(),
        gradient_accumulation_steps=gradient_accumulation_steps,
        mixed_precision=mixed_precision,
        log_with=report_to or None,
        project_dir=str(output_dir),
    )
    launched = int(os.environ.get("WORLD_SIZE", "1"))
    if launched != accelerator.num_processes:
        raise ConfigError(f"launched with WORLD_SIZE={launched} but accelerate set up "
                          f"{accelerator.num_processes} process(es); check the launcher configuration")
    return accelerator


def save_model(accelerator: Accelerator, model: torch.nn.Module, processor, directory: Path) -> None:
    """A plain Hugging Face model directory (`from_pretrained` loads it), whatever engine wraps the model."""
    state_dict = accelerator.get_state_dict(model)
    unwrapped = accelerator.unwrap_model(model)
    unwrapped.save_pretrained(directory, state_dict=state_dict, is_main_process=accelerator.is_main_process,
                              save_function=accelerator.save)
    if accelerator.is_main_process:
        processor.save_pretrained(directory)


def parameter_checksum(accelerator: Accelerator, model: torch.nn.Module) -> str:
    digest = hashlib.sha256()
    for name, tensor in sorted(accelerator.get_state_dict(model).items()):
        digest.update(name.encode())
        digest.update(tensor.detach().float().cpu().numpy().tobytes())
    return digest.hexdigest()[:16]
