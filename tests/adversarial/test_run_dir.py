"""A shared or damaged run directory: a second trainer refuses at once naming the holder's pid, a dead holder's
lock is taken over, a run killed before its first checkpoint restarts from step 0, a torn last line in
metrics.jsonl is dropped (with a warning) when the run resumes."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from tests.adversarial.conftest import assert_clear_error, cli
from visualthinker.errors import ConfigError
from visualthinker.runlock import LOCK_FILE, RunDirBusy, RunDirLock
from visualthinker.trainer.outputs import RunLog

SRC = str(Path(__file__).resolve().parents[2] / "src")
HOLD = ("import sys, time; from visualthinker.runlock import RunDirLock; "
        "RunDirLock(sys.argv[1]).acquire(); print('locked', flush=True); time.sleep(120)")


def test_second_trainer_refused_with_pid_and_dead_holder_taken_over(tmp_path, capsys):
    out = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", ""), "RANK": "0"}
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(out)], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert holder.stdout.readline().strip() == "locked"
        config = tmp_path / "c.yaml"
        config.write_text(f"model_path: /nonexistent/model\noutput_dir: {out}\n")
        line = assert_clear_error(cli(["train", config], capsys), str(out), f"pid {holder.pid}", "in use")
        assert "choose another output_dir" in line
        with pytest.raises(RunDirBusy):
            RunDirLock(out, enabled=True).acquire()
    finally:
        holder.kill()
        holder.wait(timeout=30)
    assert (out / LOCK_FILE).read_text().strip() == str(holder.pid)  # what a killed holder leaves behind
    with RunDirLock(out, enabled=True) as lock:
        assert lock.stale_pid == holder.pid
        assert (out / LOCK_FILE).read_text().strip() == str(os.getpid())
    assert (out / LOCK_FILE).read_text() == ""  # released: no pid left to mislead


def test_lock_is_reentrant_in_one_process_and_refuses_a_file(tmp_path):
    with RunDirLock(tmp_path / "r", enabled=True) as outer:
        with RunDirLock(tmp_path / "r", enabled=True):
            pass
        assert outer.held
        code = ("import sys; from visualthinker.runlock import RunDirLock, RunDirBusy\n"
                "try: RunDirLock(sys.argv[1], enabled=True).acquire()\nexcept RunDirBusy: sys.exit(3)")
        env = {**os.environ, "PYTHONPATH": SRC}
        assert subprocess.run([sys.executable, "-c", code, str(tmp_path / "r")], env=env).returncode == 3
    (tmp_path / "f").write_text("x")
    with pytest.raises(ConfigError, match="is a file, not a directory"):
        RunDirLock(tmp_path / "f", enabled=True).acquire()


def _metrics(path: Path, lines: list[str]) -> RunLog:
    path.mkdir(parents=True, exist_ok=True)
    (path / "metrics.jsonl").write_text("".join(lines))
    return RunLog(path)


def test_torn_last_line_dropped_with_a_warning(tmp_path, caplog):
    log = _metrics(tmp_path, [json.dumps({"step": s, "loss": 0.1}) + "\n" for s in (1, 2, 3)] + ['{"step": 4, "lo'])
    with caplog.at_level(logging.WARNING, logger="visualthinker.trainer"):
        log.truncate_after(2)
    assert [json.loads(x)["step"] for x in (tmp_path / "metrics.jsonl").read_text().splitlines()] == [1, 2]
    assert "line 4 is torn" in caplog.text


def test_damaged_line_before_the_end_is_an_error_naming_it(tmp_path):
    log = _metrics(tmp_path, ['{"step": 1}\n', "garbage\n", '{"step": 2}\n'])
    with pytest.raises(ConfigError, match=r"metrics.jsonl line 2 is not a JSON object"):
        log.truncate_after(1)


def test_killed_before_first_checkpoint_restarts_from_step_0(tiny_model, tmp_path, monkeypatch, caplog):
    from tests.trainer.conftest import index_reward, make_records
    from visualthinker.config import load_config
    from visualthinker.trainer.loop import GRPOTrainer

    def config(out, *extra):
        keys = ["num_generations=2", "per_device_prompts=1", "gradient_accumulation_steps=1", "max_steps=2",
                "max_completion_length=4", "report_to=[]", "progress_bar=false", "min_pixels=3136",
                "max_pixels=12544", "learning_rate=1e-2", "save_every=0", "trajectory_images=false",
                "rewards=[tests.trainer.conftest:index_reward]"]
        return load_config(None, [f"model_path={tiny_model}", f"output_dir={out}", *keys, *extra])

    assert index_reward  # the plug-in named above
    records = make_records(2)
    GRPOTrainer(config(tmp_path / "straight"), records).train()

    out = tmp_path / "killed"
    original = GRPOTrainer._train_step

    def dying(self, step):
        if step == 1:
            raise KeyboardInterrupt  # killed during step 2, after step 1 was logged, before any checkpoint
        return original(self, step)

    monkeypatch.setattr(GRPOTrainer, "_train_step", dying)
    with pytest.raises(KeyboardInterrupt):
        GRPOTrainer(config(out), records).train()
    monkeypatch.setattr(GRPOTrainer, "_train_step", original)
    assert not (out / "checkpoints").exists()
    with (out / "metrics.jsonl").open("a") as f:
        f.write('{"step": 2, "loss"')  # and the power went mid-write
    with pytest.raises(ConfigError, match="no checkpoint yet, so it restarts from step 0"):
        GRPOTrainer(config(out), records).train()
    with caplog.at_level(logging.WARNING, logger="visualthinker.trainer"):
        GRPOTrainer(config(out, "resume=true"), records).train()
    assert "restarting from step 0" in caplog.text and "torn" in caplog.text
    steps = [json.loads(x)["step"] for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 2]
    a, b = load_file(str(tmp_path / "straight" / "final" / "model.safetensors")), \
        load_file(str(out / "final" / "model.safetensors"))
    assert all(torch.equal(a[k], b[k]) for k in a)  # the restart is the uninterrupted run, bit for bit
