"""Every shipped launch path, run for real with two CPU processes (gloo): DDP (cpu-2proc.yaml), DeepSpeed ZeRO-2
and ZeRO-3 (zero2.yaml, zero3.yaml) and FSDP2 (fsdp2.yaml), each through `accelerate launch --config_file`.

Each run trains 2 steps with a reward that varies inside every group (so the weights move), checkpoints after
every step, and must end with a `final/` model equal to the DDP run's within 1e-6. Then the step-2 checkpoint
and `final/` are deleted and the run is resumed from step 1 (`resume=true`): the resumed run must end with the
same weights again.

Every run takes the shared-prefix path (the default; its metrics say so) for generation and for the log-prob
passes, which run as the forward of the engine's wrapper. That the shared path gives the plain path's result
under a launch is checked on gradients (the two paths sample with different random streams, so whole runs would
draw different completions): one more DDP launch computes the all-reduced gradients of the same micro-batches
both ways (shared_vs_plain.py). The output head runs 4 tokens at a time in every run (small_chunks.py, the
runs' reward plug-in), so its chunks are recomputed in the backward pass under every engine.
"""

import json
import os
import shutil
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from tests.torchrun import run_accelerate
from tests.trainer.conftest import REAL_QWEN2_VL_2B
from visualthinker.models.adapter import get_adapter

REPO = Path(__file__).resolve().parents[2]
LAUNCH = REPO / "configs" / "accelerate"
TOLERANCE = 1e-6
TIMINGS: dict[str, float] = {}


def _env(cache: Path) -> dict[str, str]:
    env = {**os.environ, "VISUALTHINKER_CACHE": str(cache), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO)])}
    # DeepSpeed compiles a small CPU extension on first use (about 50 s); keep it between runs and sessions.
    env.setdefault("TORCH_EXTENSIONS_DIR", str(Path.home() / ".cache" / "torch_extensions"))
    return env


def _train(config_file: str, out: Path, cache: Path, *extra: str) -> dict:
    args = ["visualthinker", "train", str(REPO / "configs" / "tiny.yaml"), f"output_dir={out}", "max_steps=2",
            # periodic greedy evaluation at steps 0 and 2 on 3 items: ranks get 2 and 1 (+1 filler) items
            "eval_every=2", "eval_limit=3", "eval_max_new_tokens=4", "eval_batch_size=2", "save_every=1", "max_completion_length=8", "per_device_prompts=1", "report_to=[]",
            "progress_bar=false", "rewards=[tests.distributed.small_chunks:index_reward]", *extra]
    t0 = time.perf_counter()
    run_accelerate(LAUNCH / config_file, args, _env(cache), out.parent, timeout=300)
    TIMINGS[f"{config_file}{' ' + ' '.join(extra) if extra else ''}"] = time.perf_counter() - t0
    return json.loads((out / "train_summary.json").read_text())


def _metrics(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


def assert_path(rows: list[dict], shared: bool) -> None:
    """Every training step ran the shared-prefix path (or the plain one), as the trainer recorded it."""
    steps = [r for r in rows if "loss" in r]
    assert steps and all(r["shared_prefix/generation"] == r["shared_prefix/policy"] == float(shared)
                         for r in steps), steps


def _weights(directory: Path) -> dict[str, torch.Tensor]:
    return {k: v.float() for k, v in load_file(directory / "model.safetensors").items()}


def max_difference(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    assert set(a) == set(b), sorted(set(a) ^ set(b))[:5]
    return max((a[k] - b[k]).abs().max().item() for k in a)


def train_and_resume(config_file: str, root: Path) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """Returns the final weights of the uninterrupted run and of the run resumed from its step-1 checkpoint."""
    out, cache = root / config_file.removesuffix(".yaml"), root / "cache"
    summary = _train(config_file, out, cache)
    assert summary["num_processes"] == 2 and summary["resumed_from"] == 0
    assert summary["ranks_in_sync"], summary["parameter_checksums"]
    rows = _metrics(out)
    assert [r["step"] for r in rows] == [0, 1, 2]
    assert rows[0]["eval/synthetic/n"] == rows[2]["eval/synthetic/n"] == 3
    assert_path(rows, shared=True)
    rows = rows[1:]
    assert all(0 < r["grad_norm"] < float("inf") for r in rows), [r["grad_norm"] for r in rows]
    uninterrupted = _weights(out / "final")
    # a plain Hugging Face model directory: from_pretrained finds every weight
    _, info = get_adapter(str(out / "final")).model_class.from_pretrained(out / "final", output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"], info
    # the weights really moved (and moved again in step 2), so agreement within TOLERANCE is not agreement of
    # untouched copies
    initial = _weights(cache / "models" / "tiny-qwen2-vl")  # built into the run's cache on first use
    assert max_difference(uninterrupted, initial) > 100 * TOLERANCE
    assert max_difference(uninterrupted, _weights(out / "checkpoints" / "step-1")) > 10 * TOLERANCE

    shutil.rmtree(out / "checkpoints" / "step-2")
    shutil.rmtree(out / "final")
    resumed = _train(config_file, out, cache, "resume=true")
    assert resumed["resumed_from"] == 1 and resumed["ranks_in_sync"]
    rows = _metrics(out)
    assert [r["step"] for r in rows] == [0, 1, 2]
    assert_path(rows, shared=True)
    return uninterrupted, _weights(out / "final")


@pytest.fixture(scope="module")
def ddp_weights(tmp_path_factory) -> dict[str, torch.Tensor]:
    root = tmp_path_factory.mktemp("ddp")
    uninterrupted, resumed = train_and_resume("cpu-2proc.yaml", root)
    assert max_difference(uninterrupted, resumed) <= TOLERANCE
    return uninterrupted


@pytest.mark.slow
def test_ddp_resumes_to_the_same_weights(ddp_weights):
    assert ddp_weights  # the fixture trained, resumed and compared


@pytest.mark.slow
@pytest.mark.parametrize("overrides", [[], ["lora_rank=4", "gradient_checkpointing=true"]], ids=["full", "lora-ckpt"])
def test_ddp_shared_prefix_gradients_equal_the_plain_path(overrides, tmp_path):
    """Under the DDP launch, the same micro-batches: the shared path's all-reduced gradients equal the plain
    path's (tests/distributed/shared_vs_plain.py), for full fine-tuning and for LoRA with gradient
    checkpointing (the reference: the base weights with the adapter off)."""
    t0 = time.perf_counter()
    run_accelerate(LAUNCH / "cpu-2proc.yaml", ["tests.distributed.shared_vs_plain", str(tmp_path), *overrides],
                   _env(tmp_path / "cache"), tmp_path, timeout=300)
    TIMINGS[f"cpu-2proc.yaml shared vs plain gradients {' '.join(overrides)}"] = time.perf_counter() - t0
    result = json.loads((tmp_path / "shared_vs_plain.json").read_text())
    print(f"DDP shared vs plain gradients {overrides}: {result}; seconds {TIMINGS}")
    # every trainable weight got a gradient from the loss, and a sizeable one somewhere
    assert result["parameters"] == result["trainable"] > 0 and result["max_gradient"] > 1e-4
    assert result["max_relative_difference"] <= 1e-5


@pytest.mark.slow
@pytest.mark.parametrize("config_file", ["zero2.yaml", "zero3.yaml", "fsdp2.yaml"])
def test_sharded_launch_matches_ddp_and_resumes(config_file, ddp_weights, tmp_path):
    uninterrupted, resumed = train_and_resume(config_file, tmp_path)
    diff, diff_resumed = max_difference(uninterrupted, ddp_weights), max_difference(resumed, ddp_weights)
    print(f"{config_file}: max |w - w_ddp| = {diff:.2e}, resumed {diff_resumed:.2e}; seconds {TIMINGS}")
    assert diff <= TOLERANCE
    assert diff_resumed <= TOLERANCE


# Only shrinking overrides of the paper's run (plus what a CPU without the SAT files needs: sdpa attention instead
# of flash-attention 2, the offline synthetic set instead of SAT); the model is the reduced real Qwen2-VL-2B (the
# real config with sizes shrunk, real tokenizer and processor, random weights); its precision (fp32 masters, bf16
# compute), gradient checkpointing, linear schedule and the paper's launch (zero2.yaml) are kept.
PAPER_SHRUNK = ["model_path=builtin:reduced-qwen2-vl-2b", "attn_implementation=sdpa", "train_data=synthetic",
                "train_split=train", "data_options={n: 32}", "eval_every=0", "max_steps=1", "save_every=1",
                "num_generations=2", "gradient_accumulation_steps=1", "max_completion_length=8",
                "max_pixels=12544", "report_to=[]", "progress_bar=false"]  # bf16 on a CPU is slow: 1 step, G 2


@pytest.mark.slow
@pytest.mark.skipif(not (REAL_QWEN2_VL_2B / "generation_config.json").exists(),
                    reason="../shared/models/qwen2-vl-2b is not beside the checkout")
def test_paper_config_shrunk_runs_under_its_zero2_launch(tmp_path):
    out = tmp_path / "paper"
    args = ["visualthinker", "train", str(REPO / "configs" / "paper" / "grpo-qwen2vl-2b-base-sat.yaml"),
            f"output_dir={out}", *PAPER_SHRUNK]
    env = {**_env(tmp_path / "cache"), "VISUALTHINKER_REAL_QWEN2_VL_2B": str(REAL_QWEN2_VL_2B)}
    t0 = time.perf_counter()
    run_accelerate(LAUNCH / "zero2.yaml", args, env, tmp_path, timeout=300)
    TIMINGS["paper zero2"] = time.perf_counter() - t0
    summary = json.loads((out / "train_summary.json").read_text())
    assert summary["num_processes"] == 2 and summary["ranks_in_sync"], summary
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1]
    assert_path(rows, shared=True)  # with gradient checkpointing and bf16 compute
    assert rows[0]["num_completions"] == 2 * 1 * 2  # ranks x accumulation x G
    assert all(r["grad_norm"] == r["grad_norm"] for r in rows)  # a number under DeepSpeed, not NaN
    _, info = get_adapter(str(out / "final")).model_class.from_pretrained(out / "final", output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"], info
    print(f"paper zero2: seconds {TIMINGS}")
