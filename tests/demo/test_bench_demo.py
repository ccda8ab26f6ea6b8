"""bench/bench_demo.py judges "thinking helps" per base model, never pooling runs on different bases."""

import importlib.util
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "bench_demo.py"


def _bench():
    spec = importlib.util.spec_from_file_location("bench_demo", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_demo"] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_thinking_helps_is_compared_within_each_base():
    bench = _bench()
    rows = [dict(template="base", final_accuracy=0.50, base=None),
            dict(template="answer", final_accuracy=0.45, base=None),
            dict(template="base", final_accuracy=0.50, base="/b/X1"),
            dict(template="answer", final_accuracy=0.20, base="/b/X1"),
            dict(template="base", final_accuracy=0.30, base="/b/X2")]
    lines = bench.comparison(rows).splitlines()
    assert lines[0].startswith("shipped base: thinking helps vs answer") and "+0.050 -> MISSED" in lines[0]
    assert lines[1].startswith("X1: thinking helps vs answer") and "+0.300 -> met" in lines[1]
    assert len(lines) == 2  # X2 has no control run: nothing to compare, and not pooled with another base's


@pytest.mark.parametrize("base_seeds", [[], ["--base-seeds", "1", "2"]])
def test_other_bases_run_every_base_template(monkeypatch, tmp_path, capsys, base_seeds):
    """--bases run with the first of --seeds, or with every one of --base-seeds."""
    bench = _bench()
    seen = []

    def fake_run(run, out, extra):
        seen.append((run.template, run.seed, Path(run.base).name if run.base else None))
        raise SystemExit(0)  # stop after recording what would run

    monkeypatch.setattr(bench, "run_one", fake_run)
    monkeypatch.setattr("sys.argv", ["bench_demo.py", "--seeds", "3", "--templates", "--bases",
                                     str(tmp_path / "X1"), "--base-templates", "base", "answer",
                                     "--out", str(tmp_path / "o"), *base_seeds])
    with pytest.raises(SystemExit):
        bench.main()
    seeds = [int(s) for s in base_seeds[1:]] or [3]
    assert sorted(seen) == sorted((t, s, "X1") for t in ("answer", "base") for s in seeds)
    assert f"{2 * len(seeds)} runs" in capsys.readouterr().out
