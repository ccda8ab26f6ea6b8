"""Launching a 2-process CPU job in tests: its own process session, so that a hang is killed together with
every worker instead of leaving orphans that block later runs."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest


def run_two_processes(module_args: list[str], env: dict[str, str], cwd: Path, timeout: float) -> None:
    """`torchrun --standalone --nproc_per_node 2 -m ...`; fails the test with stderr on error or timeout."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m",
           *module_args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=cwd,
                            start_new_session=True)
    try:
        _, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail(f"2-process run did not finish in {timeout} s")
    assert proc.returncode == 0, stderr[-3000:]
