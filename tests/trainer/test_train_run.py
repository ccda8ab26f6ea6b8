"""End-to-end training runs on the tiny model: outputs, resume equivalence, freezing, bad input."""

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from tests.trainer.conftest import make_records
from visualthinker.config import load_config
from visualthinker.errors import ConfigError, DataError, ModelError
from visualthinker.trainer import checkpoint as ckpt
from visualthinker.trainer.loop import GRPOTrainer

BASE = [
    "num_generations=3", "per_device_prompts=2", "gradient_accumulation_steps=2", "max_completion_length=8",
    "learning_rate=1e-3", "report_to=[]", "progress_bar=false", "min_pixels=3136", "max_pixels=12544",
    "eval_every=0",
]


def _config(model_dir, out, *extra):
    return load_config(None, [f"model_path={model_dir}", f"output_dir={out}", *BASE, *extra])


def _weights(directory: Path) -> dict[str, torch.Tensor]:
    return load_file(str(directory / "model.safetensors"))


def test_run_writes_every_output(tiny_model_dir, tmp_path):
    out = tmp_path / "run"
    GRPOTrainer(_config(tiny_model_dir, out, "max_steps=2", "save_every=1", "rewards=[accuracy,format,length]"),
                make_records(4)).train()
    assert (out / "config.yaml").exists() and (out / "final" / "model.safetensors").exists()
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2]
    for key in ("loss", "reward", "reward_std", "rewards/accuracy/mean", "rewards/format/mean", "rewards/length/mean",
                "kl", "completion_length/mean", "completion_length/max", "clip_ratio", "frac_reward_zero_std", "lr",
                "step_seconds", "tokens_per_second"):
        assert key in rows[0], key
    traj = [json.loads(line) for line in (out / "trajectories" / "step-2.jsonl").read_text().splitlines()]
    assert len(traj) == 2 * 2 * 3  # accumulation x prompts x G
    for key in ("step", "prompt_id", "group_index", "sample_index", "prompt", "completion", "rewards", "reward",
                "advantage", "completion_tokens", "finished"):
        assert key in traj[0], key
    assert [t["sample_index"] for t in traj[:6]] == [0, 1, 2, 0, 1, 2]
    assert len({t["prompt_id"] for t in traj if t["group_index"] == 0}) == 1
    assert (out / traj[0]["image"]).exists()
    assert [s for s, _ in ckpt.complete_checkpoints(out)] == [1, 2]
    state = out / "checkpoints" / "step-2"
    from transformers import Qwen2VLForConditionalGeneration

    Qwen2VLForConditionalGeneration.from_pretrained(state)  # an ordinary HF model directory
    assert any((state / "state").iterdir())


def test_refuses_to_overwrite_a_run(tiny_model_dir, tmp_path):
    out = tmp_path / "run"
    GRPOTrainer(_config(tiny_model_dir, out, "max_steps=1"), make_records(2)).train()
    with pytest.raises(ConfigError, match="resume=true"):
        GRPOTrainer(_config(tiny_model_dir, out, "max_steps=1"), make_records(2)).train()


class _Interrupt(Exception):
    pass


def test_killed_and_resumed_run_ends_with_same_weights(tiny_model_dir, tmp_path, monkeypatch):
    records = make_records(4)
    straight = tmp_path / "straight"
    GRPOTrainer(_config(tiny_model_dir, straight, "max_steps=4", "save_every=2"), records).train()

    resumed = tmp_path / "resumed"
    original = GRPOTrainer._train_step

    def dying_step(self, step):
        if step == 3:  # killed during step 4, after the step-2 checkpoint and a logged step 3
            raise _Interrupt
        return original(self, step)

    monkeypatch.setattr(GRPOTrainer, "_train_step", dying_step)
    with pytest.raises(_Interrupt):
        GRPOTrainer(_config(tiny_model_dir, resumed, "max_steps=4", "save_every=2"), records).train()
    # a checkpoint interrupted mid-write must never be used
    (resumed / "checkpoints" / ".tmp-step-3").mkdir()
    (resumed / "checkpoints" / "step-3").mkdir()  # no completion marker
    monkeypatch.setattr(GRPOTrainer, "_train_step", original)
    summary = GRPOTrainer(_config(tiny_model_dir, resumed, "max_steps=4", "save_every=2", "resume=true"),
                          records).train()
    assert summary["resumed_from"] == 2
    a, b = _weights(straight / "final"), _weights(resumed / "final")
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    steps = [json.loads(line)["step"] for line in (resumed / "metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4]  # step 3 of the killed run was replaced, not duplicated
    first = [json.loads(x) for x in (straight / "metrics.jsonl").read_text().splitlines()]
    second = [json.loads(x) for x in (resumed / "metrics.jsonl").read_text().splitlines()]
    assert [r["reward"] for r in first] == [r["reward"] for r in second]


@pytest.mark.parametrize("frozen", ["freeze_vision", "freeze_llm"])
def test_frozen_parts_do_not_change(tiny_model_dir, tmp_path, frozen):
    out = tmp_path / frozen
    GRPOTrainer(_config(tiny_model_dir, out, "max_steps=2", f"{frozen}=true", "beta=0.0",
                        "learning_rate=1e-2", "rewards=[tests.trainer.conftest:index_reward]"),
                make_records(2)).train()
    before, after = _weights(tiny_model_dir), _weights(out / "final")
    vision = [k for k in before if k.startswith("visual.") or ".visual." in k]
    llm = [k for k in before if k not in vision]
    assert vision and llm
    frozen_keys, trained_keys = (vision, llm) if frozen == "freeze_vision" else (llm, vision)
    assert all(torch.equal(before[k], after[k]) for k in frozen_keys)
    assert any(not torch.equal(before[k], after[k]) for k in trained_keys)


def test_bad_inputs_give_one_line_errors(tiny_model_dir, tmp_path):
    with pytest.raises(ModelError, match="model_path|cannot be loaded|not found"):
        GRPOTrainer(_config(tmp_path / "missing", tmp_path / "o"), make_records(2))
    broken = make_records(2)
    broken[1].images = [b"\x89PNG not really an image"]
    trainer = GRPOTrainer(_config(tiny_model_dir, tmp_path / "o2", "max_steps=1", "per_device_prompts=2",
                                  "gradient_accumulation_steps=1"), broken)
    with pytest.raises(DataError, match="r1.*cannot be decoded"):
        trainer.train()
