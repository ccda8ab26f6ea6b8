"""The run directory's logs: metrics.jsonl (one object per optimizer step), trajectories/step-N.jsonl (one line
per completion) with image thumbnails, and their clean-up when a run resumes from an earlier checkpoint."""

from __future__ import annotations

import json
import logging
import math
import re
from pathlib import Path
from typing import Any

from PIL import Image

from visualthinker.errors import ConfigError
from visualthinker.textfiles import iter_lines

_TRAJ_FILE = re.compile(r"^step-(\d+)\.jsonl$")
THUMBNAIL_SIZE = 160
logger = logging.getLogger("visualthinker.trainer")


def _step(row: dict[str, Any]) -> float:
    step = row.get("step", 0)
    return step if isinstance(step, (int, float)) and not isinstance(step, bool) else 0


def _clean(value: Any) -> Any:
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    return value


class RunLog:
    def __init__(self, output_dir: Path) -> None:
        self.output_dir = output_dir
        self.metrics_path = output_dir / "metrics.jsonl"
        self.trajectory_dir = output_dir / "trajectories"
        self.image_dir = self.trajectory_dir / "images"

    def append_metrics(self, row: dict[str, Any]) -> None:
        with self.metrics_path.open("a") as f:
            f.write(json.dumps({k: _clean(v) for k, v in row.items()}) + "\n")

    def write_trajectories(self, step: int, rows: list[dict[str, Any]]) -> None:
        self.trajectory_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.trajectory_dir / f".step-{step}.jsonl.tmp"
        with tmp.open("w") as f:
            for row in rows:
                f.write(json.dumps({k: _clean(v) for k, v in row.items()}) + "\n")
        tmp.replace(self.trajectory_dir / f"step-{step}.jsonl")

    def thumbnail(self, prompt_id: str, image: Image.Image) -> str:
        """Save a small copy of a prompt's first image once; returns its path relative to the run dir."""
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", prompt_id)
        path = self.image_dir / f"{safe}.png"
        if not path.exists():
            self.image_dir.mkdir(parents=True, exist_ok=True)
            thumb = image.copy()
            thumb.thumbnail((THUMBNAIL_SIZE, THUMBNAIL_SIZE))
            thumb.save(path)
        return str(path.relative_to(self.output_dir))

    def has_steps(self) -> bool:
        return self.metrics_path.is_file() and self.metrics_path.stat().st_size > 0

    def read_metric_lines(self) -> list[tuple[str, dict[str, Any]]]:
        """(line, row) for each logged row. A torn last line (the write in flight when the process died) is
        dropped with a warning; a bad line anywhere else is corruption and an error naming the line."""
        if not self.metrics_path.exists():
            return []
        lines = [(n, line) for n, line in iter_lines(self.metrics_path, ConfigError) if line.strip()]
        rows = []
        for k, (n, line) in enumerate(lines):
            try:
                row = json.loads(line)
                if not isinstance(row, dict):
                    raise ValueError(f"expected an object, got {type(row).__name__}")
            except ValueError as exc:
                if k == len(lines) - 1:
                    logger.warning("%s line %d is torn (%s), as a write cut short by a kill leaves it; dropped it",
                                   self.metrics_path, n, exc)
                    break
                raise ConfigError(f"{self.metrics_path} line {n} is not a JSON object ({exc}); the run's log is "
                                  "damaged: fix or delete that line, or start a new output_dir") from exc
            rows.append((line, row))
        return rows

    def clear(self) -> None:
        """Forget every logged step (a run restarted from step 0)."""
        self.truncate_after(-1)

    def truncate_after(self, step: int) -> None:
        """Drop what was logged after `step` (the checkpoint a run resumes from), so no step appears twice."""
        if self.metrics_path.exists():
            kept = [line for line, row in self.read_metric_lines() if _step(row) <= step]
            tmp = self.metrics_path.with_name(self.metrics_path.name + ".tmp")
            tmp.write_text("".join(line + "\n" for line in kept))
            tmp.replace(self.metrics_path)
        if self.trajectory_dir.is_dir():
            for path in self.trajectory_dir.iterdir():
                m = _TRAJ_FILE.match(path.name)
                if m and int(m.group(1)) > step:
                    path.unlink()
