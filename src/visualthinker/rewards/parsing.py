"""Strict answer parsing, shared by the accuracy reward and the evaluation scorer.

Rules: the answer is the content of exactly one <answer>...</answer> block. It is matched, after
normalisation of case, whitespace and surrounding punctuation, to exactly one choice by its text, or,
when the question showed lettered options, by an anchored letter such as "(B)", "B", "B." or "(B) text".
A lower-case letter counts when it stands alone ("b", "b.", "b)") or is set off from agreeing text ("(b) text",
"b. text"): an answer block holding only "c" names option C, while "a chair" stays the article, not option A.
No tag, several tags, an empty answer or an ambiguous answer gives no match.
"""

from __future__ import annotations

import re
import string

ANSWER_RE = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)
_PUNCT = string.punctuation.replace("(", "").replace(")", "") + "“”‘’"
_LETTER_RE = re.compile(r"^\(?([A-Z])\)?[.:]?(?:\s+(.*))?$")
_PAREN_LOWER_RE = re.compile(r"^\(([a-z])\)[.:]?(?:\s+(.*))?$")
# A bare lower-case letter needs a delimiter before any text, so that "a chair" is not read as option A.
_LOWER_RE = re.compile(r"^([a-z])(?:[.:)](?:\s+(.*))?)?$")


def extract_answer(completion: str) -> str | None:
    """The single <answer> block's content, or None (no block, several blocks, or empty)."""
    blocks = ANSWER_RE.findall(completion)
    if len(blocks) != 1:
        return None
    content = blocks[0].strip()
    return content or None


def normalize(text: str) -> str:
    """Lower-case, collapse white space, strip punctuation at both ends ("Left." == "left")."""
    text = " ".join(text.lower().split())
    return text.strip(_PUNCT + " ").strip()


def _strip_wrapping_parens(text: str) -> str:
    return text[1:-1].strip() if text.startswith("(") and text.endswith(")") and text.count("(") == 1 else text


def match_choice(answer: str, choices: list[str], letters: bool) -> int | None:
    """Index of the one choice `answer` names, or None when it names none or several."""
    norm = normalize(answer)
    if not norm:
        return None
    norm_choices = [normalize(c) for c in choices]
    by_text = [i for i, c in enumerate(norm_choices) if c == norm or c == _strip_wrapping_parens(norm)]
    if len(by_text) == 1:
        return by_text[0]
    if len(by_text) > 1:
        return None
    if not letters:
        return None
    stripped = answer.strip()
    m = _LETTER_RE.match(stripped) or _PAREN_LOWER_RE.match(stripped) or _LOWER_RE.match(stripped)
    if not m:
        return None
    index = ord(m.group(1).upper()) - 65
    if index >= len(choices):
        return None
    rest = m.group(2)
    if rest is not None and normalize(rest) != norm_choices[index]:
        return None  # "(B) left" where B is "right": contradictory, count as wrong
    return index


def parse_choice(completion: str, choices: list[str], letters: bool) -> int | None:
    """Strict end-to-end parse of a completion into a choice index."""
    answer = extract_answer(completion)
    return None if answer is None else match_choice(answer, choices, letters)
