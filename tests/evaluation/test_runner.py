"""The evaluation loop without a model: resume, crash recovery, predictions, settings checks."""

from __future__ import annotations

import json

import pytest

from visualthinker.data.record import Record
from visualthinker.errors import DataError
from visualthinker.evaluation import results as res
from visualthinker.evaluation.runner import Response, run_eval, score_predictions

CONFIG = {"model": "fake", "predictions": None, "prompt": "reasoning", "template": "base", "max_new_tokens": 16}


def records(n, prefix="r"):
    return [Record(id=f"{prefix}{i}", images=[], question=f"q{i}", choices=["left", "right"], answer="left",
                   prompt="q" * (i + 1), task="Relation", source="cvbench", answer_letter="A") for i in range(n)]


class FakeResponder:
    """Answers correctly on even items; can be told to die after some batches (a killed run)."""

    def __init__(self, fail_after: int | None = None):
        self.calls = 0
        self.generated: list[str] = []
        self.fail_after = fail_after

    def prompt_length(self, record):
        return len(record.prompt)

    def __call__(self, batch):
        if self.fail_after is not None and self.calls >= self.fail_after:
            raise KeyboardInterrupt
        self.calls += 1
        self.generated += [r.id for r in batch]
        return [Response("<think>x</think><answer>(A)</answer>" if int(r.id[1:]) % 2 == 0 else "no idea", 5, True)
                for r in batch]


def test_run_writes_results_and_resume_generates_nothing(tmp_path):
    out = tmp_path / "results.json"
    first = FakeResponder()
    data = run_eval({"cvbench": records(5)}, first, out, CONFIG, batch_size=2, progress=False)
    assert first.calls == 3 and len(data["items"]) == 5
    assert [it["id"] for it in data["items"]] == [f"r{i}" for i in range(5)]  # input order, not length order
    assert first.generated[:2] == ["r4", "r3"]  # longest prompts first
    assert data["summary"]["benches"]["cvbench"]["strict"]["accuracy"] == pytest.approx(3 / 5)
    assert data["summary"]["throughput"]["items"] == 5
    assert not res.partial_paths(out)
    second = FakeResponder()
    again = run_eval({"cvbench": records(5)}, second, out, CONFIG, batch_size=2, progress=False)
    assert second.calls == 0
    assert again["items"] == data["items"] and again["summary"]["throughput"] is None
    on_disk = json.loads(out.read_text())
    assert set(on_disk["items"][0]) >= {"id", "bench", "task", "question", "choices", "gold", "response", "parsed",
                                        "correct", "correct_paper", "response_tokens", "finished"}


def test_killed_run_resumes_from_the_sidecar(tmp_path):
    out = tmp_path / "results.json"
    dying = FakeResponder(fail_after=2)
    with pytest.raises(KeyboardInterrupt):
        run_eval({"cvbench": records(7)}, dying, out, CONFIG, batch_size=2, progress=False)
    assert not out.exists()
    sidecar = res.partial_path(out)
    with sidecar.open("a") as fh:
        fh.write('{"id": "r9", "bench": "cvb')  # the write in flight when the process died
    resumed = FakeResponder()
    data = run_eval({"cvbench": records(7)}, resumed, out, CONFIG, batch_size=2, progress=False)
    assert sorted(resumed.generated) == sorted(set(f"r{i}" for i in range(7)) - set(dying.generated))
    assert len(resumed.generated) == 3 and len(data["items"]) == 7


def test_resume_refuses_other_generation_settings(tmp_path):
    out = tmp_path / "results.json"
    run_eval({"cvbench": records(2)}, FakeResponder(), out, CONFIG, batch_size=2, progress=False)
    with pytest.raises(DataError, match="max_new_tokens"):
        run_eval({"cvbench": records(2)}, FakeResponder(), out, {**CONFIG, "max_new_tokens": 32}, progress=False)


def test_duplicate_ids_are_an_error(tmp_path):
    with pytest.raises(DataError, match="occurs twice"):
        run_eval({"cvbench": records(2) + records(1)}, FakeResponder(), tmp_path / "r.json", CONFIG, progress=False)


def test_predictions_are_scored_and_missing_ids_named():
    recs = {"cvbench": records(3)}
    preds = [{"id": "r0", "response": "<answer>left</answer>"},
             {"id": "r1", "response": "There is a lamp", "response_tokens": 4}]
    with pytest.raises(DataError, match="cvbench:r2"):
        score_predictions(recs, preds, {}, "strict", "preds.jsonl")
    preds.append({"id": "r2", "response": "(B)"})
    data = score_predictions(recs, preds, {}, "strict", "preds.jsonl")
    flags = [(it["correct"], it["correct_paper"]) for it in data["items"]]
    assert flags == [(True, True), (False, True), (False, False)]  # the last item is kept (unlike the original)
