"""bench/gpu_check.py --cpu-smoke: the GPU readiness script runs end to end, shrunk, on CPU."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from tests.paper.conftest import needs_real_files

pytestmark = [needs_real_files, pytest.mark.slow]
SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "gpu_check.py"


def test_gpu_check_cpu_smoke(reduced_real_dir, fresh_accelerate_state, capsys):
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    gpu_check = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gpu_check)
    result = gpu_check.run(gpu_check.parse_args(["--cpu-smoke", "--model-dir", str(reduced_real_dir)]))
    out = capsys.readouterr().out
    for label in ("sec/step", "tokens/s", "peak GPU memory", "distinct/group", "eval items/s"):
        assert label in out
    assert result["distinct_completions_per_group_min"] == result["group_size"] == 8
    assert result["seconds_per_step"] > 0 and result["completion_tokens_per_second"] > 0
    assert result["eval_items_per_second"] > 0
