"""The run directory's logs: metrics.jsonl (one object per optimizer step), trajectories/step-N.jsonl (one line
per completion) with image thumbnails, and their clean-up when a run resumes from an earlier checkpoint."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

from PIL import Image

_TRAJ_FILE = re.compile(r"^step-(\d+)\.jsonl$")
THUMBNAIL_SIZE = 160


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

    def truncate_after(self, step: int) -> None:
        """Drop what was logged after `step` (the checkpoint a run resumes from), so no step appears twice."""
        if self.metrics_path.exists():
            kept = [line for line in self.metrics_path.read_text().splitlines()
                    if line.strip() and json.loads(line).get("step", 0) <= step]
            self.metrics_path.write_text("".join(line + "\n" for line in kept))
        if self.trajectory_dir.is_dir():
            for path in self.trajectory_dir.iterdir():
                m = _TRAJ_FILE.match(path.name)
                if m and int(m.group(1)) > step:
                    path.unlink()
