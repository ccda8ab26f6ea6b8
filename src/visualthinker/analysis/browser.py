"""Which completions the static trajectory browser shows: a few per step, for the first, middle and last logged
steps and the steps around the aha step. Only those step files are read again; thumbnails they use are copied
next to the page so the report stays valid when it is moved away from the run dir."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from visualthinker.analysis.reflection import Lexicon, find_markers
from visualthinker.analysis.runs import Completion, read_step, resolve_image, trajectory_files

THUMB_DIR = "thumbs"
_IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".webp"}


def select_steps(logged: Sequence[int], aha_step: int | None, around: int = 2) -> list[tuple[int, str]]:
    """(step, why) for the browser, in step order, without duplicates."""
    if not logged:
        return []
    chosen: dict[int, list[str]] = {}
    chosen.setdefault(logged[0], []).append("first")
    chosen.setdefault(logged[len(logged) // 2], []).append("middle")
    chosen.setdefault(logged[-1], []).append("last")
    if aha_step is not None and aha_step in logged:
        i = logged.index(aha_step)
        for j in range(max(0, i - around), min(len(logged), i + around + 1)):
            offset = j - i
            why = "aha step" if offset == 0 else f"aha {offset:+d}"
            chosen.setdefault(logged[j], []).append(why)
    return [(s, ", ".join(chosen[s])) for s in sorted(chosen)]


def _spread(indices: list[int], completions: Sequence[Completion]) -> list[int]:
    """Round-robin over prompt groups (first sample of each group, then the second, ...): a page of eight
    samples of one prompt says less about a step than one or two samples of several prompts."""
    seen: dict[str, int] = {}
    keyed = []
    for i in indices:
        group = completions[i].prompt_id
        seen[group] = seen.get(group, 0) + 1
        keyed.append((seen[group], i))
    return [i for _, i in sorted(keyed)]


def pick_samples(completions: Sequence[Completion], reflective: Sequence[bool], n: int) -> list[int]:
    """Indices of up to n completions, half of them reflective when the step has any, in file order:
    a plain first-n pick would often hide the reflective minority the page exists to show."""
    refl = _spread([i for i, r in enumerate(reflective) if r], completions)
    plain = _spread([i for i, r in enumerate(reflective) if not r], completions)
    take_refl = refl[: max(n // 2, n - len(plain))]
    take_plain = plain[: n - len(take_refl)]
    return sorted(take_refl + take_plain)


def copy_thumbnail(run_dir: Path, relative: str | None, out_dir: Path) -> str | None:
    """Relative src of the copied thumbnail inside out_dir, or None when absent, unsafe or not an image."""
    source = resolve_image(run_dir, relative)
    if source is None or source.suffix.lower() not in _IMAGE_SUFFIXES:
        return None
    # hash of the run-relative path: distinct images never collide, the same image is copied once
    name = hashlib.sha1(str(relative).encode("utf-8")).hexdigest()[:16] + source.suffix.lower()
    target = out_dir / THUMB_DIR / name
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    return f"{THUMB_DIR}/{name}"


def completion_view(c: Completion, lexicon: Lexicon, run_dir: Path, out_dir: Path) -> dict[str, Any]:
    matches = find_markers(c.completion, lexicon)
    return {
        "completion": c,
        "matches": matches,
        "markers": sorted({m.marker for m in matches}),
        "thumb": copy_thumbnail(run_dir, c.image, out_dir),
    }


def browser_sections(
    run_dir: Path,
    out_dir: Path,
    lexicon: Lexicon,
    aha_step: int | None,
    samples_per_step: int = 4,
    steps: Sequence[int] | None = None,
) -> list[dict[str, Any]]:
    """[{"step", "why", "items": [completion_view...], "n", "n_reflective"}] for the chosen steps."""
    files = dict(trajectory_files(run_dir))
    if steps:
        wanted = [(s, "requested") for s in sorted(set(steps)) if s in files]
    else:
        wanted = select_steps(sorted(files), aha_step)
    sections = []
    for step, why in wanted:
        completions = read_step(files[step], step)
        reflective = [bool(find_markers(c.completion, lexicon)) for c in completions]
        picked = pick_samples(completions, reflective, samples_per_step)
        sections.append({
            "step": step,
            "why": why,
            "n": len(completions),
            "n_reflective": sum(reflective),
            "items": [completion_view(completions[i], lexicon, run_dir, out_dir) for i in picked],
        })
    return sections
