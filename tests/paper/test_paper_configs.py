"""A paper dry run: every configs/paper/grpo-*.yaml runs 2 steps on CPU with overrides that only shrink it (the
reduced real Qwen2-VL-2B with the real generation_config.json, synthetic data, short completions, sdpa, small
images, one accumulation step). Decoding, master weights, objective and schedule stay the config's own. The
compute runs in float32: bf16 matmuls against the real 151 936-token vocabulary take ~50 s per backward on a CPU
without bf16 instructions; bf16 compute with fp32 masters is tested by test_precision.py.

A random model earns no accuracy or format reward, so every group's reward std would be 0 and no weight could
move: a test-only reward with in-group variance is added to the config's rewards."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from tests.paper.conftest import PAPER_CONFIGS, needs_real_files
from visualthinker.config import load_config
from visualthinker.trainer.run import load_eval_records, load_train_records

pytestmark = [needs_real_files, pytest.mark.slow]

DECODING_FIELDS = ("do_sample", "temperature", "top_k", "top_p", "repetition_penalty", "max_new_tokens", "num_beams")


def capture_generation_configs(monkeypatch) -> list:
    """Every GenerationConfig `generate` really used, after transformers merged in the model's defaults."""
    from transformers import GenerationMixin

    used = []
    original = GenerationMixin._prepare_generation_config

    def spy(self, generation_config, **kwargs):
        config, model_kwargs = original(self, generation_config, **kwargs)
        used.append(config)
        return config, model_kwargs

    monkeypatch.setattr(GenerationMixin, "_prepare_generation_config", spy)
    return used


def capture_shared_prefix_decoding(monkeypatch, used: list) -> None:
    """The shared-prefix rollout samples without `generate`: read what its logits pipeline really applies (the
    warper objects it built, a missing one meaning that knob is off) into the same fields."""
    from types import SimpleNamespace

    from transformers.generation.logits_process import (
        RepetitionPenaltyLogitsProcessor,
        TemperatureLogitsWarper,
        TopKLogitsWarper,
        TopPLogitsWarper,
    )

    from visualthinker.generation import shared

    original = shared.SharedPrefixGenerator.generate

    def spy(self, prompt_batch, num_samples, sampling):
        steps = shared.LogitsPipeline(sampling, self.banned_ids).steps

        def value(kind, attr, off):
            found = [getattr(s, attr) for s in steps if isinstance(s, kind)]
            return found[0] if found else off

        used.append(SimpleNamespace(
            do_sample=sampling.do_sample, temperature=value(TemperatureLogitsWarper, "temperature", 1.0),
            top_k=value(TopKLogitsWarper, "top_k", 0), top_p=value(TopPLogitsWarper, "top_p", 1.0),
            repetition_penalty=value(RepetitionPenaltyLogitsProcessor, "penalty", 1.0),
            num_return_sequences=num_samples, max_new_tokens=sampling.max_new_tokens, num_beams=1))
        return original(self, prompt_batch, num_samples, sampling)

    monkeypatch.setattr(shared.SharedPrefixGenerator, "generate", spy)


def shrink(config_path, model_dir, out, with_eval: bool) -> list[str]:
    paper = load_config(config_path)
    rewards = [*paper.rewards, "tests.trainer.conftest:index_reward"]
    overrides = [
        f"model_path={model_dir}", "attn_implementation=sdpa", "train_data=synthetic", "train_split=train",
        *([f"init_from={model_dir}"] if paper.init_from else []),  # the cold start's SFT run is not there
        "data_options={n: 4}", "max_steps=2", "gradient_accumulation_steps=1", "mixed_precision='no'",
        "max_completion_length=8", "min_pixels=3136", "max_pixels=12544",
        f"rewards=[{','.join(rewards)}]", f"output_dir={out}", "report_to=[]", "progress_bar=false",
        "save_every=0", "trajectory_images=false",
    ]
    if with_eval:  # this one also samples through `generate` (shared_prefix off): both rollout paths are checked
        overrides += ["shared_prefix=false", "eval_data=synthetic", "eval_split=test", "eval_limit=2", "eval_every=2",
                      "eval_max_new_tokens=4", "eval_batch_size=2"]
    else:
        overrides += ["eval_every=0"]
    return overrides


@pytest.mark.parametrize("config_path", PAPER_CONFIGS, ids=lambda p: p.stem)
def test_paper_config_dry_run(config_path, reduced_real_dir, reduced_real_instruct_dir, tmp_path, monkeypatch,
                              fresh_accelerate_state):
    from visualthinker.trainer.loop import GRPOTrainer

    paper = load_config(config_path)
    model_dir = reduced_real_instruct_dir if paper.template == "instruct" else reduced_real_dir
    with_eval = config_path.name == "grpo-qwen2vl-2b-base-sat.yaml"  # also checks periodic evaluation
    config = load_config(config_path, shrink(config_path, model_dir, tmp_path / "run", with_eval))
    used = capture_generation_configs(monkeypatch)
    capture_shared_prefix_decoding(monkeypatch, used)
    trainer = GRPOTrainer(config, load_train_records(config), load_eval_records(config))
    initial = {n: p.detach().clone() for n, p in trainer.accelerator.unwrap_model(trainer.model).named_parameters()
               if p.requires_grad}
    assert {p.dtype for p in initial.values()} == {torch.float32}  # fp32 masters under bf16 compute
    trainer.train()

    # decoding: exactly the paper config's values, field by field, not the checkpoint's (top_k 1, top_p 0.001...)
    rollouts = [c for c in used if c.do_sample]
    assert len(rollouts) == 2 * config.gradient_accumulation_steps
    for c in rollouts:
        assert (c.temperature, c.top_k, c.top_p, c.repetition_penalty, c.num_return_sequences) == (
            paper.temperature, paper.top_k, paper.top_p, paper.repetition_penalty, paper.num_generations)
        assert c.max_new_tokens == 8 and c.num_beams == 1
    evals = [c for c in used if not c.do_sample]
    if with_eval:
        assert len(evals) == 2  # at step 0 and step 2
        for c in evals:
            assert (c.repetition_penalty, c.max_new_tokens, c.num_beams, c.num_return_sequences) == (1.0, 4, 1, 1)
    # distinct samples in every group
    out = tmp_path / "run"
    rows = [json.loads(line) for step in (1, 2)
            for line in (out / "trajectories" / f"step-{step}.jsonl").read_text().splitlines()]
    groups: dict[tuple, list[str]] = {}
    for row in rows:
        groups.setdefault((row["step"], row["group_index"]), []).append(row["completion"])
    assert all(len(set(c)) == paper.num_generations == len(c) for c in groups.values())
    # the weights moved, and only the trainable ones
    final = load_file(str(out / "final" / "model.safetensors"))
    moved = [n for n, w in initial.items() if not torch.equal(final[_saved_name(n, final)].float(), w)]
    assert len(moved) > 0.5 * len(initial), f"only {len(moved)} of {len(initial)} trainable tensors moved"
    metrics = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    train_rows = [m for m in metrics if "loss" in m]
    # the scheduler's horizon is the original run's, not max_steps: lr after 2 steps is still near 1e-6
    horizon = paper.lr_schedule_steps or paper.max_steps
    assert train_rows[-1]["lr"] == pytest.approx(paper.learning_rate * (1 - 2 / horizon))


def _saved_name(name: str, saved: dict) -> str:
    """Saved checkpoints use the legacy key names of the real checkpoint (model.layers..., visual...)."""
    if name in saved:
        return name
    for old, new in (("model.language_model.", "model."), ("model.visual.", "visual.")):
        if name.startswith(old) and name.replace(old, new, 1) in saved:
            return name.replace(old, new, 1)
    raise KeyError(name)
