"""Side-by-side GRPO step time: visualthinker's plain path, its shared-prefix path and TRL's GRPOTrainer, on the
same model, data, seeds and settings, with every completion forced to the same length.

Used by `python bench/bench_train.py --compare [--preset NAME|all] [--steps N]`. Each side runs in its own
process (so that peak RSS is its own) and prints one JSON line; the parent prints the table and the ratios.
Completion lengths are forced equal by making the stop tokens unreachable (visualthinker: the stop id becomes a
never-sampled vision token; TRL: `min_new_tokens` = `max_completion_length`); the measured lengths are printed.
"""

from __future__ import annotations

import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
REAL_QWEN2_VL_2B = REPO.parent / "shared" / "models" / "qwen2-vl-2b"
SIDES = ("plain", "shared", "trl")
RESULT_TAG = "BENCH_RESULT "


@dataclass(frozen=True)
class Preset:
    name: str
    image_side: int  # square synthetic images of this side; min_pixels = max_pixels = side^2
    new_tokens: int
    real_tokenizer: bool = False  # the real Qwen2-VL tokenizer (151 936 tokens) instead of a 1 024-token one
    prompts: int = 2
    group: int = 8


PRESETS = {
    "small": Preset("small", 224, 64),
    "image-heavy": Preset("image-heavy", 448, 64),
    "paper-shaped": Preset("paper-shaped", 448, 128, real_tokenizer=True),
}


def build_model(preset: Preset, root: Path) -> Path:
    """The preset's random-weight model, built once under `root` (same seed for every side)."""
    from visualthinker.models.tiny import build_reduced_real_model, build_tiny_model

    kind = "real-vocab" if preset.real_tokenizer else "tiny-vocab"
    out = root / kind
    if (out / "config.json").exists():
        return out
    if preset.real_tokenizer:
        if not REAL_QWEN2_VL_2B.exists():
            raise SystemExit(f"preset {preset.name} needs the Qwen2-VL-2B tokenizer files at {REAL_QWEN2_VL_2B}")
        return build_reduced_real_model(REAL_QWEN2_VL_2B, out, hidden=256, layers=2, vision_depth=2,
                                        max_pixels=448 * 448, seed=0)
    return build_tiny_model(out, vocab_size=1024, hidden=384, layers=6, heads=6, kv_heads=2, vision_depth=4,
                            vision_dim=128, min_pixels=56 * 56, max_pixels=448 * 448, seed=0)


def bench_reward(completions: list, **_) -> list[float]:
    """A cheap reward with variance inside every group (the random models earn no real reward)."""
    return [float(len(str(c)) % 7) / 7 for c in completions]


def records(preset: Preset, n: int):
    from visualthinker.data import load_records

    return load_records("synthetic", split="train", seed=0, n=n, image_size=preset.image_side)


# -- one side, in its own process --------------------------------------------------------------------------------
def run_side(side: str, preset: Preset, model_dir: Path, steps: int) -> dict:
    import torch

    torch.manual_seed(0)
    t0 = time.perf_counter()
    step_seconds, cpu_seconds, lengths = (_run_trl if side == "trl" else _run_visualthinker)(
        side, preset, model_dir, steps)
    return {
        "side": side, "preset": preset.name, "steps": len(step_seconds), "step_seconds": step_seconds,
        "median_step_seconds": statistics.median(step_seconds[1:] or step_seconds),
        "cpu_step_seconds": cpu_seconds, "median_cpu_step_seconds": statistics.median(cpu_seconds[1:] or cpu_seconds),
        "completion_tokens_per_step": preset.prompts * preset.group * preset.new_tokens,
        "mean_completion_length": lengths, "wall_seconds": time.perf_counter() - t0,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _run_visualthinker(side: str, preset: Preset, model_dir: Path, steps: int) -> tuple[list[float], float]:
    import visualthinker.models.adapter as adapter_module
    from visualthinker.config import load_config
    from visualthinker.trainer.loop import GRPOTrainer

    # Force full-length completions: the only stop token is one that is never sampled.
    adapter_module.STOP_TOKENS = ("<|video_pad|>",)
    pixels = preset.image_side ** 2
    with tempfile.TemporaryDirectory() as tmp:
        config = load_config(None, [
            f"model_path={model_dir}", f"output_dir={tmp}/run", f"max_steps={steps}", f"save_every={steps}",
            "eval_every=0", "report_to=[]", "progress_bar=false", "trajectories_every=1000000", "dtype=float32",
            f"per_device_prompts={preset.prompts}", f"num_generations={preset.group}", "gradient_accumulation_steps=1",
            f"max_completion_length={preset.new_tokens}", "temperature=1.0", "top_k=0", "top_p=1.0",
            "repetition_penalty=1.0", "beta=0.04", "loss_aggregation=grpo", "num_iterations=1", "learning_rate=1e-6",
            f"min_pixels={pixels}", f"max_pixels={pixels}", "rewards=[compare:bench_reward]", "seed=0",
            f"shared_prefix={'true' if side == 'shared' else 'false'}",
        ])
        trainer = GRPOTrainer(config, records(preset, 8 * steps * preset.prompts))
        assert trainer.shared.policy == (side == "shared")
        cpu: list[float] = []
        step = trainer._train_step

        def timed_step(*a, **k):
            c0 = time.process_time()
            out = step(*a, **k)
            cpu.append(time.process_time() - c0)
            return out

        trainer._train_step = timed_step
        trainer.train()
        rows = [json.loads(line) for line in (Path(tmp) / "run" / "metrics.jsonl").read_text().splitlines()]
    return [r["step_seconds"] for r in rows], cpu, statistics.fmean(r["completion_length/mean"] for r in rows)


def _run_trl(side: str, preset: Preset, model_dir: Path, steps: int) -> tuple[list[float], float]:
    import torch
    from datasets import Dataset
    from transformers import TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    from visualthinker.models.adapter import get_adapter
    from visualthinker.prompts import PromptSpec

    adapter = get_adapter(str(model_dir))
    pixels = preset.image_side ** 2
    processor = adapter.load_processor(str(model_dir), pixels, pixels)
    # The base template, as visualthinker renders it: vision placeholder then the question, no roles.
    processor.chat_template = (
        "{% for message in messages %}{% for part in message['content'] %}{% if part['type'] == 'image' %}"
        "<|vision_start|><|image_pad|><|vision_end|>{% else %}{{ part['text'] }}{% endif %}{% endfor %}{% endfor %}"
    )
    spec = PromptSpec()
    rows = [{"prompt": [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": spec.text(r.prompt)}]}],
             "image": r.load_images(pixels, pixels)[0]} for r in records(preset, 8 * steps * preset.prompts)]
    model = adapter.load_model(str(model_dir), dtype="float32")
    times: list[float] = []
    cpu: list[float] = []
    lengths: list[float] = []

    class StepTimer(TrainerCallback):
        def on_step_begin(self, args, state, control, **kwargs):
            self.t, self.c = time.perf_counter(), time.process_time()

        def on_step_end(self, args, state, control, **kwargs):
            times.append(time.perf_counter() - self.t)
            cpu.append(time.process_time() - self.c)

        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs and "completions/mean_length" in logs:
                lengths.append(float(logs["completions/mean_length"]))

    with tempfile.TemporaryDirectory() as tmp:
        args = GRPOConfig(
            output_dir=tmp, max_steps=steps, per_device_train_batch_size=preset.prompts * preset.group,
            num_generations=preset.group, gradient_accumulation_steps=1, steps_per_generation=1, num_iterations=1,
            max_completion_length=preset.new_tokens, temperature=1.0, top_k=0, top_p=1.0, repetition_penalty=1.0,
            generation_kwargs={"min_new_tokens": preset.new_tokens}, beta=0.04, loss_type="grpo",
            use_bias_correction_kl=False, scale_rewards="group", epsilon=0.2, learning_rate=1e-6,
            bf16=False, fp16=False, use_cpu=True, logging_steps=1, report_to="none", save_strategy="no", seed=0,
            dataloader_num_workers=0, remove_unused_columns=False, shuffle_dataset=False,
        )
        trainer = GRPOTrainer(model=model, reward_funcs=[bench_reward], args=args,
                              train_dataset=Dataset.from_list(rows), processing_class=processor,
                              callbacks=[StepTimer()])
        torch.manual_seed(0)
        trainer.train()
    return times, cpu, statistics.fmean(lengths) if lengths else float("nan")


# -- the parent: every side of every preset, then the table --------------------------------------------------------
def compare(preset_names: list[str], steps: int, cache: Path) -> int:
    import torch
    import transformers

    try:
        import trl

        trl_version = trl.__version__
    except ImportError:
        trl_version = None
    print(f"machine      {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, torch threads {torch.get_num_threads()}")
    print(f"versions     python {platform.python_version()}, torch {torch.__version__}, "
          f"transformers {transformers.__version__}, trl {trl_version or 'not installed (pip install -e .[bench])'}")
    print(f"settings     fp32, loss grpo, beta 0.04, no KL bias correction, temperature 1, top-k off, top-p 1, "
          f"lr 1e-6, 1 process; median step after the first of {steps}")
    failed = False
    for name in preset_names:
        preset = PRESETS[name]
        model_dir = build_model(preset, cache / "bench-models" / ("real" if preset.real_tokenizer else "tiny"))
        print(f"\n== {name}: {preset.prompts} prompts x G {preset.group}, {preset.image_side}x{preset.image_side} "
              f"images, {preset.new_tokens} new tokens, model {model_dir} ({_params(model_dir)})")
        results = {}
        for side in SIDES:
            if side == "trl" and trl_version is None:
                print("  trl      skipped: trl is not installed (pip install -e .[bench])")
                continue
            result = _child(side, name, model_dir, steps)
            if result is None:
                failed = True
                continue
            results[side] = result
            print(f"  {side:<7} {result['median_step_seconds']:8.2f} s/step (cpu {result['median_cpu_step_seconds']:7.2f} s)  "
                  f"{result['completion_tokens_per_step'] / result['median_step_seconds']:8.1f} tokens/s  "
                  f"peak RSS {result['peak_rss_mib']:7.0f} MiB  mean completion length "
                  f"{result['mean_completion_length']:.1f}  steps {', '.join(f'{s:.2f}' for s in result['step_seconds'])}")
        _ratios(results)
    return 1 if failed else 0


def _params(model_dir: Path) -> str:
    from safetensors import safe_open

    total = 0
    for f in model_dir.glob("*.safetensors"):
        with safe_open(str(f), "pt") as handle:
            total += sum(math.prod(handle.get_slice(key).get_shape()) for key in handle.keys())  # noqa: SIM118
    return f"{total / 1e6:.1f} M params"


def _child(side: str, preset: str, model_dir: Path, steps: int) -> dict | None:
    cmd = [sys.executable, str(Path(__file__).resolve()), side, preset, str(model_dir), str(steps)]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO / "src"), str(REPO / "bench"),
                                                       os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    for line in proc.stdout.splitlines():
        if line.startswith(RESULT_TAG):
            return json.loads(line[len(RESULT_TAG):])
    print(f"  {side:<7} FAILED (exit {proc.returncode}):\n" + "\n".join(proc.stderr.splitlines()[-15:]))
    return None


def _ratios(results: dict) -> None:
    def ratio(a: str, b: str, key: str) -> str:
        if a in results and b in results:
            return f"{results[a][key] / results[b][key]:.2f}"
        return "n/a"

    for label, key in (("step time (wall)", "median_step_seconds"), ("step time (cpu)", "median_cpu_step_seconds"),
                       ("peak RSS", "peak_rss_mib")):
        print(f"  ratio    {label:<17} shared/plain {ratio('shared', 'plain', key)}  shared/trl "
              f"{ratio('shared', 'trl', key)}  plain/trl {ratio('plain', 'trl', key)}")


if __name__ == "__main__":  # one side: compare.py SIDE PRESET MODEL_DIR STEPS
    side_name, preset_name, directory, n_steps = sys.argv[1:5]
    out = run_side(side_name, PRESETS[preset_name], Path(directory), int(n_steps))
    print(RESULT_TAG + json.dumps(out))
