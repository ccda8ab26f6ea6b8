"""`visualthinker eval` / `compare` end to end with a tiny random model on fixture files in the real formats."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.torchrun import run_two_processes
from visualthinker.cli.main import main
from visualthinker.generation import HFGenerator

REPO = Path(__file__).resolve().parents[2]


def eval_args(model, data, out, *extra):
    args = ["eval", "--model", str(model), "--bench", "cvbench,blink,vsr", "--max-new-tokens", "6",
            "--batch-size", "4", "--output", str(out), "--no-progress"]
    for bench, path in data.items():
        args += ["--data", f"{bench}={path}"]
    return args + list(extra)


@pytest.fixture(scope="module")
def first_run(tiny_model, bench_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "results.json"
    assert main(eval_args(tiny_model, bench_data, out)) == 0
    return out


def test_eval_end_to_end(first_run):
    data = json.loads(first_run.read_text())
    benches = data["summary"]["benches"]
    assert set(benches) == {"cvbench", "blink", "vsr"}
    assert benches["cvbench"]["n"] == 6 and benches["blink"]["n"] == 5 and benches["vsr"]["n"] == 3
    assert {it["image_source"] for it in data["items"] if it["bench"] == "cvbench"} == {"ADE20K", "COCO", "Omni3D"}
    assert benches["cvbench"]["strict"]["official"] is not None
    assert set(benches["blink"]["strict"]["by_subset"]) == {"Relative_Depth", "Spatial_Relation"}
    assert all(it["response_tokens"] <= 6 for it in data["items"])
    thr = data["summary"]["throughput"]
    assert thr["items"] == 14 and thr["items_per_s"] > 0 and thr["tokens_per_s"] > 0
    assert data["config"]["max_new_tokens"] == 6


def test_eval_resume_generates_nothing(first_run, tiny_model, bench_data, monkeypatch):
    calls = []
    original = HFGenerator.generate

    def counting(self, *args, **kwargs):
        calls.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(HFGenerator, "generate", counting)
    before = json.loads(first_run.read_text())
    assert main(eval_args(tiny_model, bench_data, first_run)) == 0
    assert calls == []
    assert json.loads(first_run.read_text())["items"] == before["items"]


def test_predictions_rescoring_and_missing_ids(first_run, bench_data, tmp_path, capsys):
    items = json.loads(first_run.read_text())["items"]
    preds = tmp_path / "preds.jsonl"
    rows = [{"bench": it["bench"], "id": it["id"], "response": "<answer>(A)</answer>"} for it in items]
    preds.write_text("\n".join(json.dumps(r) for r in rows[:-1]) + "\n")
    args = ["eval", "--bench", "cvbench,blink,vsr", "--predictions", str(preds), "--output", str(tmp_path / "p.json")]
    for bench, path in bench_data.items():
        args += ["--data", f"{bench}={path}"]
    assert main(args) == 2
    assert f"{items[-1]['bench']}:{items[-1]['id']}" in capsys.readouterr().err
    preds.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    assert main(args) == 0
    scored = json.loads((tmp_path / "p.json").read_text())["items"]
    assert [it["correct"] for it in scored] == [it["gold_letter"] == "A" for it in scored]


def test_compare_table(first_run, tmp_path, capsys):
    assert main(["compare", str(first_run), str(first_run), "--labels", "base,grpo"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("| Model | CV-Bench Count | CV-Bench Relation | CV-Bench Depth | CV-Bench Distance |"
                               " CV-Bench Total | BLINK Relative Depth | BLINK Spatial Relation | BLINK Average | VSR |")
    assert lines[2].startswith("| base | ") and len(lines) == 4
    assert main(["compare", str(first_run), "--csv", "--scoring", "paper", "--official"]) == 0
    header = capsys.readouterr().out.splitlines()[0]
    assert header.endswith("VSR,CV-Bench official")


def test_compare_values(tmp_path, capsys):
    from visualthinker.evaluation.compare import render_markdown, table_rows

    summary = {"scoring": "strict", "benches": {
        "cvbench": {"strict": {"accuracy": 0.5947, "by_task": {"Count": {"accuracy": 0.5964}}}},
        "blink": {"strict": {"accuracy": 0.5356, "by_subset": {"Relative_Depth": {"accuracy": 0.508}}}},
    }}
    header, rows = table_rows([{"summary": summary}], ["grpo"])
    assert rows[0] == ["grpo", "59.64", "-", "-", "-", "59.47", "50.80", "-", "53.56", "-"]
    assert render_markdown(header, rows).count("\n") == 2


def test_errors_are_one_line(tiny_model, tmp_path, capsys):
    assert main(["eval", "--bench", "cvbench,mmmu", "--model", str(tiny_model), "--output", "x.json"]) == 2
    assert "mmmu" in capsys.readouterr().err
    assert main(["eval", "--bench", "vsr", "--output", str(tmp_path / "x.json")]) == 2
    assert "--model" in capsys.readouterr().err
    assert main(["compare", str(tmp_path / "missing.json")]) == 2
    assert "does not exist" in capsys.readouterr().err


@pytest.mark.slow
def test_two_process_sharding_matches_one_process(first_run, tiny_model, bench_data, tmp_path):
    out = tmp_path / "sharded.json"
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "OMP_NUM_THREADS": "1"}
    run_two_processes(["visualthinker.cli.main", *eval_args(tiny_model, bench_data, out)], env, tmp_path, timeout=90)
    sharded = json.loads(out.read_text())
    single = json.loads(first_run.read_text())
    assert sharded["config"]["num_processes"] == 2
    assert sharded["summary"]["throughput"]["processes"] == 2
    assert [it["id"] for it in sharded["items"]] == [it["id"] for it in single["items"]]
    assert not list(tmp_path.glob("sharded.partial*"))


def test_evaluate_records_api(tiny_model, bench_data):
    from visualthinker.data import load_records
    from visualthinker.evaluation import eval_prompt_spec, evaluate_records
    from visualthinker.models.adapter import get_adapter

    adapter = get_adapter(str(tiny_model))
    processor = adapter.load_processor(str(tiny_model))
    model = adapter.load_model(str(tiny_model)).train()
    records = load_records(bench_data["vsr"], format="vsr")
    out = evaluate_records(model, adapter, processor, records, eval_prompt_spec(), max_new_tokens=4, batch_size=2,
                           return_items=True)
    assert out["n"] == 3 and len(out["items"]) == 3 and 0 <= out["accuracy"] <= 1
    assert 0 < out["response_length"] <= 4 and out["format_failure_rate"] == 1.0
    assert model.training  # mode restored
    empty = evaluate_records(model, adapter, processor, [], eval_prompt_spec(), max_new_tokens=4, batch_size=2)
    assert empty["n"] == 0 and empty["accuracy"] == 0.0 and empty["response_length"] == 0.0
