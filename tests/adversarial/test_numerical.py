"""Numerical faults stop the run with the step and the source named, before the weights change; non-finite weights
are never saved. One case runs as a real `visualthinker train` process to check the exit status end to end."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.adversarial.conftest import assert_clear_error, cli, train_config, write_records_dir
from visualthinker.errors import TrainingError
from visualthinker.trainer import guards

ROOT = Path(__file__).resolve().parents[2]


def test_nan_reward_stops_the_process_with_one_line(tiny_model, tmp_path):
    data = write_records_dir(tmp_path / "d")
    out = tmp_path / "run"
    config = train_config(tmp_path / "c.yaml", tiny_model, data, out, "rewards: [tests.adversarial.plugins:nan_scores]")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
    proc = subprocess.run([sys.executable, "-m", "visualthinker", "train", str(config)], capture_output=True,
                          text=True, env=env, timeout=300)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert errors == [errors[0]] and "step 1: reward 'nan_scores' returned non-finite values" in errors[0], errors
    assert not (out / "checkpoints").exists() and not (out / "final").exists()  # nothing NaN was saved


@pytest.mark.parametrize("plugin,text", [
    ("inf_scores", "step 1: reward 'inf_scores' returned non-finite values (1 of 2 values are not finite (e.g. inf))"),
    ("none_scores", "reward 'none_scores' returned None for completion 0"),
    ("short_scores", "reward 'short_scores' returned 1 values for 2 completions"),
])
def test_reward_that_breaks_its_contract(tiny_model, tmp_path, capsys, plugin, text):
    data = write_records_dir(tmp_path / "d")
    config = train_config(tmp_path / "c.yaml", tiny_model, data, tmp_path / "run",
                          f"rewards: [tests.adversarial.plugins:{plugin}]")
    assert_clear_error(cli(["train", config], capsys), text)
    assert not (tmp_path / "run" / "final").exists()


def test_empty_training_set(tiny_model, tmp_path, capsys):
    data = write_records_dir(tmp_path / "d", rows=[])
    config = train_config(tmp_path / "c.yaml", tiny_model, data, tmp_path / "run")
    assert_clear_error(cli(["train", config], capsys), f"train_data '{data}'", "no usable records", "data validate")


def test_non_finite_weights_are_never_saved(tiny_model, tmp_path):
    from tests.trainer.conftest import make_records
    from visualthinker.config import load_config
    from visualthinker.trainer.loop import GRPOTrainer

    config = load_config(None, [f"model_path={tiny_model}", f"output_dir={tmp_path / 'run'}", "num_generations=2",
                                "report_to=[]", "beta=0", "progress_bar=false"])
    trainer = GRPOTrainer(config, make_records(2))
    name, param = next(iter(trainer.model.named_parameters()))
    with torch.no_grad():
        param.view(-1)[0] = float("nan")
    with pytest.raises(TrainingError, match=rf"step 3: the weights hold non-finite values \({name}\); "
                                            "checkpoint step-3 was not saved"):
        trainer.save_checkpoint(3)
    assert not any((tmp_path / "run" / "checkpoints").glob("*step-3"))


def test_loss_and_gradient_norm_guards():
    finite, nan = torch.tensor(0.5), torch.tensor(float("nan"))
    assert guards.update_problem(4, [finite], 1.0, overflow_skips_step=False) is None
    assert "step 4: the loss is nan" in guards.update_problem(4, [finite, nan], 1.0, False)
    assert "step 4: the gradient norm is inf" in guards.update_problem(4, [finite], float("inf"), False)
    assert "before updating" in guards.update_problem(4, [nan], 1.0, False)
    # DeepSpeed steps inside backward: the message must not claim the weights were left untouched
    deepspeed = guards.update_problem(4, [nan], 1.0, False, updated_in_backward=True)
    assert "before updating" not in deepspeed and "already applied" in deepspeed
    # an fp16 loss scaler skips an overflowing step by design: not an error
    assert guards.update_problem(4, [finite], float("inf"), overflow_skips_step=True) is None
    with pytest.raises(TrainingError, match="step 2: the loss is inf"):
        guards.check_update(None, 2, [torch.tensor(float("inf"))], 1.0)


def test_advantage_and_weighted_sum_guards():
    ok = torch.tensor([1.0, 0.0])
    assert guards.rollout_problem(1, {"accuracy": ok}, ok, ok) is None
    assert "the weighted sum of the rewards is not finite" in guards.rollout_problem(
        1, {"accuracy": ok}, torch.tensor([float("inf"), 0.0]), ok)
    assert "step 7: the advantages are not finite" in guards.rollout_problem(
        7, {"accuracy": ok}, ok, torch.tensor([float("nan"), 0.0]))


def test_reward_values_as_numpy_and_tensors_are_accepted():
    assert guards.reward_tensor("r", np.array([1.0, 0.0]), 2).tolist() == [1.0, 0.0]
    assert guards.reward_tensor("r", torch.tensor([0.5, 1.0]), 2).tolist() == [0.5, 1.0]
    assert guards.reward_tensor("r", [np.float32(0.25), 1], 2).tolist() == [0.25, 1.0]
    with pytest.raises(TrainingError, match="returned a float"):
        guards.reward_tensor("r", 1.0, 2)


def test_attention_implementation_transformers_rejects(tiny_model, tmp_path, capsys):
    data = write_records_dir(tmp_path / "d")
    config = train_config(tmp_path / "c.yaml", tiny_model, data, tmp_path / "run", "attn_implementation: bogus_attn")
    assert_clear_error(cli(["train", config], capsys), "'attn_implementation'", "'bogus_attn' cannot be used")
