"""Dataset records, loaders for SAT / CV-Bench / BLINK / VSR, and the offline synthetic spatial set."""

from visualthinker.data.loader import load_records
from visualthinker.data.problems import RecordList
from visualthinker.data.record import Record
from visualthinker.data.store import read_records, write_records
from visualthinker.data.synthetic import generate_records
from visualthinker.data.validate import validate_records, validate_source

__all__ = [
    "Record",
    "RecordList",
    "generate_records",
    "load_records",
    "read_records",
    "validate_records",
    "validate_source",
    "write_records",
]
