"""Measure GRPO training speed and memory of a config on this machine (default: configs/tiny.yaml).

    python bench/bench_train.py [CONFIG] [--steps N] [key=value ...]
    python bench/bench_train.py --compare [--preset small|image-heavy|paper-shaped|all] [--steps N]

--compare runs the plain path, the shared-prefix path and TRL's GRPOTrainer side by side on the same model,
data, seeds and settings (bench/compare.py) and prints seconds per step, tokens/s, peak RSS and the ratios.

Prints the measured seconds per optimizer step (median over steps after the first), the share spent in
generation, completion tokens per second and the peak resident memory of the process. Nothing is hard-coded:
every number comes from the run's metrics.jsonl and the operating system.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", nargs="?", default=str(REPO / "configs" / "tiny.yaml"))
    parser.add_argument("--steps", type=int, default=None, help="optimizer steps (default 10; --compare: 3)")
    parser.add_argument("--compare", action="store_true", help="plain vs shared prefix vs TRL (bench/compare.py)")
    parser.add_argument("--preset", default="all", help="--compare preset: small, image-heavy, paper-shaped or all")
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_args()
    if args.compare:
        sys.path.insert(0, str(REPO / "bench"))
        from compare import PRESETS, compare

        from visualthinker.models.builtin import cache_root

        names = list(PRESETS) if args.preset == "all" else [args.preset]
        if any(n not in PRESETS for n in names):
            parser.error(f"--preset {args.preset!r}: choose one of {sorted(PRESETS)} or all")
        return compare(names, args.steps or 3, cache_root())
    args.steps = args.steps or 10

    from visualthinker.config import load_config
    from visualthinker.trainer.run import train

    with tempfile.TemporaryDirectory() as tmp:
        config = load_config(args.config, [f"output_dir={tmp}/run", f"max_steps={args.steps}", "eval_every=0",
                                           "progress_bar=false", "report_to=[]", f"save_every={args.steps}",
                                           *args.overrides])
        t0 = time.perf_counter()
        train(config)
        wall = time.perf_counter() - t0
        rows = [json.loads(line) for line in (Path(tmp) / "run" / "metrics.jsonl").read_text().splitlines()]
    steady = rows[1:] or rows
    step_s = [r["step_seconds"] for r in steady]
    gen_share = statistics.fmean(r["generation_seconds"] / r["step_seconds"] for r in steady)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    completions = rows[0]["num_completions"]
    print(f"config            {args.config}")
    print(f"machine           {platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads")
    print(f"steps             {len(rows)} ({completions} completions each, "
          f"max {config.max_completion_length} new tokens)")
    print(f"sec/step (median) {statistics.median(step_s):.3f}  (min {min(step_s):.3f}, max {max(step_s):.3f})")
    print(f"generation share  {100 * gen_share:.0f}%")
    print(f"tokens/s          {statistics.median(r['tokens_per_second'] for r in steady):.0f} completion tokens")
    print(f"wall (incl. load) {wall:.1f} s")
    print(f"peak RSS          {peak_mib:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
