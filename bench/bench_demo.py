"""Benchmark the micro R1-Zero demo against issue #13's targets: `visualthinker demo` over several GRPO seeds
with the base (think) prompt and without a think part (`answer`, by default), on the shipped base model, each run in a fresh
process; optionally also on other base models (`--bases DIR ...`, e.g. made by `visualthinker pretrain --seed 1`),
with the first seed (or `--base-seeds`) and the prompts in `--base-templates`.

    python bench/bench_demo.py [--seeds 0 1 2] [--templates base answer direct] [--bases DIR ...]
                               [--base-templates base answer] [--base-seeds 0 1 2] [--jobs 2] [--out runs/bench-demo]
                               [-- extra demo arguments]

Thinking helps is judged per base model: the mean final accuracy of its base-prompt runs against that of its
runs without a think part.

--jobs N runs N demos at once (each uses one torch thread, so 2 jobs fill a 2-core machine). With `-- --pretrain`
each seed rebuilds its own base model (in an empty per-run cache, so pretraining is in the wall time).

Nothing is hard-coded: every number comes from the runs' summary.json and a wall clock around the process; the
load average is printed because other processes on a small machine change the timings.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from visualthinker.demo.outcomes import thinking_helps

TARGET_SECONDS = 15 * 60


@dataclass(frozen=True)
class Run:
    template: str
    seed: int
    base: str | None = None  # None: the shipped base model

    @property
    def name(self) -> str:
        return f"{self.template}-seed{self.seed}" + (f"-{Path(self.base).name}" if self.base else "")


def run_one(run: Run, out: Path, extra: list[str]) -> dict:
    run_dir = out / run.name
    env = dict(os.environ, VISUALTHINKER_CACHE=str(out / f"cache-{run.name}"))  # empty if --pretrain is passed
    load_before = os.getloadavg()[0]
    argv = [sys.executable, "-m", "visualthinker", "demo", "--seed", str(run.seed), "--template", run.template,
            "--out", str(run_dir), *(["--base", run.base] if run.base else []), *extra]
    t0 = time.perf_counter()
    with open(out / f"{run.name}.log", "w") as log:
        proc = subprocess.run(argv, stdout=log, stderr=subprocess.STDOUT, env=env)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{run.name} failed (exit {proc.returncode}); see {out / f'{run.name}.log'}")
    summary = json.loads((run_dir / "summary.json").read_text())
    summary.update(run=run.name, process_wall_seconds=wall, load_average=[load_before, os.getloadavg()[0]],
                   base=run.base)
    return summary


def _f(value: float | None, fmt: str = ".3f") -> str:
    return "-" if value is None else format(value, fmt)


def _yes(flag: bool | None) -> str:
    return "-" if flag is None else ("yes" if flag else "NO")


def table(rows: list[dict]) -> str:
    lines = ["| run | base sha256 | base acc | final acc | gain | chance | final format | final per task (chance) "
             "| length (first/last bin) | growth | longest third / rest acc | enumerating | reflection (last) "
             "| aha step | wall s | load | +30 | chance+20 | every task | length 1.5x | longer pays | <= 15 min |",
             "|" + "---|" * 22]
    for r in rows:
        t = r["targets"]
        pays, curve = r["length_pays"], r["response_length_curve"]
        per_task = ", ".join(f"{k} {v:.2f} ({r['per_task_chance'][k]:.2f})"
                             for k, v in r["final_per_task_accuracy"].items())
        refl = r.get("reflection") or {}
        lines.append(
            f"| {r['run']} | {r['base_weights_sha256'][:8]} | {r['base_accuracy']:.3f} | {r['final_accuracy']:.3f} "
            f"| {r['final_accuracy'] - r['base_accuracy']:+.3f} | {r['chance_accuracy']:.3f} "
            f"| {r['final_format_rate']:.2f} | {per_task} | {_f(curve[0] if curve else None, '.1f')}/"
            f"{_f(curve[-1] if curve else None, '.1f')} | {_f(r['length_growth']['ratio'], '.2f')} "
            f"| {_f(pays['longest_third_accuracy'], '.2f')} / {_f(pays['rest_accuracy'], '.2f')} "
            f"| {_f(pays['enumerating_share'], '.2f')} | {_f(refl.get('last_rate'), '.2f')} "
            f"| {refl.get('aha_step') if refl.get('aha_step') is not None else 'none'} "
            f"| {r['process_wall_seconds']:.0f} | {r['load_average'][0]:.1f}/{r['load_average'][1]:.1f} "
            f"| {_yes(t['gain_30'])} | {_yes(t['chance_plus_20'])} | {_yes(t['every_task_above_chance'])} "
            f"| {_yes(t['length_grows_1_5x'])} | {_yes(t['longer_is_more_accurate'])} "
            f"| {_yes(r['process_wall_seconds'] <= TARGET_SECONDS)} |")
    return "\n".join(lines)


def comparison(rows: list[dict]) -> str:
    """Thinking helps, per base model: the mean final accuracy of its base-prompt runs against each prompt
    without a think part (`answer`: the format is given; `direct`: the format is to be discovered)."""
    bases = list(dict.fromkeys(r["base"] for r in rows))
    lines = []
    for base in bases:
        same = [r for r in rows if r["base"] == base]
        label = "shipped base" if base is None else Path(base).name
        think = [r["final_accuracy"] for r in same if r["template"] == "base"]
        for control in ("answer", "direct"):
            other = [r["final_accuracy"] for r in same if r["template"] == control]
            if not other:
                continue
            result = thinking_helps(think, other)
            if result["met"] is None:
                lines.append(f"{label}: thinking helps vs {control}: needs base-prompt runs too")
                continue
            spread = (f"think {min(think):.3f}-{max(think):.3f}, {control} {min(other):.3f}-{max(other):.3f}; "
                      f"{len(think)} and {len(other)} runs")
            lines.append(f"{label}: thinking helps vs {control} (target +0.10): think {result['think']:.3f} vs "
                         f"{control} {result['direct']:.3f} = {result['difference']:+.3f} -> "
                         f"{'met' if result['met'] else 'MISSED'} ({spread})")
    return "\n".join(lines) or "thinking helps: needs a run without a think part (--templates answer)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--templates", nargs="*", choices=("base", "direct", "answer"), default=["base", "answer"],
                        help="prompts run on the shipped base (none: only the --bases runs); answer is the fair "
                             "no-thinking control, direct the paper's direct prompt")
    parser.add_argument("--bases", nargs="*", default=[], help="more base model dirs (run with the first seed)")
    parser.add_argument("--base-templates", nargs="+", choices=("base", "direct", "answer"), default=["base"],
                        help="prompts run on each of --bases")
    parser.add_argument("--base-seeds", type=int, nargs="+", default=None,
                        help="GRPO seeds run on each of --bases (default: the first of --seeds)")
    parser.add_argument("--out", default="runs/bench-demo")
    parser.add_argument("--jobs", type=int, default=1, help="demos run at the same time (one core each)")
    parser.add_argument("extra", nargs="*", help="extra arguments for `visualthinker demo` (after --)")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    runs = [Run(t, s) for t in args.templates for s in args.seeds]
    base_seeds = args.base_seeds or args.seeds[:1]
    runs += [Run(t, s, str(Path(b).resolve())) for b in args.bases for t in args.base_templates for s in base_seeds]
    print(f"{len(runs)} runs, {args.jobs} at a time: {', '.join(r.name for r in runs)}", flush=True)
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = [pool.submit(run_one, run, out, args.extra) for run in runs]
        rows = []
        for future in futures:
            rows.append(future.result())
            print(table(rows[-1:]).splitlines()[-1], flush=True)
    text = "\n".join([table(rows), "", comparison(rows)])
    think = [r for r in rows if r["template"] == "base"]
    if think:
        text += (f"\nbase prompt, {len(think)} runs: final accuracy mean "
                 f"{statistics.fmean(r['final_accuracy'] for r in think):.3f}, wall mean "
                 f"{statistics.fmean(r['process_wall_seconds'] for r in think):.0f} s")
    print()
    print(text)
    for r in rows:
        print(f"{r['run']}: response length (10 bins) {r['response_length_curve']}; "
              f"enumerating acc {_f(r['length_pays']['enumerating_accuracy'], '.2f')} vs "
              f"{_f(r['length_pays']['non_enumerating_accuracy'], '.2f')}")
    (out / "results.md").write_text(text + "\n")
    (out / "results.json").write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
