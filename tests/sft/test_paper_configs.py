"""Every configs/paper/sft-*.yaml runs 2 steps at tiny scale with shrinking overrides only (model, data, image
size, precision, steps), and the cold-start GRPO config starts from the cold-start SFT run (init_from)."""

import json
from pathlib import Path

import pytest

from tests.sft.conftest import SMALL
from visualthinker.config import load_config
from visualthinker.data import load_records
from visualthinker.sft.config import load_sft_config
from visualthinker.sft.loop import SFTTrainer

PAPER = Path(__file__).resolve().parents[2] / "configs" / "paper"
SFT_CONFIGS = sorted(PAPER.glob("sft-*.yaml"))
TINY = ["dtype=float32", "mixed_precision=no", "attn_implementation=null", "train_data=synthetic",
        "data_options={n: 8}", "max_steps=2", *SMALL]


def _records():
    return load_records("synthetic", split="train", n=8, seed=42)


def _coldstart_file(tmp_path: Path) -> Path:
    path = tmp_path / "cold.jsonl"
    path.write_text("".join(json.dumps({"id": r.id, "completion": f" I look. </think> <answer>{r.answer}</answer>"})
                            + "\n" for r in _records()))
    return path


def test_every_paper_config_is_valid():
    assert {p.name for p in SFT_CONFIGS} >= {"sft-qwen2vl-2b-base-sat.yaml", "sft-qwen2vl-2b-base-coldstart.yaml"}
    for path in sorted(PAPER.glob("*.yaml")):
        text = path.read_text().lower()
        assert "reproduc" in text and "launch" in text, f"{path.name}: state the number and the launch command"
        if path.name.startswith("sft-"):
            load_sft_config(path, ["completions=" + __file__] if "coldstart" in path.name else [])
        else:
            load_config(path)


@pytest.mark.parametrize("path", SFT_CONFIGS, ids=lambda p: p.stem)
def test_sft_config_runs_two_steps(path, tiny_model_dir, tmp_path):
    extra = [f"completions={_coldstart_file(tmp_path)}"] if "coldstart" in path.name else []
    out = tmp_path / "run"
    config = load_sft_config(path, [f"model_path={tiny_model_dir}", f"output_dir={out}", *TINY, *extra])
    summary = SFTTrainer(config, _records()).train()
    assert summary["steps"] == 2 and (out / "final" / "model.safetensors").exists()
    if "coldstart" in path.name:  # then the RL stage from it, as its config says
        from visualthinker.trainer.loop import GRPOTrainer

        grpo = load_config(PAPER / "grpo-qwen2vl-2b-base-sat-coldstart.yaml", [
            f"model_path={tiny_model_dir}", f"init_from={out}", f"output_dir={tmp_path / 'rl'}", *TINY,
            "num_generations=2", "max_completion_length=8", "eval_data=null", "eval_every=0"])
        assert GRPOTrainer(grpo, _records()).train()["steps"] == 2
