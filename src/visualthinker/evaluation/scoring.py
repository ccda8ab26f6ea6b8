"""Answer scoring: the strict scorer (our headline) and an emulation of the original scripts' lenient matching.

Strict (`score_strict`): the shared parser of the accuracy reward (`rewards/parsing.py`). The response must hold
exactly one non-empty `<answer>` block; its content must name exactly one choice by text or, where the question
showed lettered options, by an anchored letter ("B", "(B)", "B.", "(B) text"). A missing/duplicated/empty block
is a *format failure*; an answer that names no choice (or several) is an *invalid answer*. Both score 0.

Paper (`score_paper`): what the original evaluation scripts did with `math_verify` 0.5.2, re-implemented here on
plain regular expressions so that math_verify is not a dependency:

1. The answer is the first match of `<answer>\\s*(.*?)\\s*</answer>` (no DOTALL, so a block that spans lines is
   not found) or, failing that, the whole response.
2. One prediction is extracted from it, as math_verify's string extraction does, from the "keys": the letters
   A-F and a-f, "(A)".."(F)", "(a)".."(f)" and the choice texts. Matching is case-sensitive on the keys (the
   choice text is looked for as written; all letter cases are keys). A key counts where it is preceded by the
   start of the text or white space (optionally "**") and followed by ".", ",", ":", white space or the end
   (optionally after "**"). Patterns are tried in priority order and the first group that matches wins:
   "final answer ... is KEY", then "answer: ... KEY" (KEY within 50 characters), then "answer ... KEY", then
   KEY at the very start, then KEY anywhere. Within a group the rightmost match wins.
3. The prediction, lower-cased, is correct when it equals any of the lower-cased gold strings
   [choice text lower, choice text, letter, lower letter, "(x)", "(X)"].

Known differences from math_verify: no LaTeX or sympy expression extraction (a number that is not a choice text
is never a prediction; a number choice such as "3" is found as a key, which reproduces the "I see 3 cups" false
positive), and keys are matched at every position rather than by one non-overlapping left-to-right scan.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from visualthinker.rewards.parsing import extract_answer, match_choice

PAPER_ANSWER_RE = re.compile(r"<answer>\s*(.*?)\s*</answer>")
PAPER_LETTERS = "ABCDEF"


@dataclass(frozen=True)
class StrictScore:
    answer: str | None  # content of the single <answer> block
    index: int | None  # choice it names
    correct: bool

    @property
    def format_failure(self) -> bool:
        return self.answer is None

    @property
    def invalid_answer(self) -> bool:
        return self.answer is not None and self.index is None


@dataclass(frozen=True)
class PaperScore:
    answer: str  # the text the original scripts handed to math_verify
    prediction: str | None  # the one string extracted from it (lower-cased)
    correct: bool


def gold_letter(choices: list[str], answer: str, answer_letter: str | None) -> str:
    """The gold option letter: the record's own, else the position of the answer among the choices."""
    if answer_letter:
        return answer_letter.strip("()").upper()
    return chr(65 + choices.index(answer))


def score_strict(response: str, choices: list[str], answer: str, answer_letter: str | None) -> StrictScore:
    """Strict scoring with the accuracy reward's parser; letters count only where options were lettered."""
    content = extract_answer(response)
    index = None if content is None else match_choice(content, choices, letters=answer_letter is not None)
    correct = index is not None and choices[index] == answer
    return StrictScore(answer=content, index=index, correct=correct)


def paper_answer_text(response: str) -> str:
    m = PAPER_ANSWER_RE.search(response)
    return (m.group(1) if m else response).strip()


@lru_cache(maxsize=4096)
def _paper_patterns(keys: tuple[str, ...]) -> tuple[re.Pattern[str], ...]:
    # Longest keys first, so that "(A)" wins over "A" and "left side" over "left" at the same position.
    alternation = "|".join(re.escape(k) for k in sorted(set(keys), key=len, reverse=True))
    key = f"(?P<key>{alternation})"
    suffix = r"(?:\*\*)?(?=[.,:\s]|$)"
    anywhere = rf"(?:^|(?<=\s))(?:\*\*)?{key}{suffix}"
    return tuple(
        re.compile(p)
        for p in (
            rf"(?i:final answer.{{0,100}}?)\s+is:?\s*{key}",
            rf"(?i:answer):.{{0,50}}?(?:^|\s)(?:\*\*)?{key}{suffix}",
            rf"(?i:answer).{{0,50}}?(?:^|\s)(?:\*\*)?{key}{suffix}",
            rf"^(?:\*\*)?{key}{suffix}",
            anywhere,
        )
    )


def paper_extract(answer_text: str, choices: list[str]) -> str | None:
    """The single prediction the lenient matcher extracts (lower-cased), or None."""
    keys = tuple(PAPER_LETTERS) + tuple(PAPER_LETTERS.lower())
    keys += tuple(f"({c})" for c in PAPER_LETTERS) + tuple(f"({c})" for c in PAPER_LETTERS.lower())
    keys += tuple(c for c in choices if c.strip())
    for pattern in _paper_patterns(keys):
        matches = list(pattern.finditer(answer_text))
        if matches:
            # rightmost end first, then the leftmost start
            best = max(matches, key=lambda m: (m.end("key"), -m.start("key")))
            return best.group("key").lower()
    return None


def paper_gold(choices: list[str], answer: str, answer_letter: str | None) -> list[str]:
    """The original scripts' gold list."""
    letter = gold_letter(choices, answer, answer_letter)
    return [answer.lower(), answer, letter, letter.lower(), f"({letter.lower()})", f"({letter})"]


def score_paper(response: str, choices: list[str], answer: str, answer_letter: str | None) -> PaperScore:
    """Lenient matching as in the paper's evaluation scripts (see the module docstring)."""
    text = paper_answer_text(response)
    prediction = paper_extract(text, choices)
    golds = {g.lower() for g in paper_gold(choices, answer, answer_letter)}
    return PaperScore(answer=text, prediction=prediction, correct=prediction is not None and prediction in golds)
