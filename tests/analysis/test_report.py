from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.analysis.synthetic_run import SyntheticRun
from visualthinker.analysis import write_comparison, write_report
from visualthinker.analysis.runs import RunDirError

IMG_SRC = re.compile(r"<img\b[^>]*\bsrc=\"([^\"]+)\"")


def _images_resolve(index: Path) -> list[str]:
    srcs = IMG_SRC.findall(index.read_text(encoding="utf-8"))
    assert srcs, "page has no images"
    for src in srcs:
        assert not src.startswith(("http:", "https:", "//")), src
        assert src.startswith("data:image/") or (index.parent / src).is_file(), src
    return srcs


def test_report_files_and_images(aha_report: Path) -> None:
    assert aha_report.name == "index.html"
    srcs = _images_resolve(aha_report)
    for plot in ("figure1.png", "rewards.png", "reflection.png", "length.png", "length_hist.png", "correctness.png"):
        assert plot in srcs
        assert (aha_report.parent / plot).stat().st_size > 1000
    assert any(s.startswith("thumbs/") for s in srcs), "thumbnails from the run should be shown"


def test_page_is_self_contained(aha_report: Path) -> None:
    text = aha_report.read_text(encoding="utf-8")
    assert "<script" not in text.lower()
    assert not re.search(r"(href|src)=\"https?://", text)
    assert "<mark>" in text
    assert 'id="step-30"' in text  # the aha step is browsed


def test_report_json_keys(aha_report: Path, aha_run: SyntheticRun) -> None:
    data = json.loads((aha_report.parent / "report.json").read_text(encoding="utf-8"))
    for key in ("schema", "run_dir", "config", "lexicon", "reward_names", "metrics", "eval", "per_step", "aha",
                "correlation", "markers", "histograms", "first_reflective", "summary", "report"):
        assert key in data, key
    assert data["reward_names"] == ["accuracy", "format"]
    assert data["aha"]["step"] == data["summary"]["aha_step"]
    per_step = data["per_step"]
    for key in ("length_mean", "length_median", "length_p90", "finished_length_mean", "finished_length_median",
                "finished_length_p90", "reflection_rate", "reflection_stderr", "accuracy_reflective",
                "accuracy_nonreflective"):
        assert len(per_step[key]) == len(aha_run.steps), key
    assert data["eval"]["synthetic"]["step"] == [10, 20, 30, 40, 50, 60]
    assert data["first_reflective"][0]["step"] >= aha_run.aha_step
    assert set(data["histograms"]) == {"bins", "early", "late"}


def test_model_text_is_escaped(tmp_path: Path) -> None:
    run = tmp_path / "run"
    (run / "trajectories").mkdir(parents=True)
    evil = '<script>alert(1)</script> wait <img src=x onerror=alert(1)></think><answer>a</answer>'
    (run / "trajectories" / "step-1.jsonl").write_text(
        json.dumps({"completion": evil, "prompt": "<b>hi</b>", "rewards": {"accuracy": 0.0}, "image": "../../x.png"})
        + "\n", encoding="utf-8")
    index = write_report(run)
    text = index.read_text(encoding="utf-8")
    assert index.parent == run / "report"
    assert "<script>" not in text and "<b>hi</b>" not in text
    assert "&lt;script&gt;" in text and "<mark>wait</mark>" in text
    assert "<img src=x" not in text and "&lt;img src=x onerror=alert(1)&gt;" in text


def test_compare_mode(aha_run: SyntheticRun, flat_run: SyntheticRun, tmp_path: Path) -> None:
    index = write_comparison([aha_run.path, flat_run.path], tmp_path / "cmp", labels=["aha", "flat"])
    srcs = _images_resolve(index)
    assert {"compare_length.png", "compare_reward.png", "compare_accuracy.png", "compare_reflection.png"} <= set(srcs)
    data = json.loads((index.parent / "report.json").read_text(encoding="utf-8"))
    assert [r["label"] for r in data["runs"]] == ["aha", "flat"]
    assert data["runs"][0]["aha"]["step"] is not None and data["runs"][1]["aha"]["step"] is None
    with pytest.raises(RunDirError, match="labels"):
        write_comparison([aha_run.path, flat_run.path], tmp_path / "cmp2", labels=["one"])
    with pytest.raises(RunDirError, match="at least two"):
        write_comparison([aha_run.path], tmp_path / "cmp3")


def test_empty_step_file_is_skipped_by_the_detector(tmp_path: Path) -> None:
    run = tmp_path / "run"
    (run / "trajectories").mkdir(parents=True)
    (run / "trajectories" / "step-1.jsonl").write_text("", encoding="utf-8")
    (run / "trajectories" / "step-2.jsonl").write_text(json.dumps({"completion": "wait"}) + "\n", encoding="utf-8")
    index = write_report(run)
    data = json.loads((index.parent / "report.json").read_text(encoding="utf-8"))
    assert data["per_step"]["reflection_rate"] == [None, 1.0]
    assert data["aha"]["step"] is None


def test_metrics_only_run(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    lines = [{"step": s, "reward": s / 10, "rewards/accuracy/mean": s / 20, "completion_length/mean": 50 + s, "kl": 0.01}
             for s in range(1, 11)]
    (run / "metrics.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    index = write_report(run, tmp_path / "out")
    data = json.loads((index.parent / "report.json").read_text(encoding="utf-8"))
    assert data["aha"]["step"] is None and data["summary"]["length_source"] == "metrics"
    assert data["correlation"]["length_vs_train_accuracy"]["spearman"] == pytest.approx(1.0)
    _images_resolve(index)
