"""`visualthinker` command line: thin parsers that call the library. Each sub-command lives in its own module
exposing `register(subparsers)`; the handler it sets returns an exit code."""

from __future__ import annotations

import argparse
import importlib
import sys

from visualthinker.errors import VisualThinkerError

# name of module in visualthinker.cli -> registers one or more sub-commands
COMMAND_MODULES = ("train", "sft", "data", "evaluate", "report", "demo")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="visualthinker",
        description="R1-Zero-style GRPO for vision-language models (VisualThinker-R1-Zero): train, evaluate, "
                    "and observe the aha moment. Start with `visualthinker demo`.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"visualthinker.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"visualthinker.cli.{name}":
                continue  # sub-command not built yet
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except VisualThinkerError as exc:
        for line in str(exc).splitlines() or [type(exc).__name__]:  # one line per problem
            print(f"error: {line}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
