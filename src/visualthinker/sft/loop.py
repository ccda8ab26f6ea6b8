"""The SFT loop on the same accelerate path as GRPO (`trainer/launch.py`): one code path for one CPU process,
DDP, FSDP, DeepSpeed ZeRO and multi-node; the same run directory (config.yaml, metrics.jsonl, checkpoints/,
final/, TensorBoard) and the same atomic checkpoints and exact resume (`trainer/rundir.py`)."""

from __future__ import annotations

import json
import math
import statistics
import time
from pathlib import Path
from typing import Any

import torch
from accelerate.utils import gather_object, set_seed
from tqdm.auto import tqdm

from visualthinker.data.record import Record
from visualthinker.models.adapter import get_adapter
from visualthinker.runlock import RunDirLock
from visualthinker.sft.collate import IGNORE, collate
from visualthinker.sft.config import SFTConfig
from visualthinker.sft.data import build_examples
from visualthinker.sft.schedule import BatchSchedule
from visualthinker.trainer import checkpoint as ckpt
from visualthinker.trainer.guards import check_update, check_weights
from visualthinker.trainer.launch import build_accelerator, parameter_checksum, prepare_policy, save_model
from visualthinker.trainer.outputs import RunLog
from visualthinker.trainer.rundir import save_checkpoint, start_or_resume
from visualthinker.trainer.setup import build_optimizer, build_policy


def token_cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean next-token cross-entropy over the labelled positions, and their count. Like the HF Trainer of the
    original, the mean is per micro-batch (per sequence at batch size 1)."""
    shift_logits = logits[:, :-1].float()
    shift_labels = labels[:, 1:]
    count = (shift_labels != IGNORE).sum()
    total = torch.nn.functional.cross_entropy(shift_logits.reshape(-1, shift_logits.size(-1)),
                                              shift_labels.reshape(-1), ignore_index=IGNORE, reduction="sum")
    return total / count.clamp(min=1), count


class SFTTrainer:
    def __init__(self, config: SFTConfig, train_records: list[Record]) -> None:
        self.config = config
        self.output_dir = Path(config.output_dir)
        self.accelerator = build_accelerator(config.gradient_accumulation_steps, config.mixed_precision,
                                             config.report_to, self.output_dir)
        set_seed(config.seed, device_specific=True)
        self.adapter = get_adapter(config.model_path)
        self.processor = self.adapter.load_processor(config.model_path, config.min_pixels, config.max_pixels)
        if config.template in ("chat", "instruct"):
            # saved with the model, so `eval --template instruct` renders the prompt it was trained on
            self.adapter.ensure_chat_template(self.processor)
        self.examples, self.skipped = build_examples(train_records, config, self.adapter, self.processor)
        acc = self.accelerator
        self.schedule = BatchSchedule([e.length for e in self.examples], config.seed, config.per_device_batch_size,
                                      acc.num_processes, config.gradient_accumulation_steps, config.group_by_length)
        self.max_steps = config.max_steps or math.ceil(config.num_epochs * self.schedule.steps_per_epoch)
        model = build_policy(self.adapter, config)
        optimizer, self.scheduler = build_optimizer(model, config, total_steps=self.max_steps)
        # One backward sees per_device_batch_size sequences (DeepSpeed's micro-batch).
        self.model, self.optimizer = prepare_policy(acc, model, optimizer, self.scheduler,
                                                    config.per_device_batch_size, config.max_grad_norm,
                                                    self.adapter.fsdp_wrap_classes)
        self.log = RunLog(self.output_dir)

    @property
    def is_main(self) -> bool:
        return self.accelerator.is_main_process

    def _train_step(self, step: int) -> dict[str, float]:
        config, acc = self.config, self.accelerator
        t0 = time.perf_counter()
        self.model.train()
        losses, grad_norms, pending = [], [], []
        counts = torch.zeros(3, dtype=torch.float64, device=acc.device)  # loss tokens, real tokens, padded tokens
        for micro in range(config.gradient_accumulation_steps):
            examples = [self.examples[i] for i in self.schedule.indices(step, micro, acc.process_index)]
            batch = collate(examples, self.adapter, self.processor, config.loss_on, config.max_pixels,
                            config.min_pixels)
            labels = batch.pop("labels").to(acc.device)
            inputs = {k: v.to(acc.device) for k, v in batch.items()}
            with acc.accumulate(self.model):
                logits = self.model(**inputs, use_cache=False).logits
                loss, n_loss = token_cross_entropy(logits, labels)
                acc.backward(loss)
                pending.append(loss.detach())
                if acc.sync_gradients:
                    norm = acc.clip_grad_norm_(self.model.parameters(), config.max_grad_norm)
                    check_update(acc, step + 1, pending, float(norm) if norm is not None else None)
                    pending = []
                    grad_norms.append(float(norm) if norm is not None else float("nan"))
                    self.optimizer.step()
                    self.scheduler.step()
                    self.optimizer.zero_grad(set_to_none=True)
            losses.append(loss.detach().float())
            counts += torch.tensor([float(n_loss), float(inputs["attention_mask"].sum()),
                                    float(inputs["attention_mask"].numel())], dtype=torch.float64, device=acc.device)
        seconds = time.perf_counter() - t0
        mean_loss = acc.reduce(torch.stack(losses).mean().to(acc.device), reduction="mean").item()
        counts = acc.reduce(counts, reduction="sum")
        return {
            "step": step + 1,
            "epoch": self.schedule.epoch(step + 1),
            "loss": mean_loss,
            "loss_tokens": int(counts[0].item()),
            "tokens": int(counts[1].item()),
            "padding_fraction": 1.0 - counts[1].item() / max(counts[2].item(), 1.0),
            "grad_norm": statistics.fmean(grad_norms) if grad_norms else float("nan"),
            "lr": self.scheduler.get_last_lr()[0],
            "step_seconds": seconds,
            "tokens_per_second": counts[1].item() / max(seconds, 1e-9),
        }

    def save_checkpoint(self, step: int) -> None:
        save_checkpoint(self.accelerator, self.model, self.processor, self.output_dir, step, self.max_steps,
                        self.config.keep_checkpoints)

    def train(self) -> dict[str, Any]:
        """The whole run, holding output_dir exclusively (a second trainer on it refuses at once)."""
        with RunDirLock(self.output_dir, enabled=self.is_main):
            return self._train()

    def _train(self) -> dict[str, Any]:
        config, acc = self.config, self.accelerator
        start = start_or_resume(acc, config, self.output_dir, self.log)
        if config.report_to:
            acc.init_trackers("tensorboard", config={k: v for k, v in config.to_dict().items()
                                                     if isinstance(v, (int, float, str, bool))})
        if self.is_main and self.skipped:
            print(f"sft: {self.skipped} records of {config.train_data!r} have no completion and are left out "
                  f"({len(self.examples)} examples)")
        bar = tqdm(total=self.max_steps, initial=start, desc="SFT", disable=not (self.is_main and config.progress_bar))
        t_start = time.perf_counter()
        step_times = []
        for step in range(start, self.max_steps):
            metrics = self._train_step(step)
            step_times.append(metrics["step_seconds"])
            if self.is_main:
                self.log.append_metrics(metrics)
            acc.log({k: v for k, v in metrics.items() if k != "step"}, step=step + 1)
            bar.update(1)
            bar.set_postfix(loss=f"{metrics['loss']:.4f}")
            if config.save_every and (step + 1) % config.save_every == 0 and step + 1 < self.max_steps:
                self.save_checkpoint(step + 1)
        bar.close()
        if start < self.max_steps or not ckpt.latest_checkpoint(self.output_dir):
            self.save_checkpoint(self.max_steps)
        acc.wait_for_everyone()
        check_weights(acc, self.model, self.max_steps, "final/")
        save_model(acc, self.model, self.processor, self.output_dir / "final")
        checksums = gather_object([parameter_checksum(acc, self.model)])
        summary = {
            "steps": self.max_steps, "resumed_from": start, "examples": len(self.examples),
            "skipped_records": self.skipped, "steps_per_epoch": self.schedule.steps_per_epoch,
            "wall_seconds": time.perf_counter() - t_start,
            "mean_step_seconds": statistics.fmean(step_times) if step_times else None,
            "num_processes": acc.num_processes, "parameter_checksums": checksums,
            "ranks_in_sync": len(set(checksums)) == 1,
        }
        if self.is_main:
            (self.output_dir / "train_summary.json").write_text(json.dumps(summary, indent=2))
        acc.wait_for_everyone()  # end_training destroys the process group: every rank gets there together
        acc.end_training()
        return summary


def sft(config: SFTConfig) -> dict[str, Any]:
    """Run SFT as configured: records through the shared loaders, then train; returns the run summary."""
    import dataclasses

    from visualthinker.data import load_records
    from visualthinker.models.builtin import resolve_model_path

    with RunDirLock(config.output_dir):  # before anything loads: a second run on the folder refuses at once
        config = dataclasses.replace(config, model_path=resolve_model_path(config.model_path))
        records = load_records(config.train_data, split=config.train_split, limit=config.train_limit,
                               seed=config.seed, **config.data_options)
        return SFTTrainer(config, records).train()
