"""Ready for the first GPU: the paper's main config on the real-size Qwen2-VL-2B architecture, on one GPU.

    python bench/gpu_check.py                 # one CUDA GPU; designed for < 8 minutes on an H100-class GPU
    python bench/gpu_check.py --cpu-smoke     # the same script shrunk (reduced model, 8 tokens) on CPU

Builds the real architecture from ../shared/models/qwen2-vl-2b/config.json (or $VISUALTHINKER_REAL_QWEN2_VL_2B)
with random weights - no download - and the real generation_config.json, tokenizer and processor settings. Then
runs a few GRPO steps of configs/paper/grpo-qwen2vl-2b-base-sat.yaml as the config says (bf16 compute with fp32
master weights, G = 8, 700 new tokens, max_pixels 401 408, its decoding) on synthetic data, and one greedy
evaluation batch. Prints seconds per step, completion tokens/s, peak GPU memory, distinct completions per group
and evaluation items/s. Random weights never stop early, so every completion runs to 700 tokens: the
step time is an upper bound for a real checkpoint. No checkpoint is written.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
PAPER_CONFIG = REPO / "configs" / "paper" / "grpo-qwen2vl-2b-base-sat.yaml"


def overrides(args: argparse.Namespace, model_dir: Path, out: Path) -> list[str]:
    # 672 x 672 images are cut down to max_pixels: about 512 visual tokens per prompt, the paper's worst case
    size = 112 if args.cpu_smoke else 672
    common = [f"model_path={model_dir}", f"output_dir={out}", "train_data=synthetic", "train_split=train",
              f"data_options={{n: 64, image_size: {size}}}", f"eval_options={{image_size: {size}}}",
              "eval_data=synthetic", "eval_split=test", f"eval_limit={args.eval_items}",
              f"eval_batch_size={args.eval_items}", "report_to=[]", "progress_bar=false",
              "eval_every=1000"]  # loads the evaluation items; the steps here are taken by hand
    if args.cpu_smoke:  # shrink only: the reduced model, short completions, small images, fp32 compute on CPU
        return common + ["attn_implementation=sdpa", "max_completion_length=8", "eval_max_new_tokens=4",
                         "max_pixels=12544", "gradient_accumulation_steps=1", "mixed_precision='no'"]
    attn = "flash_attention_2" if _has_flash_attention() else "sdpa"
    return common + [f"attn_implementation={attn}"]


def _has_flash_attention() -> bool:
    try:
        import flash_attn  # noqa: F401
    except ImportError:
        return False
    return True


def build_model(args: argparse.Namespace, directory: Path) -> Path:
    from visualthinker.models.builtin import real_qwen2_vl_2b_dir
    from visualthinker.models.tiny import build_real_size_model, build_reduced_real_model

    if args.model_dir:
        return Path(args.model_dir)
    if args.cpu_smoke:
        return build_reduced_real_model(real_qwen2_vl_2b_dir(), directory)
    return build_real_size_model(real_qwen2_vl_2b_dir(), directory, device="cuda")


def run(args: argparse.Namespace) -> dict[str, float]:
    from visualthinker.config import load_config
    from visualthinker.trainer.loop import GRPOTrainer
    from visualthinker.trainer.run import load_eval_records, load_train_records

    if not args.cpu_smoke and not torch.cuda.is_available():
        raise SystemExit("bench/gpu_check.py needs a CUDA GPU; use --cpu-smoke to run it shrunk on CPU")
    t_start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = build_model(args, Path(tmp) / "model")
        build_seconds = time.perf_counter() - t_start
        config = load_config(PAPER_CONFIG, overrides(args, model_dir, Path(tmp) / "run"))
        # The trainer's own parts, stepped by hand: a full run would save 26 GB of optimizer state at its end.
        trainer = GRPOTrainer(config, load_train_records(config), load_eval_records(config))
        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()
        rows, distinct = [], []
        for step in range(args.steps):
            metrics, exps = trainer._train_step(step)
            rows.append(metrics)
            G = config.num_generations
            for exp in exps:
                texts = exp.completion_ids.tolist()
                distinct += [len({tuple(t) for t in texts[i:i + G]}) for i in range(0, len(texts), G)]
            print(f"step {step + 1}: {metrics['step_seconds']:.1f} s, reward {metrics['reward']:.3f}, "
                  f"mean completion {metrics['completion_length/mean']:.0f} tokens", flush=True)
        t0 = time.perf_counter()
        evaluation = trainer.evaluate(args.steps)
        eval_seconds = time.perf_counter() - t0
        peak = torch.cuda.max_memory_allocated() / 2**30 if torch.cuda.is_available() else float("nan")
    steady = rows[1:] or rows
    result = {
        "seconds_per_step": statistics.median(r["step_seconds"] for r in steady),
        "completion_tokens_per_second": statistics.median(r["tokens_per_second"] for r in steady),
        "generation_share": statistics.fmean(r["generation_seconds"] / r["step_seconds"] for r in steady),
        "peak_gpu_memory_gib": peak,
        "distinct_completions_per_group_min": min(distinct),
        "distinct_completions_per_group_mean": statistics.fmean(distinct),
        "group_size": config.num_generations,
        "eval_items_per_second": evaluation[next(k for k in evaluation if k.endswith("/n"))] / eval_seconds,
        "build_seconds": build_seconds,
        "total_seconds": time.perf_counter() - t_start,
    }
    print(f"model             {'reduced real (CPU smoke)' if args.cpu_smoke else 'Qwen2-VL-2B real size, random weights'}"
          f"; {torch.cuda.get_device_name() if torch.cuda.is_available() else 'CPU'}")
    print(f"config            {PAPER_CONFIG.name}: G {config.num_generations}, {config.max_completion_length} new "
          f"tokens, max_pixels {config.max_pixels}, mixed_precision {config.mixed_precision}, "
          f"{config.attn_implementation}")
    print(f"sec/step (median) {result['seconds_per_step']:.2f}  ({len(rows)} steps, "
          f"{rows[0]['num_completions']} completions each; generation {100 * result['generation_share']:.0f}%)")
    print(f"tokens/s          {result['completion_tokens_per_second']:.0f} completion tokens")
    print(f"peak GPU memory   {peak:.1f} GiB")
    print(f"distinct/group    min {result['distinct_completions_per_group_min']} of {config.num_generations}, "
          f"mean {result['distinct_completions_per_group_mean']:.2f}")
    print(f"eval items/s      {result['eval_items_per_second']:.2f} (greedy, {args.eval_items} items, "
          f"up to {config.eval_max_new_tokens} new tokens)")
    print(f"wall              {result['total_seconds']:.0f} s (model build {build_seconds:.0f} s; "
          f"the GPU check is meant to stay under 480 s)")
    return result


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpu-smoke", action="store_true", help="run shrunk on CPU (the CI check)")
    parser.add_argument("--steps", type=int, default=None, help="GRPO steps (default 3 on GPU, 2 on CPU)")
    parser.add_argument("--eval-items", type=int, default=None, help="one greedy batch (default 16 GPU, 2 CPU)")
    parser.add_argument("--model-dir", default=None, help="an already built model directory to use")
    args = parser.parse_args(argv)
    args.steps = args.steps or (2 if args.cpu_smoke else 3)
    args.eval_items = args.eval_items or (2 if args.cpu_smoke else 16)
    return args


def main(argv: list[str] | None = None) -> int:
    run(parse_args(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
