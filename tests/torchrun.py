"""Launching a 2-process CPU job in tests, so that a hang fails the test in bounded time and leaves no process
behind.

torch's elastic agent starts every worker in a session of its own, so killing the launcher's process group
leaves the workers running, and a reader waiting for EOF on pipes they inherited waits as long as they live
(a CI run once hung this way for 90 minutes). So stderr goes to a file, not a pipe, and a timeout kills the
launcher's whole process tree, found through psutil, workers included."""

import contextlib
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import psutil
import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def kill_tree(pid: int) -> None:
    """SIGKILL a process and every descendant, whatever session or group they moved to."""
    try:
        root = psutil.Process(pid)
        family = [*root.children(recursive=True), root]
    except psutil.NoSuchProcess:
        return
    for process in family:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.send_signal(signal.SIGKILL)
    psutil.wait_procs(family, timeout=30)


def run_bounded(cmd: list[str], env: dict[str, str], cwd: Path, timeout: float) -> str:
    """Runs cmd; on timeout kills its whole tree and fails the test with the stderr so far. Returns stderr;
    fails the test on error."""
    with tempfile.TemporaryFile("w+") as stderr:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=stderr, text=True, env=env, cwd=cwd)
        timed_out = False
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            kill_tree(proc.pid)
            proc.wait()
        stderr.seek(0)
        err = stderr.read()
    if timed_out:
        pytest.fail(f"2-process run did not finish in {timeout} s and was killed: {' '.join(cmd)}\n{err[-3000:]}")
    assert proc.returncode == 0, err[-3000:]
    return err


def run_two_processes(module_args: list[str], env: dict[str, str], cwd: Path, timeout: float) -> None:
    """`torchrun --standalone --nproc_per_node 2 -m ...`; fails the test with stderr on error or timeout."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m",
           *module_args]
    run_bounded(cmd, env, cwd, timeout)


def accelerate_command(config_file: Path, module_args: list[str], num_processes: int = 2) -> list[str]:
    """`accelerate launch --config_file X --num_processes N -m ...` on a free port (the shipped files' own
    process counts are for GPU machines)."""
    return [sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(config_file),
            "--num_processes", str(num_processes), "--main_process_port", str(free_port()), "-m", *module_args]


def run_accelerate(config_file: Path, module_args: list[str], env: dict[str, str], cwd: Path,
                   timeout: float) -> str:
    """A 2-process `accelerate launch` of a shipped config; fails the test with stderr on error or timeout."""
    return run_bounded(accelerate_command(config_file, module_args), env, cwd, timeout)
