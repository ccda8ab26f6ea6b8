"""Benchmark the micro R1-Zero demo: `visualthinker demo` over several seeds, each in a fresh process with an
empty model cache (so pretraining is included in the wall time), then a table of the measured numbers.

    python bench/bench_demo.py [--seeds 0 1 2] [--out runs/bench-demo] [--jobs 2]

--jobs N runs N seeds at once (each demo uses one torch thread, so 2 jobs fill a 2-core machine).

Nothing is hard-coded: every number comes from the runs' summary.json and a wall clock around the process.
The load average is printed too, because other processes on a small machine change the timings.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

TARGET_SECONDS = 15 * 60


def run_seed(seed: int, out: Path, extra: list[str]) -> dict:
    run_dir = out / f"seed{seed}"
    env = dict(os.environ, VISUALTHINKER_CACHE=str(out / f"cache-seed{seed}"))  # empty: pretraining included
    load_before = os.getloadavg()[0]
    t0 = time.perf_counter()
    with open(out / f"seed{seed}.log", "w") as log:
        proc = subprocess.run([sys.executable, "-m", "visualthinker", "demo", "--seed", str(seed), "--out",
                               str(run_dir), *extra], stdout=log, stderr=subprocess.STDOUT, env=env)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"seed {seed} failed (exit {proc.returncode}); see {out / f'seed{seed}.log'}")
    summary = json.loads((run_dir / "summary.json").read_text())
    summary["process_wall_seconds"] = wall
    summary["load_average"] = [load_before, os.getloadavg()[0]]
    return summary


def table(rows: list[dict]) -> str:
    lines = ["| seed | base acc | final acc | gain | chance | base format | final format | base option rate (T=1) "
             "| steps | pretrain s | total wall s | load avg (start/end) | targets |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        ok = (r["final_format_rate"] >= 0.9 and r["final_accuracy"] >= r["base_accuracy"] + 0.2
              and r["process_wall_seconds"] <= TARGET_SECONDS)
        lines.append(
            f"| {r['seed']} | {r['base_accuracy']:.3f} | {r['final_accuracy']:.3f} | "
            f"{r['final_accuracy'] - r['base_accuracy']:+.3f} | {r['chance_accuracy']:.3f} | "
            f"{r['base_format_rate']:.3f} | {r['final_format_rate']:.3f} | {r.get('base_option_rate', float('nan')):.2f} | "
            f"{r['steps']} | "
            f"{r['pretrain_seconds']:.0f} | {r['process_wall_seconds']:.0f} | "
            f"{r['load_average'][0]:.1f}/{r['load_average'][1]:.1f} | {'met' if ok else 'MISSED'} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--out", default="runs/bench-demo")
    parser.add_argument("--jobs", type=int, default=1, help="seeds run at the same time (one core each)")
    parser.add_argument("extra", nargs="*", help="extra arguments for `visualthinker demo` (after --)")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    print(f"seeds {args.seeds}, {args.jobs} at a time ...", flush=True)
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = [pool.submit(run_seed, seed, out, args.extra) for seed in args.seeds]
        rows = []
        for future in futures:
            rows.append(future.result())
            print(table(rows[-1:]).splitlines()[-1], flush=True)
    text = table(rows)
    print()
    print(text)
    for r in rows:
        print(f"seed {r['seed']}: response length (10 bins) {r['response_length_curve']}")
        print(f"         per-task final accuracy {r['final_per_task_accuracy']}")
    (out / "results.md").write_text(text + "\n")
    (out / "results.json").write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
