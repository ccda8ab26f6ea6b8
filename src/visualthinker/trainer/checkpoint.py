"""Atomic checkpoints: written to a temporary folder, renamed when complete. A folder without the completion
marker (a run killed mid-write) is never used for resuming."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

COMPLETE_MARKER = "trainer_state.json"
_STEP_DIR = re.compile(r"^step-(\d+)$")


def checkpoint_dir(output_dir: Path, step: int) -> Path:
    return output_dir / "checkpoints" / f"step-{step}"


def temp_dir(output_dir: Path, step: int) -> Path:
    return output_dir / "checkpoints" / f".tmp-step-{step}"


def finalize(output_dir: Path, step: int, state: dict) -> Path:
    """Mark the temporary folder complete and move it into place (main process only)."""
    tmp, final = temp_dir(output_dir, step), checkpoint_dir(output_dir, step)
    (tmp / COMPLETE_MARKER).write_text(json.dumps(state, indent=2))
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    return final


def complete_checkpoints(output_dir: Path) -> list[tuple[int, Path]]:
    root = output_dir / "checkpoints"
    if not root.is_dir():
        return []
    found = []
    for child in root.iterdir():
        m = _STEP_DIR.match(child.name)
        if m and (child / COMPLETE_MARKER).exists():
            found.append((int(m.group(1)), child))
    return sorted(found)


def latest_checkpoint(output_dir: Path) -> tuple[int, Path] | None:
    found = complete_checkpoints(output_dir)
    return found[-1] if found else None


def prune(output_dir: Path, keep: int | None) -> None:
    """Remove the oldest complete checkpoints beyond `keep`, and leftovers of interrupted writes."""
    root = output_dir / "checkpoints"
    if root.is_dir():
        for child in root.iterdir():
            if child.name.startswith(".tmp-step-"):
                shutil.rmtree(child, ignore_errors=True)
    if keep is None:
        return
    for _, path in complete_checkpoints(output_dir)[:-keep] if keep > 0 else []:
        shutil.rmtree(path, ignore_errors=True)
