"""`visualthinker sft CONFIG [key=value ...]`."""

from __future__ import annotations

import argparse
import json
import os


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("sft", help="supervised fine-tuning (the paper's SFT baseline, cold starts)",
                              description="Supervised fine-tuning of a VLM on records. Any config key can be "
                                          "overridden as key=value, e.g. `visualthinker sft "
                                          "configs/paper/sft-qwen2vl-2b-base-sat.yaml max_steps=10 resume=true`.")
    p.add_argument("config", help="YAML config file (see configs/paper/sft-*.yaml, src/visualthinker/sft/config.py)")
    p.add_argument("overrides", nargs="*", metavar="key=value")
    p.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from visualthinker.sft.config import load_sft_config
    from visualthinker.sft.loop import sft

    summary = sft(load_sft_config(args.config, args.overrides))
    if os.environ.get("RANK", "0") == "0":
        print(json.dumps({k: summary[k] for k in ("steps", "examples", "wall_seconds", "mean_step_seconds",
                                                  "ranks_in_sync")}))
    return 0
