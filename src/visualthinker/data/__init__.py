"""Dataset records, loaders for SAT / CV-Bench / BLINK / VSR, and the offline synthetic spatial set."""

from visualthinker.data.record import Record

__all__ = ["Record"]
