from __future__ import annotations

import json

from tests.data.fixtures import cvbench_rows, write_cvbench_fixture
from visualthinker.cli.main import main
from visualthinker.data import load_records


def test_synth_then_inspect_and_validate(tmp_path, capsys):
    out = tmp_path / "syn"
    assert main(["data", "synth", "--out", str(out), "--n", "16", "--seed", "2", "--split", "test"]) == 0
    assert "wrote 16 synthetic test records" in capsys.readouterr().out
    records = load_records(out)
    assert len(records) == 16 and records[0].id.startswith("synthetic-test-2-")

    assert main(["data", "inspect", str(out), "--json", "--samples", "2"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["records"] == 16 and sum(summary["tasks"].values()) == 16
    assert summary["samples"][0]["image_sizes"] == [[112, 112]]

    assert main(["data", "inspect", str(out)]) == 0
    text = capsys.readouterr().out
    assert "16 records" in text and "tasks: count: 4" in text

    assert main(["data", "validate", str(out)]) == 0
    assert "ok: 16 records" in capsys.readouterr().out


def test_synth_refuses_existing_output(tmp_path, capsys):
    args = ["data", "synth", "--out", str(tmp_path), "--n", "2"]
    assert main(args) == 0
    assert main(args) == 2
    assert "already holds records.jsonl" in capsys.readouterr().err
    assert main([*args, "--overwrite"]) == 0


def test_validate_reports_every_problem_with_its_row(tmp_path, capsys):
    rows = cvbench_rows()
    rows[1]["answer"] = "(E)"
    rows[4]["choices"] = []
    rows[5]["image"] = {"bytes": b"\xff\xd8\xff\xe0 not really a jpeg", "path": None}
    root = write_cvbench_fixture(tmp_path, "single", rows)
    assert main(["data", "validate", str(root)]) == 1
    out = capsys.readouterr().out
    problems = [line for line in out.splitlines() if line.startswith("problem: ")]
    assert len(problems) == 3
    assert "test.parquet row 1, field 'answer'" in problems[0]
    assert "test.parquet row 4, field 'choices'" in problems[1]
    assert "test.parquet row 5" in problems[2] and "image 0" in problems[2]
    assert "3 problem(s) in 4 records" in out


def test_validate_file_level_error(tmp_path, capsys):
    (tmp_path / "SAT_train.parquet").write_bytes(b"not parquet")
    assert main(["data", "validate", str(tmp_path / "SAT_train.parquet"), "--format", "sat"]) == 1
    assert "cannot read as parquet" in capsys.readouterr().out


def test_prepare_sat(tmp_path, sat_pandas, capsys):
    out = tmp_path / "prepared"
    assert (
        main(
            ["data", "prepare", "sat", "--src", str(sat_pandas), "--out", str(out), "--n", "8", "--seed", "1"]
        )
        == 0
    )
    assert "skipped 2 multi-image rows" in capsys.readouterr().out
    prepared = load_records(out)
    direct = load_records(sat_pandas, first_n=8, seed=1)
    assert [(r.id, r.choices, r.prompt) for r in prepared] == [(r.id, r.choices, r.prompt) for r in direct]
    meta = json.loads((out / "meta.json").read_text())
    assert meta["dataset"] == "sat" and meta["skipped"] == {"multi-image rows": 2}


def test_inspect_with_loader_options(vsr_dir, capsys):
    images = str(vsr_dir / "images")
    assert main(["data", "inspect", str(vsr_dir / "test.jsonl"), "-o", f"image_root={images}", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["records"] == 3


def test_bad_option_is_an_error(capsys):
    assert main(["data", "inspect", "synthetic", "-o", "nonsense"]) == 2
    assert "expected KEY=VALUE" in capsys.readouterr().err
