"""Argument types shared by the sub-commands: numbers that must be in range are refused by the parser, with
the option named, before any work starts (a negative --limit once meant "0 records, ok")."""

from __future__ import annotations

import argparse


def _int_at_least(low: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be >= {low}, got {value}")
        return value

    parse.__name__ = f"integer >= {low}"
    return parse


positive_int = _int_at_least(1)
non_negative_int = _int_at_least(0)
