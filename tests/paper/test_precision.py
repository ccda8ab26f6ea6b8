"""Precision that learns at lr 1e-6: under the paper's settings (bf16 compute, fp32 master weights) one AdamW step
moves the weights as the fp32 reference step does; pure bf16 weights round most of the update away."""

from __future__ import annotations

import pytest
import torch

from tests.paper.conftest import PAPER_CONFIGS, needs_real_files
from visualthinker.config import load_config
from visualthinker.models import get_adapter
from visualthinker.trainer.launch import build_accelerator
from visualthinker.trainer.setup import build_optimizer, build_policy

pytestmark = needs_real_files
BASE_CONFIG = next(p for p in PAPER_CONFIGS if p.name == "grpo-qwen2vl-2b-base-sat.yaml")


def one_step(model_dir, tmp_path, *overrides: str) -> tuple[float, dict[str, torch.Tensor]]:
    """One AdamW step at the config's lr (1e-6) on a fixed language-model loss; returns the share of trainable
    weights whose stored value changed and the change of each weight (in float32)."""
    from accelerate.state import AcceleratorState

    AcceleratorState._reset_state(reset_partial_state=True)
    config = load_config(BASE_CONFIG, [f"model_path={model_dir}", "attn_implementation=sdpa",
                                       "gradient_checkpointing=false", f"output_dir={tmp_path}", *overrides])
    accelerator = build_accelerator(1, config.mixed_precision, None, tmp_path)
    model = build_policy(get_adapter(str(model_dir)), config)
    optimizer, _ = build_optimizer(model, config)
    model, optimizer = accelerator.prepare(model, optimizer)
    params = {n: p for n, p in model.named_parameters() if p.requires_grad}
    before = {n: p.detach().clone() for n, p in params.items()}
    ids = (torch.arange(8).view(1, 8) * 1877 + 11) % 150000  # fixed ordinary tokens
    loss = model(input_ids=ids, attention_mask=torch.ones_like(ids), labels=ids, use_cache=False).loss
    accelerator.backward(loss)
    optimizer.step()
    moved = sum(int((p.detach() != before[n]).sum()) for n, p in params.items())
    total = sum(p.numel() for p in params.values())
    deltas = {n: (p.detach().float() - before[n].float()) for n, p in params.items()}
    return moved / total, deltas


@pytest.mark.slow
def test_paper_precision_moves_the_weights_as_fp32_does(reduced_real_dir, tmp_path, fresh_accelerate_state):
    reference_share, reference = one_step(reduced_real_dir, tmp_path / "fp32", "dtype=float32",
                                          "mixed_precision='no'")
    paper_share, paper = one_step(reduced_real_dir, tmp_path / "paper")  # the config's own precision keys
    pure_share, _ = one_step(reduced_real_dir, tmp_path / "pure", "low_precision_weights=true")
    print(f"share of weights moved by one AdamW step at lr 1e-6: fp32 {reference_share:.4f}, "
          f"paper precision {paper_share:.4f}, pure bf16 weights {pure_share:.4f}")
    assert reference_share > 0.9
    assert paper_share >= 0.99 * reference_share
    assert pure_share < 0.5 * reference_share  # the failure the master weights prevent
    # the same update, not just some update: AdamW's first step is about lr * sign(grad)
    ref = torch.cat([d.flatten() for d in reference.values()])
    got = torch.cat([paper[n].flatten() for n in reference])
    agree = ((torch.sign(ref) == torch.sign(got)) | (ref.abs() < 1e-8)).float().mean().item()
    assert agree > 0.9, agree
    assert got.abs().max().item() <= 1.1e-6 and abs(got.abs().mean().item() / ref.abs().mean().item() - 1) < 0.1


def test_policy_weights_are_fp32_unless_asked(reduced_real_dir, caplog):
    config = load_config(BASE_CONFIG, [f"model_path={reduced_real_dir}", "attn_implementation=sdpa"])
    adapter = get_adapter(str(reduced_real_dir))
    assert config.dtype == "bfloat16" and config.mixed_precision == "bf16" and not config.low_precision_weights
    assert {p.dtype for p in build_policy(adapter, config).parameters()} == {torch.float32}
    pure = load_config(BASE_CONFIG, [f"model_path={reduced_real_dir}", "attn_implementation=sdpa",
                                     "low_precision_weights=true"])
    with caplog.at_level("WARNING"):
        assert {p.dtype for p in build_policy(adapter, pure).parameters()} == {torch.bfloat16}
    assert "no float32 copy" in caplog.text
