from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.analysis.synthetic_run import SyntheticRun
from visualthinker.cli.main import main


def test_cli_report(flat_run: SyntheticRun, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lexicon = tmp_path / "lex.txt"
    lexicon.write_text("wait\n<think>\n", encoding="utf-8")
    out = tmp_path / "out"
    code = main(["report", str(flat_run.path), "--out", str(out), "--lexicon", str(lexicon), "--window", "5",
                 "--baseline-steps", "5", "--multiple", "3", "--browse-steps", "1,2", "--samples-per-step", "2"])
    assert code == 0
    assert "index.html" in capsys.readouterr().out
    data = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert data["lexicon"] == ["wait", "<think>"]
    assert (data["aha"]["window"], data["aha"]["baseline_steps"], data["aha"]["multiple"]) == (5, 5, 3.0)
    assert data["report"]["browser_steps"] == [1, 2]


def test_cli_compare(tmp_path: Path) -> None:
    runs = []
    for name in ("a", "b"):
        run = tmp_path / name
        run.mkdir()
        (run / "metrics.jsonl").write_text("".join(json.dumps({"step": s, "reward": s}) + "\n" for s in range(3)),
                                           encoding="utf-8")
        runs.append(str(run))
    out = tmp_path / "cmp"
    assert main(["report", "--compare", *runs, "--out", str(out), "--labels", "first,second"]) == 0
    data = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert [r["label"] for r in data["runs"]] == ["first", "second"]


@pytest.mark.parametrize("argv_tail", [
    ["{missing}"],
    [],
    ["{missing}", "--compare", "{missing}", "{missing}"],
])
def test_cli_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str], argv_tail: list[str]) -> None:
    argv = ["report", *[a.format(missing=tmp_path / "missing") for a in argv_tail]]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1


def test_cli_malformed_metrics(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "metrics.jsonl").write_text('{"step": 1}\n{"step": 2,\n', encoding="utf-8")
    assert main(["report", str(tmp_path)]) == 2
    assert "metrics.jsonl line 2:" in capsys.readouterr().err
