"""`visualthinker train CONFIG [key=value ...]`."""

from __future__ import annotations

import argparse
import json
import os


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("train", help="GRPO training (R1-Zero recipe) from a YAML config",
                              description="Train with GRPO. Any config key can be overridden as key=value, e.g. "
                                          "`visualthinker train configs/tiny.yaml max_steps=10 resume=true`.")
    p.add_argument("config", help="YAML config file (see configs/)")
    p.add_argument("overrides", nargs="*", metavar="key=value")
    p.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from visualthinker.config import load_config

    config = load_config(args.config, args.overrides)  # refused in a second, before torch is even imported
    from visualthinker.trainer.run import train

    summary = train(config)
    if os.environ.get("RANK", "0") == "0":
        print(json.dumps({k: summary[k] for k in ("steps", "wall_seconds", "mean_step_seconds", "ranks_in_sync")}))
    return 0
