"""SFT run outputs, exact resume, length grouping, targets from a completions file, init_from, bad input."""

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from tests.sft.conftest import sft_config
from tests.trainer.conftest import make_records
from visualthinker.errors import ConfigError, DataError
from visualthinker.sft.loop import SFTTrainer
from visualthinker.sft.schedule import BatchSchedule
from visualthinker.trainer import checkpoint as ckpt


def _weights(directory: Path) -> dict[str, torch.Tensor]:
    return load_file(str(directory / "model.safetensors"))


def _rows(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


class _Interrupt(Exception):
    pass


def test_outputs_and_killed_run_resumes_to_identical_weights(tiny_model_dir, tmp_path, monkeypatch):
    records = make_records(8)
    common = ["max_steps=4", "save_every=2", "learning_rate=1e-3", "per_device_batch_size=2",
              "gradient_accumulation_steps=2"]
    straight = tmp_path / "straight"
    summary = SFTTrainer(sft_config(tiny_model_dir, straight, *common, "report_to=[tensorboard]"), records).train()
    assert summary["steps_per_epoch"] == 2 and summary["examples"] == 8
    assert (straight / "config.yaml").exists() and (straight / "final" / "model.safetensors").exists()
    assert any((straight / "tensorboard").rglob("events.out.tfevents.*")) or any(
        straight.rglob("events.out.tfevents.*"))
    rows = _rows(straight)
    for key in ("loss", "tokens_per_second", "lr", "grad_norm", "loss_tokens", "padding_fraction", "epoch"):
        assert key in rows[0], key
    assert [r["epoch"] for r in rows] == [0.5, 1.0, 1.5, 2.0]
    assert [s for s, _ in ckpt.complete_checkpoints(straight)] == [2, 4]

    resumed = tmp_path / "resumed"
    original = SFTTrainer._train_step

    def dying_step(self, step):
        if step == 3:  # killed during step 4, after the step-2 checkpoint and a logged step 3
            raise _Interrupt
        return original(self, step)

    monkeypatch.setattr(SFTTrainer, "_train_step", dying_step)
    with pytest.raises(_Interrupt):
        SFTTrainer(sft_config(tiny_model_dir, resumed, *common), records).train()
    (resumed / "checkpoints" / "step-3").mkdir()  # no completion marker: never used
    monkeypatch.setattr(SFTTrainer, "_train_step", original)
    with pytest.raises(ConfigError, match="resume=true"):
        SFTTrainer(sft_config(tiny_model_dir, resumed, *common), records).train()
    summary = SFTTrainer(sft_config(tiny_model_dir, resumed, *common, "resume=true"), records).train()
    assert summary["resumed_from"] == 2
    a, b = _weights(straight / "final"), _weights(resumed / "final")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert [r["step"] for r in _rows(resumed)] == [1, 2, 3, 4]
    assert [r["loss"] for r in _rows(resumed)] == [r["loss"] for r in rows]
    assert not torch.equal(a["lm_head.weight"], _weights(tiny_model_dir)["lm_head.weight"])


def test_length_grouping_cuts_padding():
    lengths = [10, 200, 12, 190, 11, 205, 13, 195] * 8
    grouped = BatchSchedule(lengths, 0, 4, 1, 1, group_by_length=True)
    plain = BatchSchedule(lengths, 0, 4, 1, 1, group_by_length=False)

    def padding(schedule):
        pad = total = 0
        for step in range(schedule.steps_per_epoch):
            batch = [lengths[i] for i in schedule.indices(step, 0, 0)]
            pad += max(batch) * len(batch) - sum(batch)
            total += max(batch) * len(batch)
        return pad / total

    assert padding(grouped) < 0.05 < 0.3 < padding(plain)
    # every example once per epoch, in both modes
    for schedule in (grouped, plain):
        seen = sorted(i for s in range(schedule.steps_per_epoch) for i in schedule.indices(s, 0, 0))
        assert seen == list(range(len(lengths)))


def test_ranks_take_disjoint_examples():
    schedule = BatchSchedule(list(range(40)), 3, 2, 2, 2, group_by_length=True)
    taken = [i for s in range(schedule.steps_per_epoch) for m in range(2) for r in range(2)
             for i in schedule.indices(s, m, r)]
    assert sorted(taken) == list(range(40))


def test_completions_file_targets_and_errors(tiny_model_dir, tmp_path):
    records = make_records(4)
    path = tmp_path / "cold.jsonl"
    path.write_text("".join(json.dumps({"id": r.id, "completion": f" because. </think> <answer>{r.answer}</answer>"})
                            + "\n" for r in records[:3]))
    trainer = SFTTrainer(sft_config(tiny_model_dir, tmp_path / "o", "target=completions", f"completions={path}",
                                    "template=base", "max_steps=1"), records)
    assert trainer.skipped == 1 and [e.record.id for e in trainer.examples] == ["r0", "r1", "r2"]
    assert trainer.examples[0].completion == " because. </think> <answer>left</answer><|im_end|>"
    assert trainer.examples[0].prompt.endswith("<think>")
    path.write_text(json.dumps({"id": "nope", "completion": "x"}) + "\n")
    with pytest.raises(DataError, match="'nope'.*not in train_data"):
        SFTTrainer(sft_config(tiny_model_dir, tmp_path / "o2", "target=completions", f"completions={path}"), records)
    path.write_text(json.dumps({"id": "r0"}) + "\n")
    with pytest.raises(DataError, match="line 1: needs"):
        SFTTrainer(sft_config(tiny_model_dir, tmp_path / "o3", "target=completions", f"completions={path}"), records)
    with pytest.raises(ConfigError, match="'completions'"):
        sft_config(tiny_model_dir, tmp_path / "o4", "target=completions")
    with pytest.raises(ConfigError, match="unknown config key 'lr'; did you mean 'learning_rate'"):
        sft_config(tiny_model_dir, tmp_path / "o5", "lr=1e-5")


def test_grpo_init_from_starts_from_the_sft_weights(tiny_model_dir, tmp_path):
    from visualthinker.config import load_config
    from visualthinker.models import get_adapter
    from visualthinker.trainer.setup import build_policy, build_reference

    sft_run = tmp_path / "sft"
    SFTTrainer(sft_config(tiny_model_dir, sft_run, "max_steps=1", "learning_rate=1e-2", "save_every=0"),
               make_records(2)).train()
    tuned = _weights(sft_run / "final")
    adapter = get_adapter(str(tiny_model_dir))
    for init_from in (sft_run, sft_run / "final", sft_run / "checkpoints" / "step-1"):
        config = load_config(None, [f"model_path={tiny_model_dir}", f"init_from={init_from}"])
        for model in (build_policy(adapter, config), build_reference(adapter, config)):
            state = model.state_dict()
            assert torch.equal(state["lm_head.weight"], tuned["lm_head.weight"])
    assert not torch.equal(tuned["lm_head.weight"], _weights(tiny_model_dir)["lm_head.weight"])
    with pytest.raises(ConfigError, match="init_from"):
        build_policy(adapter, load_config(None, [f"model_path={tiny_model_dir}", f"init_from={tmp_path}"]))


def test_grouped_order_changes_between_epochs():
    schedule = BatchSchedule([5, 9, 7, 3, 8, 6, 4, 2], 0, 2, 1, 1, group_by_length=True)
    epochs = [[tuple(schedule.indices(e * schedule.steps_per_epoch + s, 0, 0)) for s in range(4)] for e in range(3)]
    assert all(sorted(e) == sorted(epochs[0]) for e in epochs)  # the same similar-length pairs ...
    assert len({tuple(e) for e in epochs}) > 1  # ... in another order


def test_cli_reports_bad_input_in_one_line(tmp_path, capsys):
    from visualthinker.cli.main import main

    assert main(["sft", str(tmp_path / "missing.yaml")]) == 2
    assert "config file" in capsys.readouterr().err
    assert main(["sft", "/dev/null", "model_path=x", "epochs=2"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "error: unknown config key 'epochs'; did you mean 'num_epochs'?"
    assert main(["sft", "/dev/null", f"model_path={tmp_path / 'nomodel'}", f"output_dir={tmp_path / 'o'}",
                 "train_data=synthetic", "data_options={n: 2}"]) == 2
    assert "nomodel" in capsys.readouterr().err
