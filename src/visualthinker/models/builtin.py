"""Built-in model names usable wherever a model path is expected, so that the CPU configs need no download:
`builtin:tiny-qwen2-vl` and `builtin:tiny-qwen2.5-vl` are random-weight tiny models built on first use;
`builtin:reduced-qwen2-vl-2b` is a random-weight model built from the real Qwen2-VL-2B files (config with the
sizes shrunk, generation_config.json, tokenizer, processor settings; no weights) found in
$VISUALTHINKER_REAL_QWEN2_VL_2B or ../shared/models/qwen2-vl-2b beside the checkout."""

from __future__ import annotations

import os
from pathlib import Path

from visualthinker.errors import ModelError

PREFIX = "builtin:"
BUILDERS = {
    "tiny-qwen2-vl": "qwen2_vl",
    "tiny-qwen2.5-vl": "qwen2_5_vl",
    "reduced-qwen2-vl-2b": "reduced-real",
}
REAL_QWEN2_VL_2B_ENV = "VISUALTHINKER_REAL_QWEN2_VL_2B"


def real_qwen2_vl_2b_dir() -> Path:
    """The directory with the real Qwen2-VL-2B files (config, tokenizer, processor; weights not needed)."""
    env = os.environ.get(REAL_QWEN2_VL_2B_ENV)
    path = Path(env) if env else Path(__file__).resolve().parents[3].parent / "shared" / "models" / "qwen2-vl-2b"
    if not (path / "config.json").exists() or not (path / "generation_config.json").exists():
        raise ModelError(f"builtin:reduced-qwen2-vl-2b needs the real Qwen2-VL-2B files (config.json, "
                         f"generation_config.json, tokenizer, preprocessor_config.json) in {path}; set "
                         f"{REAL_QWEN2_VL_2B_ENV} to a directory holding them (e.g. a download without the weights)")
    return path


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
        from visualthinker.models.tiny import build_reduced_real_model, build_tiny_model

        tmp = target.with_name(target.name + f".tmp-{os.getpid()}")
        if BUILDERS[name] == "reduced-real":
            build_reduced_real_model(real_qwen2_vl_2b_dir(), tmp)
        else:
            build_tiny_model(tmp, family=BUILDERS[name])
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            tmp.rename(target)
        except OSError:  # another process built it first
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)
    return str(target)
