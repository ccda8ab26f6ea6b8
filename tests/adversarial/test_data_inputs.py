"""Data files, predictions and CLI options a user gets wrong: a clear error (exit 2, one line naming the input)
from the commands that read them, a problem (exit 1) from `data validate`, never a traceback or a silent "ok"."""

from __future__ import annotations

import json

import pytest

from tests.adversarial.conftest import (
    assert_clear_error,
    assert_problem,
    assert_usage_error,
    cli,
    good_row,
    write_records_dir,
)
from tests.data.fixtures import write_vsr_fixture

LATIN1 = json.dumps(good_row(1)).replace("left or right?", "gauche ou droite\u00e9?").encode("latin-1") + b"\n"


def test_records_not_utf8_inspect_and_validate(tmp_path, capsys):
    data = write_records_dir(tmp_path / "d", raw_lines=json.dumps(good_row(0)).encode() + b"\n" + LATIN1)
    name = str(data / "records.jsonl")
    assert_clear_error(cli(["data", "inspect", data], capsys), name, "line 2", "not UTF-8")
    assert_problem(cli(["data", "validate", data], capsys), name, "line 2", "byte ")


def test_vsr_jsonl_not_utf8(tmp_path, capsys):
    root = write_vsr_fixture(tmp_path / "vsr")
    (root / "test.jsonl").write_bytes(b'{"image": "a.jpg", "caption": "caf\xe9"}\n')
    assert_clear_error(cli(["data", "inspect", root / "test.jsonl", "--format", "vsr"], capsys),
                       "test.jsonl", "line 1", "not UTF-8")


def test_records_file_that_is_a_directory(tmp_path, capsys):
    data = tmp_path / "d"
    (data / "records.jsonl").mkdir(parents=True)
    assert_clear_error(cli(["data", "inspect", data], capsys), "records.jsonl", "is a directory")
    assert_problem(cli(["data", "validate", data], capsys), "records.jsonl", "is a directory")


def test_empty_records_file_is_a_problem_not_ok(tmp_path, capsys):
    data = write_records_dir(tmp_path / "d", rows=[])
    assert_problem(cli(["data", "validate", data], capsys), "records.jsonl", "no usable records")


def test_prompt_that_is_a_number(tmp_path, capsys):
    row = good_row(0)
    row["prompt"] = 42
    data = write_records_dir(tmp_path / "d", rows=[row, good_row(1)])
    assert_problem(cli(["data", "validate", data], capsys), "records.jsonl row 0", "'prompt'", "42")


@pytest.mark.parametrize("command", [["data", "inspect"], ["data", "validate"]])
@pytest.mark.parametrize("limit", ["-1", "0"])
def test_limit_below_one_is_refused(records_dir, capsys, command, limit):
    assert_usage_error(cli([*command, records_dir, "--limit", limit], capsys), "--limit", limit)


def test_prepare_limit_and_synth_n_refused(tmp_path, capsys):
    assert_usage_error(cli(["data", "prepare", "vsr", "--out", tmp_path / "o", "--limit", "-1"], capsys),
                       "--limit", "-1")
    assert_usage_error(cli(["data", "synth", "--out", tmp_path / "o", "--n", "-4"], capsys), "--n", "-4")


def test_synth_out_that_is_a_file(tmp_path, capsys):
    target = tmp_path / "file"
    target.write_text("x")
    assert_clear_error(cli(["data", "synth", "--out", target, "--n", "2"], capsys), str(target), "is a file")


def test_library_limit_below_zero_is_refused(records_dir):
    from visualthinker.data import load_records
    from visualthinker.errors import ConfigError

    with pytest.raises(ConfigError, match="limit must be a whole number >= 0"):
        load_records(records_dir, limit=-1)
    with pytest.raises(ConfigError, match="limit"):
        load_records("synthetic", limit=-1)  # once dropped the last record without a word


EVAL = ["eval", "--bench", "synthetic", "--data"]


def test_eval_limit_and_batch_size_refused(records_dir, tmp_path, capsys):
    base = [*EVAL, f"synthetic={records_dir}", "--output", tmp_path / "r.json", "--predictions", tmp_path / "p"]
    assert_usage_error(cli([*base, "--limit", "-1"], capsys), "--limit", "-1")
    assert_usage_error(cli([*base, "--batch-size", "0"], capsys), "--batch-size", "0")


def test_predictions_not_utf8(records_dir, tmp_path, capsys):
    preds = tmp_path / "p.jsonl"
    preds.write_bytes(b'{"id": "r0", "response": "<answer>left</answer>"}\n{"id": "r1", "response": "\xff"}\n')
    result = cli([*EVAL, f"synthetic={records_dir}", "--predictions", preds, "--output", tmp_path / "r.json"], capsys)
    assert_clear_error(result, f"--predictions {preds}", "line 2", "not UTF-8")


def test_predictions_that_is_a_directory(records_dir, tmp_path, capsys):
    result = cli([*EVAL, f"synthetic={records_dir}", "--predictions", tmp_path, "--output", tmp_path / "r.json"],
                 capsys)
    assert_clear_error(result, f"--predictions {tmp_path}", "is a directory")


def test_eval_output_that_is_a_directory(records_dir, tmp_path, capsys):
    preds = tmp_path / "p.jsonl"
    preds.write_text('{"id": "r0", "response": "x"}\n')
    result = cli([*EVAL, f"synthetic={records_dir}", "--predictions", preds, "--output", tmp_path], capsys)
    assert_clear_error(result, f"--output {tmp_path}", "is a directory")


def test_results_file_not_utf8_for_compare(tmp_path, capsys):
    results = tmp_path / "results.json"
    results.write_bytes(b'{"summary": "\xfe"}')
    assert_clear_error(cli(["compare", results], capsys), str(results), "not UTF-8")


def test_model_config_not_utf8(records_dir, tmp_path, capsys):
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_bytes(b'{"model_type": "qwen2_vl\xff"}')
    result = cli([*EVAL, f"synthetic={records_dir}", "--model", model, "--output", tmp_path / "r.json"], capsys)
    assert_clear_error(result, str(model / "config.json"), "line 1", "not UTF-8")
