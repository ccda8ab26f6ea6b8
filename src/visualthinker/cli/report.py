"""`visualthinker report`: the HTML run report for one run dir, or an overlay of several with --compare."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from visualthinker.cli.argtypes import positive_int
from visualthinker.errors import ConfigError

DEFAULT_COMPARE_OUT = "report-compare"


def _int_list(text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected comma-separated step numbers, got {text!r}") from exc


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "report",
        help="write an HTML report (plots, aha step, trajectory browser) for a training run",
        description="Analyze a run directory (metrics.jsonl, trajectories/) and write index.html, report.json "
        "and PNG plots. With --compare, overlay the curves of several runs.",
    )
    parser.add_argument("run_dir", nargs="?", type=Path, help="training run directory")
    parser.add_argument("--compare", nargs="+", type=Path, metavar="RUN_DIR",
                        help="two or more run directories to overlay instead of a single-run report")
    parser.add_argument("--out", type=Path, metavar="DIR", help=f"output directory (default RUN_DIR/report, or ./{DEFAULT_COMPARE_OUT} with --compare)")
    parser.add_argument("--labels", metavar="A,B,...", help="comma-separated legend labels for --compare, one per run")
    parser.add_argument("--lexicon", type=Path, metavar="FILE", help="reflection markers file, one per line ('#' comments); replaces the default list")
    parser.add_argument("--baseline-steps", type=positive_int, default=10, metavar="K", help="logged steps averaged for the early baseline (default 10)")
    parser.add_argument("--multiple", type=float, default=2.0, metavar="M", help="threshold = max(M x baseline, F) (default 2.0)")
    parser.add_argument("--floor", type=float, default=0.05, metavar="F", help="absolute threshold floor, so a zero baseline works (default 0.05)")
    parser.add_argument("--window", type=positive_int, default=10, metavar="W", help="logged steps the rate must stay above the threshold (default 10)")
    parser.add_argument("--smooth", type=positive_int, default=1, metavar="N", help="trailing mean over this many logged steps before detection (default 1: none)")
    parser.add_argument("--samples-per-step", type=positive_int, default=4, metavar="N", help="completions shown per browsed step (default 4)")
    parser.add_argument("--browse-steps", type=_int_list, metavar="S1,S2,...", help="comma-separated steps for the trajectory browser (default: first, middle, last, around the aha step)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    # imported here so `visualthinker --help` does not pay for matplotlib and pandas
    from visualthinker.analysis import AhaConfig, Lexicon, load_lexicon, write_comparison, write_report

    if args.compare and args.run_dir is not None:
        raise ConfigError("give either RUN_DIR or --compare RUN_A RUN_B ..., not both")
    if not args.compare and args.run_dir is None:
        raise ConfigError("give a run directory: visualthinker report RUN_DIR (or --compare RUN_A RUN_B ...)")
    if args.samples_per_step < 1:
        raise ConfigError(f"--samples-per-step must be >= 1, got {args.samples_per_step}")
    aha = AhaConfig(baseline_steps=args.baseline_steps, multiple=args.multiple, floor=args.floor,
                    window=args.window, smooth=args.smooth)
    lexicon = load_lexicon(args.lexicon) if args.lexicon else Lexicon()
    if args.compare:
        labels = [s.strip() for s in args.labels.split(",")] if args.labels else None
        index = write_comparison(args.compare, args.out or Path(DEFAULT_COMPARE_OUT), labels=labels,
                                 lexicon=lexicon, aha=aha)
    else:
        if args.labels:
            raise ConfigError("--labels only applies to --compare")
        index = write_report(args.run_dir, args.out, lexicon=lexicon, aha=aha,
                             samples_per_step=args.samples_per_step, browse_steps=args.browse_steps)
    print(f"wrote {index}")
    return 0
