"""What `train` and `sft` do alike with a run directory: start a fresh run or resume from its last complete
checkpoint (or restart from step 0 when it was killed before its first one), and write an atomic checkpoint
(model directory + accelerate state, never non-finite weights) that resuming can trust. Both hold the directory
with `visualthinker.runlock.RunDirLock` for the life of the run."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator

from visualthinker.config import save_config
from visualthinker.errors import ConfigError
from visualthinker.trainer import checkpoint as ckpt
from visualthinker.trainer.guards import check_weights
from visualthinker.trainer.launch import save_model
from visualthinker.trainer.outputs import RunLog

logger = logging.getLogger("visualthinker.trainer")


def start_or_resume(accelerator: Accelerator, config: Any, output_dir: Path, log: RunLog) -> int:
    """Returns the step to start from: 0, or the last complete checkpoint's when `config.resume` is set (its
    optimizer, scheduler and RNG states are restored and what was logged after it is dropped)."""
    start = 0
    found = ckpt.latest_checkpoint(output_dir)
    if config.resume and found is not None:
        start, path = found
        accelerator.load_state(str(path / "state"))
        if accelerator.is_main_process:
            log.truncate_after(start)
    elif config.resume:
        # Killed before its first checkpoint (or a new folder): nothing to restore, so resuming is a restart from
        # step 0 with the same seed, i.e. the same run; the steps it logged are dropped so none appears twice.
        if accelerator.is_main_process and log.has_steps():
            logger.warning("%s holds no complete checkpoint: restarting from step 0 and dropping the steps it "
                           "logged", output_dir)
            log.clear()
    elif log.has_steps():
        how = "from its last checkpoint" if found is not None else "(it has no checkpoint yet, so it restarts from step 0)"
        raise ConfigError(f"output_dir {output_dir} already holds a run; pass resume=true to continue it {how}, "
                          "or choose another output_dir")
    if accelerator.is_main_process:
        output_dir.mkdir(parents=True, exist_ok=True)
        save_config(config, output_dir / "config.yaml")
    accelerator.wait_for_everyone()
    return start


def save_checkpoint(accelerator: Accelerator, model: torch.nn.Module, processor, output_dir: Path, step: int,
                    max_steps: int, keep: int | None) -> None:
    """checkpoints/step-N: written to .tmp-step-N on all ranks, renamed when complete (main process). Weights
    holding a NaN or an infinity are refused (TrainingError): the last good checkpoint stays the last one."""
    accelerator.wait_for_everyone()
    check_weights(accelerator, model, step, f"checkpoint step-{step}")
    tmp = ckpt.temp_dir(output_dir, step)
    if accelerator.is_main_process:
        ckpt.prune(output_dir, None)
        tmp.mkdir(parents=True, exist_ok=True)
    accelerator.wait_for_everyone()
    accelerator.save_state(str(tmp / "state"))
    save_model(accelerator, model, processor, tmp)
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        ckpt.finalize(output_dir, step, {"step": step, "max_steps": max_steps, "time": time.time()})
        ckpt.prune(output_dir, keep)
    accelerator.wait_for_everyone()
