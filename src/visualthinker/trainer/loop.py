"""The GRPO training loop on accelerate: one code path for one CPU process, DDP, FSDP2, DeepSpeed ZeRO and
multi-node. It orchestrates; the math is in grpo/, the model specifics in models/, the rewards in rewards/."""

from __future__ import annotations

import dataclasses
import json
import logging
import statistics
import time
from pathlib import Path
from typing import Any

import torch
from accelerate.utils import gather_object, set_seed
from tqdm.auto import tqdm

from visualthinker.config import TrainConfig
from visualthinker.data.record import Record
from visualthinker.errors import ConfigError
from visualthinker.generation.base import SamplingConfig
from visualthinker.generation.hf import HFGenerator
from visualthinker.generation.shared import SharedPrefixGenerator
from visualthinker.models.adapter import get_adapter
from visualthinker.prompts import PromptSpec
from visualthinker.rewards.registry import resolve_reward, reward_name
from visualthinker.runlock import RunDirLock
from visualthinker.trainer import checkpoint as ckpt
from visualthinker.trainer import guards
from visualthinker.trainer.launch import (
    build_accelerator,
    generation_model,
    generation_weights,
    is_sharded,
    parameter_checksum,
    prepare_policy,
    prepare_reference,
    save_model,
)
from visualthinker.trainer.outputs import RunLog
from visualthinker.trainer.rollout import Experience, ExperienceMaker, experience_logprobs, policy_loss
from visualthinker.trainer.rundir import save_checkpoint, start_or_resume
from visualthinker.trainer.sampler import PromptSchedule
from visualthinker.trainer.setup import build_optimizer, build_policy, build_reference


def _reward_fns(config: TrainConfig) -> tuple[dict[str, Any], dict[str, float]]:
    fns, weights = {}, {}
    for i, spec in enumerate(config.rewards):
        name = reward_name(spec)
        options = dict(config.reward_options.get(spec, config.reward_options.get(name, {})))
        if name == "format" and config.format_strict:
            options.setdefault("strict", True)
        fns[name] = resolve_reward(spec, options)
        weights[name] = config.reward_weights[i] if config.reward_weights else 1.0
    return fns, weights


logger = logging.getLogger("visualthinker.trainer")


@dataclasses.dataclass(frozen=True)
class SharedPrefixPlan:
    """Where the prompt is computed once per group: in rollouts (generation, reference and old-policy log-probs)
    and in the policy forward with gradients; `reason` says why a part runs the plain path."""

    rollout: bool
    policy: bool
    reason: str = ""


def shared_prefix_plan(config: TrainConfig) -> SharedPrefixPlan:
    """On for every launch (one process, DDP, ZeRO-2/3, FSDP2: the log-prob passes run as the wrapped model's
    forward) and with gradient checkpointing; off only when the config turns it off."""
    if not config.shared_prefix:
        return SharedPrefixPlan(False, False, "shared_prefix=false")
    return SharedPrefixPlan(True, True)


PAD_ID = "__visualthinker_pad__"  # filler items that even out eval shards across ranks


class GRPOTrainer:
    def __init__(self, config: TrainConfig, train_records: list[Record],
                 eval_records: list[Record] | None = None) -> None:
        self.config = config
        self.output_dir = Path(config.output_dir)
        self.accelerator = build_accelerator(config.gradient_accumulation_steps, config.mixed_precision,
                                             config.report_to, self.output_dir)
        set_seed(config.seed, device_specific=True)  # different samples on each rank, same on every rerun
        self.train_records = train_records
        self.eval_records = eval_records or []
        self.adapter = get_adapter(config.model_path)
        self.processor = self.adapter.load_processor(config.model_path, config.min_pixels, config.max_pixels)

        model = build_policy(self.adapter, config)
        optimizer, self.scheduler = build_optimizer(model, config)
        # One backward sees the completions of one micro-batch: per_device_prompts x G.
        self.model, self.optimizer = prepare_policy(self.accelerator, model, optimizer, self.scheduler,
                                                    config.per_device_prompts * config.num_generations,
                                                    config.max_grad_norm, self.adapter.fsdp_wrap_classes)
        ref = build_reference(self.adapter, config)
        self.ref_model = (prepare_reference(self.accelerator, ref, self.adapter.fsdp_wrap_classes)
                          if ref is not None else None)

        self.shared = shared_prefix_plan(config)
        if self.is_main:
            logger.info("shared prefix: generation and reference/old-policy log-probs %s, policy pass %s%s",
                        "on" if self.shared.rollout else "off", "on" if self.shared.policy else "off",
                        f" ({self.shared.reason})" if self.shared.reason else "")
        synced = is_sharded(self.accelerator)
        self.generator = HFGenerator(generation_model(self.accelerator, self.model), self.adapter, self.processor,
                                     synced_gpus=synced)
        # Evaluation keeps `generate` (greedy, one sample per prompt: nothing to share).
        rollout_generator = (SharedPrefixGenerator(generation_model(self.accelerator, self.model), self.adapter,
                                                   self.processor, synced_gpus=synced)
                             if self.shared.rollout else self.generator)
        self.sampling = SamplingConfig(max_new_tokens=config.max_completion_length, do_sample=True,
                                       temperature=config.temperature, top_k=config.top_k, top_p=config.top_p,
                                       repetition_penalty=config.repetition_penalty)
        self.prompt_spec = PromptSpec(template=config.template, literal_image_tag=config.literal_image_tag)
        reward_fns, self.reward_weights = _reward_fns(config)
        self.maker = ExperienceMaker(self.adapter, self.processor, rollout_generator, self.prompt_spec, self.sampling,
                                     config.num_generations, reward_fns, self.reward_weights, config.scale_rewards,
                                     config.advantage_eps, config.min_pixels, config.max_pixels)
        self.schedule = PromptSchedule(len(train_records), config.seed, config.per_device_prompts,
                                       self.accelerator.num_processes, self.accelerator.process_index)
        self.log = RunLog(self.output_dir)

    # -- helpers ---------------------------------------------------------------------------------------------
    @property
    def is_main(self) -> bool:
        return self.accelerator.is_main_process

    def _prepare_output_dir(self) -> int:
        """Returns the step to start from (0, or the last complete checkpoint's when resuming)."""
        start = start_or_resume(self.accelerator, self.config, self.output_dir, self.log)
        if self.is_main:
            self._save_eval_subset()
        self.accelerator.wait_for_everyone()
        return start

    def _save_eval_subset(self) -> None:
        """eval_subset.json: the ids every periodic evaluation uses; a resumed run must draw the same ones."""
        if not (self.config.eval_every and self.eval_records):
            return
        from visualthinker.evaluation.subset import subset_manifest

        c = self.config
        manifest = subset_manifest(self.eval_records, data=c.eval_data, split=c.eval_split, seed=c.seed,
                                   limit=c.eval_limit)
        path = self.output_dir / "eval_subset.json"
        if self.config.resume and path.exists() and json.loads(path.read_text())["ids"] != manifest["ids"]:
            raise ConfigError(f"{path} lists other periodic-evaluation items than this run would use (eval_data, "
                              "eval_limit or seed changed?); resume with the settings the run started with")
        path.write_text(json.dumps(manifest, indent=1) + "\n")

    @torch.no_grad()
    def _reference_logprobs(self, exp: Experience) -> None:
        T, shared = self.config.temperature, self.shared.rollout
        if self.config.beta > 0:
            if self.ref_model is not None:
                # the reference is not prepared by accelerate (never checkpointed), so mixed precision is applied
                # here as accelerate applies it to the policy's forward (a no-op under DeepSpeed and without it)
                with self.accelerator.autocast():
                    exp.ref_logp = experience_logprobs(self.ref_model, exp, T, shared)
            else:  # LoRA: the base weights with the adapter switched off are the reference
                with self.accelerator.unwrap_model(self.model).disable_adapter():
                    exp.ref_logp = experience_logprobs(self.model, exp, T, shared)
        if self.config.num_iterations > 1:
            exp.old_logp = experience_logprobs(self.model, exp, T, shared)

    def _token_normalizer(self, exps: list[Experience]) -> float | None:
        """token_mean divides by the tokens of the whole step on all ranks; rescaled because accelerate divides
        the loss by the accumulation steps and DDP averages over ranks."""
        if self.config.loss_aggregation != "token_mean":
            return None
        local = torch.tensor(sum(float(e.completion_mask.sum()) for e in exps), device=self.accelerator.device)
        total = self.accelerator.reduce(local, reduction="sum").item()
        return max(total, 1.0) / (self.accelerator.num_processes * self.config.gradient_accumulation_steps)

    # -- one optimizer step ----------------------------------------------------------------------------------
    def _train_step(self, step: int) -> tuple[dict[str, float], list[Experience]]:
        config = self.config
        t0 = time.perf_counter()
        self.model.eval()
        exps = []
        for micro in range(config.gradient_accumulation_steps):
            records = [self.train_records[i] for i in self.schedule.indices(step, micro, config.gradient_accumulation_steps)]
            # autocast here too: shared-prefix generation calls the model's modules, past accelerate's wrapped forward
            with generation_weights(self.accelerator, self.model), self.accelerator.autocast():
                exp = self.maker.make(records, self.accelerator.device)
            with self.accelerator.autocast():
                self._reference_logprobs(exp)
            exps.append(exp)
        guards.check_rollouts(self.accelerator, step + 1, exps)  # before a NaN advantage reaches the loss
        gen_seconds = time.perf_counter() - t0
        self.model.train()
        normalizer = self._token_normalizer(exps)
        losses, kls, clips, grad_norms, pending = [], [], [], [], []
        for _ in range(config.num_iterations):
            for exp in exps:
                with self.accelerator.accumulate(self.model):
                    with self.accelerator.autocast():
                        # the fused output head + loss is tested in one process only (docs/performance.md)
                        out = policy_loss(self.model, exp, config.temperature, self.shared.policy,
                                          fused_head=self.accelerator.num_processes == 1, beta=config.beta,
                                          epsilon_low=config.epsilon_low, epsilon_high=config.epsilon_high,
                                          aggregation=config.loss_aggregation, token_normalizer=normalizer,
                                          max_completion_length=config.max_completion_length)
                    self.accelerator.backward(out.loss)
                    pending.append(out.loss.detach())
                    if self.accelerator.sync_gradients:
                        norm = self.accelerator.clip_grad_norm_(self.model.parameters(), config.max_grad_norm)
                        guards.check_update(self.accelerator, step + 1, pending,
                                            float(norm) if norm is not None else None)
                        pending = []
                        grad_norms.append(float(norm) if norm is not None else float("nan"))
                        self.optimizer.step()
                        self.scheduler.step()
                        self.optimizer.zero_grad(set_to_none=True)
                losses.append(out.loss.detach())
                kls.append(out.kl)
                clips.append(out.clip_ratio)
        seconds = time.perf_counter() - t0
        metrics = self._step_metrics(step, exps, losses, kls, clips, grad_norms, seconds, gen_seconds)
        return metrics, exps

    def _step_metrics(self, step: int, exps: list[Experience], losses, kls, clips, grad_norms,
                      seconds: float, gen_seconds: float) -> dict[str, float]:
        acc = self.accelerator
        G = self.config.num_generations
        dev = acc.device
        rewards = acc.gather(torch.cat([e.rewards for e in exps]).to(dev))
        lengths = acc.gather(torch.cat([e.completion_mask.sum(-1).float() for e in exps]).to(dev))
        finished = acc.gather(torch.cat([e.finished.float() for e in exps]).to(dev))
        per_reward = {name: acc.gather(torch.cat([e.reward_values[name] for e in exps]).to(dev))
                      for name in exps[0].reward_values}
        scalars = acc.gather(torch.stack([torch.stack(losses).mean(), torch.stack(kls).mean(),
                                          torch.stack(clips).mean()]).float().unsqueeze(0)).mean(0)
        group_std = rewards.view(-1, G).std(dim=1) if G > 1 else torch.zeros(rewards.numel())
        done = lengths[finished > 0]
        row = {
            "step": step + 1,
            "loss": scalars[0].item(),
            "reward": rewards.mean().item(),
            "reward_std": group_std.mean().item(),
            **{f"rewards/{name}/mean": v.mean().item() for name, v in per_reward.items()},
            **{f"rewards/{name}/std": v.std().item() if v.numel() > 1 else 0.0 for name, v in per_reward.items()},
            "kl": scalars[1].item(),
            "completion_length/mean": lengths.mean().item(),
            "completion_length/max": lengths.max().item(),
            "completion_length/min": lengths.min().item(),
            "completion_length/finished_mean": done.mean().item() if done.numel() else float("nan"),
            "finished_ratio": finished.mean().item(),
            "clip_ratio": scalars[2].item(),
            "frac_reward_zero_std": (group_std < 1e-6).float().mean().item(),
            "grad_norm": statistics.fmean(grad_norms) if grad_norms else float("nan"),
            "lr": self.scheduler.get_last_lr()[0],
            "step_seconds": seconds,
            "generation_seconds": gen_seconds,
            "tokens_per_second": lengths.sum().item() / max(seconds, 1e-9),
            "num_completions": rewards.numel(),
            # which path this step ran (1: each prompt computed once per group), as decided at start-up
            "shared_prefix/generation": float(isinstance(self.maker.generator, SharedPrefixGenerator)),
            "shared_prefix/policy": float(self.shared.policy),
        }
        return row

    def _trajectories(self, step: int, exps: list[Experience]) -> None:
        G = self.config.num_generations
        rows = []
        for exp in exps:
            lengths = exp.completion_mask.sum(-1).tolist()
            for i, record in enumerate(exp.records):
                image = None
                if self.config.trajectory_images and exp.thumbnails and exp.thumbnails[i] is not None:
                    image = self.log.thumbnail(record.id, exp.thumbnails[i])
                for g in range(G):
                    n = i * G + g
                    rows.append({
                        "step": step + 1, "prompt_id": record.id, "sample_index": g,
                        "task": record.task, "prompt": exp.prompt_texts[i], "completion": exp.texts[n],
                        "answer": record.answer,
                        "rewards": {name: float(v[n]) for name, v in exp.reward_values.items()},
                        "reward": float(exp.rewards[n]), "advantage": float(exp.advantages[n]),
                        "completion_tokens": int(lengths[n]), "finished": bool(exp.finished[n]),
                        "image": image,
                    })
        gathered = gather_object(rows)
        if self.is_main:
            for n, row in enumerate(gathered):  # rows are prompt-major on every rank, G per group
                row["group_index"] = n // G
            self.log.write_trajectories(step + 1, gathered)

    # -- evaluation and checkpoints --------------------------------------------------------------------------
    def evaluate(self, step: int) -> dict[str, float]:
        """Greedy evaluation on the periodic set, sharded over ranks; logs eval/<name>/accuracy and length."""
        from visualthinker.evaluation import evaluate_records
        from visualthinker.evaluation.runner import periodic_eval_spec

        acc = self.accelerator
        shard = self.eval_records[acc.process_index::acc.num_processes]
        synced = self.generator.synced_gpus
        if synced:  # ZeRO-3 / FSDP: every rank must run the same number of generate calls
            per_rank = -(-len(self.eval_records) // acc.num_processes)
            shard = shard + [dataclasses.replace(self.eval_records[0], id=f"{PAD_ID}{k}")
                             for k in range(per_rank - len(shard))]
        model = acc.unwrap_model(self.model)
        with generation_weights(acc, self.model):
            result = evaluate_records(model, self.adapter, self.processor, shard,
                                      periodic_eval_spec(self.prompt_spec),
                                      max_new_tokens=self.config.eval_max_new_tokens,
                                      batch_size=self.config.eval_batch_size, return_items=True,
                                      synced_gpus=synced)
        items = [i for i in result["items"] if not str(i["id"]).startswith(PAD_ID)]
        sums = torch.tensor([sum(bool(i["correct"]) for i in items),
                             sum(float(i["response_tokens"] or 0) for i in items),
                             sum(bool(i.get("format_failure")) for i in items), len(items)],
                            dtype=torch.float64, device=acc.device)
        sums = acc.reduce(sums, reduction="sum")
        n = max(sums[3].item(), 1.0)
        name = self._eval_name()
        return {"step": step, f"eval/{name}/accuracy": sums[0].item() / n,
                f"eval/{name}/response_length": sums[1].item() / n,
                f"eval/{name}/format_failure_rate": sums[2].item() / n, f"eval/{name}/n": int(sums[3].item())}

    def _eval_name(self) -> str:
        data = self.config.eval_data or "eval"
        return Path(data).name if ("/" in data or "\\" in data) else data

    def save_checkpoint(self, step: int) -> None:
        save_checkpoint(self.accelerator, self.model, self.processor, self.output_dir, step, self.config.max_steps,
                        self.config.keep_checkpoints)

    def _save_model(self, directory: Path) -> None:
        save_model(self.accelerator, self.model, self.processor, directory)

    def parameter_checksum(self) -> str:
        return parameter_checksum(self.accelerator, self.model)

    # -- the loop --------------------------------------------------------------------------------------------
    def train(self) -> dict[str, Any]:
        """The whole run, holding output_dir exclusively (a second trainer on it refuses at once)."""
        with RunDirLock(self.output_dir, enabled=self.is_main):
            return self._train()

    def _train(self) -> dict[str, Any]:
        config = self.config
        start = self._prepare_output_dir()
        if config.report_to:
            self.accelerator.init_trackers("tensorboard", config={k: v for k, v in config.to_dict().items()
                                                                   if isinstance(v, (int, float, str, bool))})
        if config.eval_every and self.eval_records and start == 0:
            row = self.evaluate(0)
            if self.is_main:
                self.log.append_metrics(row)
        bar = tqdm(total=config.max_steps, initial=start, desc="GRPO", disable=not (self.is_main and config.progress_bar))
        t_start = time.perf_counter()
        step_times = []
        for step in range(start, config.max_steps):
            metrics, exps = self._train_step(step)
            step_times.append(metrics["step_seconds"])
            if config.trajectories_every and (step + 1) % config.trajectories_every == 0:
                self._trajectories(step, exps)
            if config.eval_every and self.eval_records and (step + 1) % config.eval_every == 0:
                metrics.update(self.evaluate(step + 1))
            if self.is_main:
                self.log.append_metrics(metrics)
            self.accelerator.log({k: v for k, v in metrics.items() if k != "step"}, step=step + 1)
            bar.update(1)
            bar.set_postfix(reward=f"{metrics['reward']:.3f}", len=f"{metrics['completion_length/mean']:.0f}")
            if config.save_every and (step + 1) % config.save_every == 0 and step + 1 < config.max_steps:
                self.save_checkpoint(step + 1)
        bar.close()
        if start < config.max_steps or not ckpt.latest_checkpoint(self.output_dir):
            self.save_checkpoint(config.max_steps)
        final = self.output_dir / "final"
        self.accelerator.wait_for_everyone()
        guards.check_weights(self.accelerator, self.model, config.max_steps, "final/")
        self._save_model(final)
        checksums = gather_object([self.parameter_checksum()])
        summary = {
            "steps": config.max_steps, "resumed_from": start, "wall_seconds": time.perf_counter() - t_start,
            "mean_step_seconds": statistics.fmean(step_times) if step_times else None,
            "num_processes": self.accelerator.num_processes, "parameter_checksums": checksums,
            "ranks_in_sync": len(set(checksums)) == 1,
        }
        if self.is_main:
            (self.output_dir / "train_summary.json").write_text(json.dumps(summary, indent=2))
        # end_training destroys the process group: every rank must get there together, or one can hang
        self.accelerator.wait_for_everyone()
        self.accelerator.end_training()
        return summary
