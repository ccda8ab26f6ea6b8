"""The adversarial suite: malformed inputs generated here (no fixture files), each run through the CLI in process
(or, for a few, a real subprocess) and held to the same bar: the exit status, a one-line message naming the input,
no traceback. Helpers for writing a records folder the suite can then damage."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from visualthinker.cli.main import main


@dataclass
class Result:
    code: int
    out: str
    err: str

    def lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.strip()]


def cli(argv: list[str], capsys: pytest.CaptureFixture) -> Result:
    """Run `visualthinker ARGV` in process; argparse's SystemExit becomes an exit status like any other."""
    capsys.readouterr()
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    captured = capsys.readouterr()
    return Result(code, captured.out, captured.err)


def assert_clear_error(result: Result, *names: str, code: int = 2) -> str:
    """Exit `code`, exactly one `error:` line on stderr, the last, naming every one of `names`; no traceback.
    (Progress bars of model loading may come before it.)"""
    assert result.code == code, (result.code, result.out, result.err)
    assert "Traceback" not in result.err + result.out
    lines = result.lines()
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1 and lines[-1] == errors[0], lines
    for name in names:
        assert name in errors[0], (name, errors[0])
    return errors[0]


def assert_usage_error(result: Result, option: str, value: str) -> str:
    """argparse's refusal: exit 2, a usage line, then one error line naming the option and the value."""
    assert result.code == 2 and "Traceback" not in result.err
    last = result.lines()[-1]
    assert "error: argument " + option in last and value in last, last
    return last


def assert_problem(result: Result, *names: str) -> str:
    """`data validate`'s report: exit 1 and a `problem:` line naming every one of `names`."""
    assert result.code == 1, (result.code, result.out, result.err)
    assert "Traceback" not in result.err + result.out
    problems = [line for line in result.out.splitlines() if line.startswith("problem: ")]
    assert problems, result.out
    hits = [p for p in problems if all(n in p for n in names)]
    assert hits, (names, problems)
    return hits[0]


def good_row(i: int, image: str = "images/0.png") -> dict[str, Any]:
    return {"id": f"r{i}", "images": [image], "question": "Is the dot left or right?", "choices": ["left", "right"],
            "answer": "left", "prompt": "Is the dot left or right? Choose between the following options: left or right",
            "task": "relation", "source": "test"}


def write_records_dir(root: Path, rows: list[dict[str, Any]] | None = None, image_size: tuple[int, int] = (64, 48),
                      raw_lines: bytes | None = None) -> Path:
    """A records folder: images/0.png and records.jsonl (from `rows`, or exactly `raw_lines`)."""
    (root / "images").mkdir(parents=True, exist_ok=True)
    Image.new("RGB", image_size, (200, 30, 30)).save(root / "images" / "0.png")
    rows = [good_row(0), good_row(1)] if rows is None else rows
    data = raw_lines if raw_lines is not None else "".join(json.dumps(r) + "\n" for r in rows).encode()
    (root / "records.jsonl").write_bytes(data)
    return root


@pytest.fixture
def records_dir(tmp_path: Path) -> Path:
    return write_records_dir(tmp_path / "data")


TRAIN_KEYS = [
    "num_generations=2", "per_device_prompts=1", "gradient_accumulation_steps=1", "max_completion_length=4",
    "max_steps=1", "report_to=[]", "progress_bar=false", "min_pixels=3136", "max_pixels=12544", "eval_every=0",
    "learning_rate=1e-3", "trajectory_images=false",
]


def train_config(path: Path, model: Path | str, data: Path, out: Path, *extra: str) -> Path:
    """A YAML config for a one-step tiny run; `extra` are key: value lines (YAML)."""
    lines = [f"model_path: {model}", f"train_data: {data}", f"output_dir: {out}"]
    lines += [k.replace("=", ": ", 1) for k in TRAIN_KEYS] + list(extra)
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from visualthinker.models.tiny import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("adv-tiny") / "model", seed=0)
