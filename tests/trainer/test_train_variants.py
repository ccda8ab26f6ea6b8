"""One-step runs of the objective variants and training options through the real loop."""

import json

import pytest
import torch
from safetensors.torch import load_file

from tests.trainer.conftest import make_records
from tests.trainer.test_train_run import _config
from visualthinker.trainer.loop import GRPOTrainer

PLUGIN = "rewards=[tests.trainer.conftest:index_reward]"


def _metrics(out):
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("extra", [
    ["loss_aggregation=token_mean"],
    ["loss_aggregation=dr_grpo", "scale_rewards=false"],
    ["loss_aggregation=bnpo"],
    ["num_iterations=2", "epsilon_high=0.28"],
    ["gradient_checkpointing=true"],
    ["beta=0.0"],
])
def test_variant_trains(tiny_model_dir, tmp_path, extra):
    out = tmp_path / "run"
    GRPOTrainer(_config(tiny_model_dir, out, "max_steps=1", PLUGIN, *extra), make_records(2)).train()
    row = _metrics(out)[0]
    assert row["grad_norm"] > 0 and row["loss"] == row["loss"]
    before, after = load_file(str(tiny_model_dir / "model.safetensors")), load_file(str(out / "final" / "model.safetensors"))
    assert any(not torch.equal(before[k], after[k]) for k in before)
    if "num_iterations=2" in extra:
        assert row["lr"] < 1e-3  # the linear schedule stepped twice (once per policy update)


def test_lora_trains_only_adapters_and_uses_base_as_reference(tiny_model_dir, tmp_path):
    pytest.importorskip("peft")
    out = tmp_path / "lora"
    trainer = GRPOTrainer(_config(tiny_model_dir, out, "max_steps=1", PLUGIN, "lora_rank=4", "beta=0.04"),
                          make_records(2))
    assert trainer.ref_model is None
    trainable = [n for n, p in trainer.model.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n for n in trainable)
    trainer.train()
    assert _metrics(out)[0]["kl"] >= 0


def test_periodic_evaluation_is_logged(tiny_model_dir, tmp_path):
    out = tmp_path / "eval"
    records = make_records(4)
    trainer = GRPOTrainer(_config(tiny_model_dir, out, "max_steps=2", "eval_every=2", "eval_data=probe",
                                  "eval_max_new_tokens=4"), records, eval_records=records[:3])
    trainer.train()
    rows = _metrics(out)
    evals = [r for r in rows if "eval/probe/accuracy" in r]
    assert [r["step"] for r in evals] == [0, 2]  # the base model at step 0, then every eval_every steps
    assert all(0 <= r["eval/probe/accuracy"] <= 1 and r["eval/probe/response_length"] > 0 for r in evals)
    assert evals[0]["eval/probe/n"] == 3
