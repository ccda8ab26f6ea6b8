"""Measure SFT step time on configs/tiny.yaml-sized data: the paper's SFT recipe (configs/paper/
sft-qwen2vl-2b-base-sat.yaml) with tiny.yaml's model, data, image size and batch shape (float32, no bf16).

    python bench/bench_sft.py [--steps N] [key=value ...]      e.g. group_by_length=false, loss_on=completion

Prints the median seconds per optimizer step (after the first), tokens per second, the padding share and the
peak resident memory. Nothing is hard-coded: every number comes from the run's metrics.jsonl and the OS.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import tempfile
import time
from pathlib import Path

import torch
import yaml

REPO = Path(__file__).resolve().parents[1]
SFT_CONFIG = REPO / "configs" / "paper" / "sft-qwen2vl-2b-base-sat.yaml"
TINY = REPO / "configs" / "tiny.yaml"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_args()

    from visualthinker.sft.config import load_sft_config
    from visualthinker.sft.loop import sft

    tiny = yaml.safe_load(TINY.read_text())
    sized = [f"model_path={tiny['model_path']}", f"train_data={tiny['train_data']}",
             f"data_options={json.dumps(tiny['data_options'])}", f"min_pixels={tiny['min_pixels']}",
             f"max_pixels={tiny['max_pixels']}", f"per_device_batch_size={tiny['per_device_prompts']}",
             f"gradient_accumulation_steps={tiny['gradient_accumulation_steps']}", "dtype=float32",
             "mixed_precision='no'", "attn_implementation=null"]
    with tempfile.TemporaryDirectory() as tmp:
        config = load_sft_config(SFT_CONFIG, [*sized, f"output_dir={tmp}/run", f"max_steps={args.steps}",
                                              "progress_bar=false", "report_to=[]", f"save_every={args.steps}",
                                              *args.overrides])
        t0 = time.perf_counter()
        summary = sft(config)
        wall = time.perf_counter() - t0
        rows = [json.loads(line) for line in (Path(tmp) / "run" / "metrics.jsonl").read_text().splitlines()]
    steady = rows[1:] or rows
    step_s = [r["step_seconds"] for r in steady]
    print(f"config            {SFT_CONFIG.name} sized as {TINY.name}; overrides {args.overrides or 'none'}")
    print(f"machine           {platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads")
    print(f"steps             {len(rows)} x {config.per_device_batch_size * config.gradient_accumulation_steps} "
          f"sequences ({summary['examples']} examples, loss_on={config.loss_on}, "
          f"gradient_checkpointing={config.gradient_checkpointing})")
    print(f"sec/step (median) {statistics.median(step_s):.3f}  (min {min(step_s):.3f}, max {max(step_s):.3f})")
    print(f"tokens/s          {statistics.median(r['tokens_per_second'] for r in steady):.0f} input tokens")
    print(f"padding           {100 * statistics.fmean(r['padding_fraction'] for r in rows):.1f}% of batch positions")
    print(f"wall (incl. load) {wall:.1f} s")
    print(f"peak RSS          {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
