"""The 2-process launch helper ends a hung launch in bounded time, killing workers that left its process group
(as torch's elastic agent makes them), and reports the output so far."""

import sys
import time

import psutil
import pytest

from tests.torchrun import run_bounded

# A launcher whose worker starts a session of its own (as torchrun's do), inherits the output and never ends.
HUNG_LAUNCH = """
import subprocess, sys, time
worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"], start_new_session=True)
print(f"worker-pid:{worker.pid}:", file=sys.stderr, flush=True)
time.sleep(600)
"""


def test_a_hung_launch_fails_in_time_and_leaves_no_worker(tmp_path):
    t0 = time.perf_counter()
    with pytest.raises(pytest.fail.Exception, match="did not finish in 3 s") as failure:
        run_bounded([sys.executable, "-c", HUNG_LAUNCH], {}, tmp_path, timeout=3)
    assert time.perf_counter() - t0 < 60
    worker = int(str(failure.value).split("worker-pid:")[-1].split(":")[0])  # the stderr tail is in the message
    assert not psutil.pid_exists(worker) or psutil.Process(worker).status() == psutil.STATUS_ZOMBIE


def test_a_failed_launch_reports_its_stderr(tmp_path):
    with pytest.raises(AssertionError, match="boom"):
        run_bounded([sys.executable, "-c", "import sys; sys.exit('boom')"], {}, tmp_path, timeout=30)
