"""`eval` options of issue #10: --decoding paper, a bare --data path, the dataset's own ids in --predictions."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest

from visualthinker.cli.main import main
from visualthinker.errors import ConfigError, DataError
from visualthinker.evaluation.decoding import eval_sampling
from visualthinker.evaluation.runner import match_predictions
from visualthinker.generation import HFGenerator

REAL_QWEN2_VL_2B = Path(__file__).resolve().parents[2].parent / "shared" / "models" / "qwen2-vl-2b"


def test_paper_decoding_takes_the_checkpoints_repetition_penalty():
    if not REAL_QWEN2_VL_2B.is_dir():
        pytest.skip("../shared/models/qwen2-vl-2b is absent")
    from transformers import GenerationConfig

    real = GenerationConfig.from_pretrained(str(REAL_QWEN2_VL_2B))
    paper = eval_sampling("paper", real)
    assert (paper.do_sample, paper.repetition_penalty, paper.max_new_tokens) == (False, 1.05, 1024)
    explicit = eval_sampling("explicit", real)
    assert (explicit.do_sample, explicit.repetition_penalty, explicit.max_new_tokens) == (False, 1.0, 1024)
    assert eval_sampling("paper", GenerationConfig()).repetition_penalty == 1.0  # none set: the old default
    with pytest.raises(ConfigError, match="1024 new tokens"):
        eval_sampling("paper", real, max_new_tokens=6)


def test_eval_decoding_paper_end_to_end(tiny_model, bench_data, tmp_path, monkeypatch):
    model = tmp_path / "model"
    shutil.copytree(tiny_model, model)
    (model / "generation_config.json").write_text(json.dumps({"repetition_penalty": 1.05, "top_k": 1,
                                                               "do_sample": True, "temperature": 0.1}))
    seen = []
    original = HFGenerator.generate

    def short(self, batch, num_samples, sampling):
        seen.append((sampling, self.generation_config(sampling, num_samples)))
        return original(self, batch, num_samples, dataclasses.replace(sampling, max_new_tokens=2))

    monkeypatch.setattr(HFGenerator, "generate", short)
    out = tmp_path / "paper.json"
    args = ["eval", "--model", str(model), "--bench", "cvbench", "--data", str(bench_data["cvbench"]),
            "--limit", "2", "--decoding", "paper", "--output", str(out), "--no-progress"]
    assert main(args) == 0
    decoding = json.loads(out.read_text())["config"]["decoding"]
    assert decoding["mode"] == "paper" and decoding["repetition_penalty"] == 1.05
    assert decoding["do_sample"] is False and decoding["max_new_tokens"] == 1024
    sampling, effective = seen[0]
    assert sampling.repetition_penalty == 1.05 and effective.repetition_penalty == 1.05
    assert not effective.do_sample
    # the default ignores the checkpoint: repetition_penalty 1.0, recorded; a resume cannot mix the two
    assert main([*args[:-5], "--output", str(tmp_path / "explicit.json"), "--no-progress"]) == 0
    assert json.loads((tmp_path / "explicit.json").read_text())["config"]["decoding"]["repetition_penalty"] == 1.0
    assert seen[-1][1].repetition_penalty == 1.0
    assert main([*args[:-5], "--output", str(out), "--no-progress"]) == 2
    assert main([*args, "--max-new-tokens", "6"]) == 2


def _cvbench_items(out: Path) -> list[dict]:
    return [it for it in json.loads(out.read_text())["items"] if it["bench"] == "cvbench"]


def test_bare_data_path_and_dataset_ids_in_predictions(bench_data, tmp_path, capsys):
    preds = tmp_path / "preds.jsonl"
    out = tmp_path / "p.json"
    base = ["eval", "--bench", "cvbench", "--data", str(bench_data["cvbench"]), "--predictions", str(preds),
            "--output", str(out)]
    # CV-Bench's own idx (int, as a user's saved responses carry it), one line with the internal id
    rows = [{"id": i, "response": "<answer>(A)</answer>"} for i in range(1, 6)]
    rows.append({"id": "cvbench-0", "response": "<answer>(A)</answer>"})
    preds.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    assert main(base) == 0
    items = _cvbench_items(out)
    assert len(items) == 6 and [it["dataset_id"] for it in items] == [str(i) for i in range(6)]
    assert [it["correct"] for it in items] == [it["gold_letter"] == "A" for it in items]
    # the same item twice (idx 0 and cvbench-0) and an unknown id are errors naming them
    preds.write_text("\n".join(json.dumps(r) for r in [*rows, {"id": 0, "response": "x"}]) + "\n")
    assert main(base) == 2 and "two responses for cvbench:cvbench-0" in capsys.readouterr().err
    preds.write_text("\n".join(json.dumps(r) for r in [*rows, {"id": 99, "response": "x"}]) + "\n")
    assert main(base) == 2 and "99" in capsys.readouterr().err
    assert main([*base, "--limit", "6"]) == 0  # part of a file: the rest is reported, not an error
    assert "1 response(s) outside --limit" in capsys.readouterr().out
    # a bare path is ambiguous with several benches
    several = ["eval", "--bench", "cvbench,vsr", "--data", str(bench_data["cvbench"]), "--predictions", str(preds),
               "--output", str(out)]
    assert main(several) == 2 and "single --bench" in capsys.readouterr().err


def test_ambiguous_ids_need_a_bench_field():
    items = [{"id": "cvbench-3", "dataset_id": "3", "bench": "cvbench"}, {"id": "3", "dataset_id": "3", "bench": "blink"}]
    with pytest.raises(DataError, match="fits several items"):
        match_predictions(items, [{"id": 3, "response": "x"}], "p.jsonl")
    matched, unmatched = match_predictions(items, [{"id": 3, "bench": "blink", "response": "x"},
                                                  {"id": "cvbench-3", "response": "y"}], "p.jsonl")
    assert set(matched) == {("blink", "3"), ("cvbench", "cvbench-3")} and unmatched == []
