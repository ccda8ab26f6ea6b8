"""Reading the text files a user hands us (configs, jsonl data, predictions, run logs): a folder where a file is
due, an unreadable file or bytes that are not UTF-8 become one error naming the file, the line and the byte
offset, never a raw IsADirectoryError or UnicodeDecodeError."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from visualthinker.errors import DataError, VisualThinkerError

BOM = b"\xef\xbb\xbf"


def check_file(path: Path, error: type[VisualThinkerError] = DataError, label: str | None = None,
               what: str = "file") -> Path:
    """`path` must be an existing file (not a folder)."""
    name = label or str(path)
    if path.is_dir():
        raise error(f"{name} is a directory; give the path of a {what} inside it")
    if not path.exists():
        raise error(f"{name}: no such {what}")
    return path


def _not_utf8(name: str, data: bytes, exc: UnicodeDecodeError, line: int | None = None, offset: int = 0) -> str:
    line = line if line is not None else data.count(b"\n", 0, exc.start) + 1
    return (f"{name} line {line} (byte {offset + exc.start}): not UTF-8 text ({exc.reason}, byte "
            f"0x{data[exc.start]:02x}); re-save the file as UTF-8")


def _decode(data: bytes, name: str, error: type[VisualThinkerError], line: int, offset: int) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(_not_utf8(name, data, exc, line, offset)) from exc


def _read_bytes(path: Path, name: str, error: type[VisualThinkerError], what: str) -> bytes:
    check_file(path, error, name, what)
    try:
        return path.read_bytes()
    except OSError as exc:
        raise error(f"{name}: cannot read ({exc.strerror or exc})") from exc


def read_text(path: str | Path, error: type[VisualThinkerError] = DataError, label: str | None = None,
              what: str = "file") -> str:
    """The whole file as UTF-8 text (a leading byte-order mark is dropped)."""
    path = Path(path)
    name = label or str(path)
    data = _read_bytes(path, name, error, what).removeprefix(BOM)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(_not_utf8(name, data, exc)) from exc


def iter_lines(path: str | Path, error: type[VisualThinkerError] = DataError, label: str | None = None,
               what: str = "file") -> Iterator[tuple[int, str]]:
    """(1-based line number, text without the newline) for each line, decoded one line at a time."""
    path = Path(path)
    name = label or str(path)
    check_file(path, error, name, what)
    offset = 0
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise error(f"{name}: cannot read ({exc.strerror or exc})") from exc
    with handle:
        for line_no, raw in enumerate(handle, start=1):
            data = raw.removeprefix(BOM) if line_no == 1 else raw
            yield line_no, _decode(data, name, error, line_no, offset + len(raw) - len(data)).rstrip("\r\n")
            offset += len(raw)
