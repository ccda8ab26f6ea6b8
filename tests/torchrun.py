"""Launching a 2-process CPU job in tests: its own process session, so that a hang is killed together with
every worker instead of leaving orphans that block later runs."""

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _run_group(cmd: list[str], env: dict[str, str], cwd: Path, timeout: float) -> str:
    """Runs cmd in its own session; kills the whole group on timeout. Returns stderr; fails the test on error."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=cwd,
                            start_new_session=True)
    try:
        _, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail(f"2-process run did not finish in {timeout} s: {' '.join(cmd)}")
    assert proc.returncode == 0, stderr[-3000:]
    return stderr


def run_two_processes(module_args: list[str], env: dict[str, str], cwd: Path, timeout: float) -> None:
    """`torchrun --standalone --nproc_per_node 2 -m ...`; fails the test with stderr on error or timeout."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m",
           *module_args]
    _run_group(cmd, env, cwd, timeout)


def accelerate_command(config_file: Path, module_args: list[str], num_processes: int = 2) -> list[str]:
    """`accelerate launch --config_file X --num_processes N -m ...` on a free port (the shipped files' own
    process counts are for GPU machines)."""
    return [sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(config_file),
            "--num_processes", str(num_processes), "--main_process_port", str(free_port()), "-m", *module_args]


def run_accelerate(config_file: Path, module_args: list[str], env: dict[str, str], cwd: Path,
                   timeout: float) -> str:
    """A 2-process `accelerate launch` of a shipped config; fails the test with stderr on error or timeout."""
    return _run_group(accelerate_command(config_file, module_args), env, cwd, timeout)
