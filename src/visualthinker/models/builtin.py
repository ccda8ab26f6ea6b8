"""Built-in model names usable wherever a model path is expected, so that the CPU configs need no download:
`builtin:tiny-qwen2-vl` and `builtin:tiny-qwen2.5-vl` are random-weight tiny models built on first use."""

from __future__ import annotations

import os
from pathlib import Path

from visualthinker.errors import ModelError

PREFIX = "builtin:"
BUILDERS = {
    "tiny-qwen2-vl": "qwen2_vl",
    "tiny-qwen2.5-vl": "qwen2_5_vl",
}


def cache_root() -> Path:
    return Path(os.environ.get("VISUALTHINKER_CACHE", Path.home() / ".cache" / "visualthinker"))


def resolve_model_path(spec: str) -> str:
    """A real path or hub id is returned unchanged; a builtin name is built once into the cache."""
    if not spec.startswith(PREFIX):
        return spec
    name = spec[len(PREFIX):]
    if name not in BUILDERS:
        raise ModelError(f"unknown built-in model {spec!r}; choose one of {[PREFIX + n for n in BUILDERS]}")
    target = cache_root() / "models" / name
    if not (target / "config.json").exists():
        from visualthinker.models.tiny import build_tiny_model

        tmp = target.with_name(target.name + f".tmp-{os.getpid()}")
        build_tiny_model(tmp, family=BUILDERS[name])
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            tmp.rename(target)
        except OSError:  # another process built it first
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)
    return str(target)
