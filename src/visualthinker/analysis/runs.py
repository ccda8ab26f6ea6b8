"""Reading a training run directory: `config.yaml`, `metrics.jsonl` and `trajectories/step-<N>.jsonl`.

Trajectory files are streamed one step at a time so that a long run (thousands of steps, dozens of completions
each) never has to sit in memory as a whole; only the report's few browsed steps are read in full.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from visualthinker.errors import VisualThinkerError
from visualthinker.jsonl import iter_objects
from visualthinker.textfiles import read_text

METRICS_FILE = "metrics.jsonl"
CONFIG_FILE = "config.yaml"
TRAJECTORY_DIR = "trajectories"
_STEP_FILE = re.compile(r"^step-(\d+)\.jsonl$")


class RunDirError(VisualThinkerError):
    """A run directory, or a file inside it, is missing or malformed."""


@dataclass(frozen=True)
class Completion:
    """One logged rollout; the fields the report needs from a trajectory line."""

    step: int
    prompt_id: str
    group_index: int
    sample_index: int
    prompt: str
    completion: str
    rewards: dict[str, float]
    reward: float
    advantage: float
    completion_tokens: int
    finished: bool
    image: str | None

    @property
    def correct(self) -> bool | None:
        """Accuracy reward == 1; None when the run has no accuracy reward."""
        acc = self.rewards.get("accuracy")
        return None if acc is None else acc >= 1.0


def check_run_dir(run_dir: str | Path) -> Path:
    path = Path(run_dir)
    if not path.is_dir():
        raise RunDirError(f"run directory not found: {path}")
    if not (path / METRICS_FILE).is_file() and not trajectory_files(path):
        raise RunDirError(f"{path} is not a run directory: it has neither {METRICS_FILE} nor {TRAJECTORY_DIR}/step-<N>.jsonl")
    return path


def load_config(run_dir: Path) -> dict[str, Any] | None:
    """The resolved config, or None when the run has none (synthetic runs, runs from other tools)."""
    path = run_dir / CONFIG_FILE
    if not path.is_file():
        return None
    try:
        data = yaml.safe_load(read_text(path, RunDirError))
    except yaml.YAMLError as exc:
        raise RunDirError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from exc
    return data if isinstance(data, dict) else None


def _json_lines(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    return iter_objects(path, RunDirError)


def _as_step(value: Any, path: Path, lineno: int) -> int:
    # bool is an int subclass; a step of `true` is a writer bug, not step 1
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value != int(value):
        raise RunDirError(f"{path} line {lineno}: 'step' must be an integer, got {value!r}")
    return int(value)


def load_metrics(run_dir: Path) -> pd.DataFrame:
    """One row per step, indexed by step; eval-only lines for a step are merged into that step's row.

    Non-numeric values become NaN: every column here is plotted or averaged.
    """
    path = run_dir / METRICS_FILE
    if not path.is_file():
        return pd.DataFrame(index=pd.Index([], name="step", dtype="int64"))
    rows: list[dict[str, Any]] = []
    for lineno, obj in _json_lines(path):
        if "step" not in obj:
            raise RunDirError(f"{path} line {lineno}: line has no 'step' key")
        row = dict(obj)
        row["step"] = _as_step(obj["step"], path, lineno)
        rows.append(row)
    if not rows:
        return pd.DataFrame(index=pd.Index([], name="step", dtype="int64"))
    frame = pd.DataFrame(rows)
    for column in frame.columns:
        if column != "step":
            frame[column] = pd.to_numeric(frame[column], errors="coerce")
    # last() skips NaN, so an eval-only line adds its keys without erasing the training line's values
    merged = frame.groupby("step", sort=True).last()
    merged.index = merged.index.astype("int64")
    return merged


def trajectory_files(run_dir: Path) -> list[tuple[int, Path]]:
    """(step, path) sorted by step number, not by file name ("step-10" after "step-9")."""
    folder = run_dir / TRAJECTORY_DIR
    if not folder.is_dir():
        return []
    found = []
    for path in folder.iterdir():
        match = _STEP_FILE.match(path.name)
        if match and path.is_file():
            found.append((int(match.group(1)), path))
    return sorted(found)


def _completion(obj: dict[str, Any], step: int, path: Path, lineno: int) -> Completion:
    text = obj.get("completion")
    if not isinstance(text, str):
        raise RunDirError(f"{path} line {lineno}: 'completion' must be a string")
    rewards_raw = obj.get("rewards") or {}
    if not isinstance(rewards_raw, dict):
        raise RunDirError(f"{path} line {lineno}: 'rewards' must be an object of name -> number")
    try:
        rewards = {str(k): float(v) for k, v in rewards_raw.items()}
        reward = float(obj.get("reward", sum(rewards.values())))
        advantage = float(obj.get("advantage", float("nan")))
    except (TypeError, ValueError) as exc:
        raise RunDirError(f"{path} line {lineno}: reward values must be numbers ({exc})") from exc
    tokens = obj.get("completion_tokens")
    if not isinstance(tokens, int | float) or isinstance(tokens, bool):
        # older writers may omit it; whitespace words are a rough but monotone stand-in
        tokens = len(text.split())
    image = obj.get("image")
    return Completion(
        step=step,
        prompt_id=str(obj.get("prompt_id", "")),
        group_index=int(obj.get("group_index", 0) or 0),
        sample_index=int(obj.get("sample_index", 0) or 0),
        prompt=str(obj.get("prompt", "")),
        completion=text,
        rewards=rewards,
        reward=reward,
        advantage=advantage,
        completion_tokens=int(tokens),
        finished=bool(obj.get("finished", True)),
        image=image if isinstance(image, str) and image else None,
    )


def read_step(path: Path, step: int) -> list[Completion]:
    """All completions of one trajectory file; the file name's step wins over a line's own `step`."""
    return [_completion(obj, step, path, lineno) for lineno, obj in _json_lines(path)]


def iter_steps(run_dir: Path) -> Iterator[tuple[int, list[Completion]]]:
    for step, path in trajectory_files(run_dir):
        yield step, read_step(path, step)


def resolve_image(run_dir: Path, relative: str | None) -> Path | None:
    """The thumbnail's path if it exists inside the run dir; a path escaping the run dir is ignored."""
    if not relative:
        return None
    root = run_dir.resolve()
    candidate = (root / relative).resolve()
    if not candidate.is_relative_to(root) or not candidate.is_file():
        return None
    return candidate
