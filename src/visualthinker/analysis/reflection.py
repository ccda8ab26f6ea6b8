"""Self-reflection markers: the lexicon and how it is matched against a completion.

Matching rules (documented in docs/report.md):
- case-insensitive, on word boundaries: "wait" matches "Wait!" and "wait," but not "waiting" or "await";
- inside the *think part* only: the base prompt ends in "<think>", so a completion starts inside it and the think
  part is the text before the first "</think>" (the whole text when there is none); a word such as "again" in
  the answer is not reflection;
- the literal tag "<think>" is the exception: the prompt already opened one, so any "<think>" in the completion
  is the model re-opening its reasoning (the paper's aha example does this) and it counts anywhere;
- within a phrase, a space matches any run of whitespace and a hyphen matches a hyphen, a space or nothing
  ("re-check" also finds "recheck" and "re check");
- a trailing "*" stands for any word characters ("verif*": verify, verified, verification);
- a line starting with "re:" is a raw regular expression (case-insensitive, no boundaries added).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from visualthinker.analysis.runs import RunDirError
from visualthinker.textfiles import read_text

REOPEN_THINK = "<think>"
THINK_CLOSE = "</think>"

# Chosen from the paper's aha example ("But wait! I can think of something else. <think>"), the markers of
# paper-recipe.md §5 and the later version's "wait"/"again" counts. Ordinary connectives ("but", "however",
# "therefore", "check") are left out on purpose: base-model reasoning uses them in every answer, so they would
# flatten the rate curve. "again" stays because the later paper counts it, even though "once again" is noisy.
DEFAULT_MARKERS: tuple[str, ...] = (
    "wait",
    "but wait",
    "hold on",
    "hmm*",
    "let me check",
    "check again",
    "re-check",
    "double-check",
    "re-evaluate",
    "re-examine",
    "reconsider*",
    "rethink",
    "verif*",
    "mistake*",
    "actually",
    "look again",
    "again",
    "alternatively",
    "on second thought",
    "think of something else",
    "I think something else",
    "not sure",
    REOPEN_THINK,
)


def _marker_regex(marker: str) -> str:
    if marker.startswith("re:"):
        return marker[3:]
    wildcard = marker.endswith("*")
    body = marker[:-1] if wildcard else marker
    parts = []
    for word in body.split():
        pieces = [re.escape(piece) for piece in word.split("-")]
        parts.append(r"[-\s]?".join(pieces))
    pattern = r"\s+".join(parts)
    if wildcard:
        pattern += r"\w*"
    return rf"(?<!\w){pattern}(?!\w)"


@dataclass(frozen=True)
class Lexicon:
    """An ordered set of markers, each compiled once."""

    markers: tuple[str, ...] = DEFAULT_MARKERS
    _compiled: tuple[tuple[str, re.Pattern[str]], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.markers:
            raise RunDirError("the reflection lexicon is empty; give at least one marker")
        compiled = []
        for marker in self.markers:
            try:
                compiled.append((marker, re.compile(_marker_regex(marker), re.IGNORECASE)))
            except re.error as exc:
                raise RunDirError(f"lexicon marker {marker!r} is not a valid pattern ({exc})") from exc
        object.__setattr__(self, "_compiled", tuple(compiled))

    @property
    def counts_reopened_think(self) -> bool:
        return REOPEN_THINK in self.markers

    def compiled(self) -> tuple[tuple[str, re.Pattern[str]], ...]:
        return self._compiled


def load_lexicon(path: str | Path) -> Lexicon:
    """One marker per line; blank lines and lines starting with "#" are skipped. Replaces the default list."""
    file = Path(path)
    if not file.is_file():
        raise RunDirError(f"lexicon file not found: {file}")
    markers = []
    for line in read_text(file, RunDirError, f"lexicon file {file}").splitlines():
        marker = line.strip()
        if marker and not marker.startswith("#"):
            markers.append(marker)
    if not markers:
        raise RunDirError(f"{file}: the lexicon file lists no markers (one per line, '#' starts a comment)")
    return Lexicon(tuple(dict.fromkeys(markers)))


def think_part(completion: str) -> str:
    index = completion.find(THINK_CLOSE)
    return completion if index < 0 else completion[:index]


@dataclass(frozen=True)
class MarkerMatch:
    start: int
    end: int
    marker: str


def find_markers(completion: str, lexicon: Lexicon) -> list[MarkerMatch]:
    """All marker occurrences (offsets into `completion`), sorted by position; overlaps are kept."""
    limit = len(think_part(completion))
    found = []
    for marker, pattern in lexicon.compiled():
        # only the re-opened tag is searched past the end of the think part
        end = len(completion) if marker == REOPEN_THINK else limit
        for match in pattern.finditer(completion, 0, end):
            if match.end() > match.start():
                found.append(MarkerMatch(match.start(), match.end(), marker))
    return sorted(found, key=lambda m: (m.start, -m.end))


def markers_in(completion: str, lexicon: Lexicon) -> set[str]:
    return {m.marker for m in find_markers(completion, lexicon)}


def is_reflective(completion: str, lexicon: Lexicon) -> bool:
    return bool(find_markers(completion, lexicon))


def merge_spans(matches: Sequence[MarkerMatch]) -> list[tuple[int, int]]:
    """Overlapping matches ("but wait" and "wait") become one span, so highlighting never nests."""
    spans: list[tuple[int, int]] = []
    for m in sorted(matches, key=lambda m: m.start):
        if spans and m.start < spans[-1][1]:
            spans[-1] = (spans[-1][0], max(spans[-1][1], m.end))
        else:
            spans.append((m.start, m.end))
    return spans

