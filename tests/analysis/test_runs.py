from __future__ import annotations

import json
from pathlib import Path

import pytest

from visualthinker.analysis import analyze_run
from visualthinker.analysis.runs import (
    RunDirError,
    check_run_dir,
    load_metrics,
    resolve_image,
    trajectory_files,
)


def _write(path: Path, lines: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_eval_only_lines_merge_into_their_step(tmp_path: Path) -> None:
    _write(tmp_path / "metrics.jsonl", [
        json.dumps({"step": 1, "reward": 0.5, "kl": 0.0}),
        json.dumps({"step": 2, "reward": 0.7, "kl": 0.1}),
        json.dumps({"step": 2, "eval/cvbench/accuracy": 0.4}),
        "",
    ])
    frame = load_metrics(tmp_path)
    assert list(frame.index) == [1, 2]
    assert frame.loc[2, "reward"] == 0.7
    assert frame.loc[2, "eval/cvbench/accuracy"] == 0.4
    assert analyze_run(tmp_path)["eval"]["cvbench"]["step"] == [2]


@pytest.mark.parametrize(("line", "message"), [
    ("{not json", "malformed JSON"),
    ("[1, 2]", "expected a JSON object"),
    ('{"reward": 1}', "no 'step'"),
    ('{"step": "one"}', "'step' must be an integer"),
])
def test_malformed_metrics_name_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    _write(tmp_path / "metrics.jsonl", [json.dumps({"step": 1}), line])
    with pytest.raises(RunDirError, match=message) as info:
        load_metrics(tmp_path)
    assert "metrics.jsonl line 2:" in str(info.value)


def test_malformed_trajectory_line(tmp_path: Path) -> None:
    _write(tmp_path / "trajectories" / "step-3.jsonl", [json.dumps({"completion": 5})])
    with pytest.raises(RunDirError, match=r"step-3\.jsonl line 1: 'completion' must be a string"):
        analyze_run(tmp_path)


def test_missing_or_empty_run_dir(tmp_path: Path) -> None:
    with pytest.raises(RunDirError, match="not found"):
        check_run_dir(tmp_path / "nope")
    with pytest.raises(RunDirError, match="neither metrics.jsonl"):
        check_run_dir(tmp_path)


def test_step_files_sort_numerically_and_config_is_optional(tmp_path: Path) -> None:
    for step in (10, 9, 100):
        _write(tmp_path / "trajectories" / f"step-{step}.jsonl",
               [json.dumps({"completion": "ok</think><answer>a</answer>", "rewards": {"accuracy": 1.0}})])
    _write(tmp_path / "trajectories" / "notes.txt", ["ignored"])
    assert [s for s, _ in trajectory_files(tmp_path)] == [9, 10, 100]
    analysis = analyze_run(tmp_path)
    assert analysis["config"] is None
    assert analysis["per_step"]["step"] == [9, 10, 100]
    assert analysis["summary"]["length_source"] == "trajectories"


def test_image_paths_cannot_escape_the_run_dir(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (tmp_path / "secret.png").write_bytes(b"x")
    (run / "ok.png").write_bytes(b"x")
    assert resolve_image(run, "../secret.png") is None
    assert resolve_image(run, "ok.png") == (run / "ok.png").resolve()
    assert resolve_image(run, "missing.png") is None
