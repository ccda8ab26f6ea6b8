"""Answer scoring: the strict scorer (our headline) and the original scripts' lenient matching.

Strict (`score_strict`): the shared parser of the accuracy reward (`rewards/parsing.py`). The response must hold
exactly one non-empty `<answer>` block; its content must name exactly one choice by text or, where the question
showed lettered options, by an anchored letter ("B", "(B)", "B.", "(B) text", or a lone lower-case "b", "b.").
A missing/duplicated/empty block is a *format failure*; an answer that names no choice (or several) is an
*invalid answer*. Both score 0.

Paper (`score_paper`): exactly what the original evaluation scripts (`src/eval/evaluate_Qwen2_VL_CVBench*.py`)
did, calling math-verify 0.5.2 (a pinned dependency) with the same arguments:

1. `extract_answer`: the first match of `<answer>\\s*(.*?)\\s*</answer>` (no DOTALL, so a block that spans lines
   is not found); when there is none, or it is empty, the whole response, unstripped.
2. `math_verify.parse` of that text with LaTeX, expression and string extraction; the strings are the letters
   A-F and a-f, "(a)".."(f)", "(A)".."(F)" and the choice texts, in the scripts' order.
3. `math_verify.verify(gold=[choice text lower, choice text, letter, lower letter, "(x)", "(X)"], target=parsed)`.

math-verify bounds its parsing with SIGALRM, which only works in the main thread; off it every parse would
silently fail, so `score_paper` refuses to run there.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

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
    prediction: str | None  # what math_verify extracted from it (its string form), or None
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
    """The text the original scripts handed to math_verify: the first single-line answer block's content, or,
    when there is none or it is empty, the whole response as it is."""
    m = PAPER_ANSWER_RE.search(response)
    return m.group(1) if m and m.group(1) else response


def paper_strings(choices: list[str]) -> tuple[str, ...]:
    """math_verify's string-extraction keys, in the order the original scripts gave them."""
    upper = tuple(PAPER_LETTERS)
    lower = tuple(PAPER_LETTERS.lower())
    return upper + lower + tuple(f"({c})" for c in lower) + tuple(f"({c})" for c in upper) + tuple(choices)


def paper_parse(answer_text: str, choices: list[str]) -> list:
    """`math_verify.parse` exactly as the original scripts called it: sympy expressions and/or strings."""
    _require_main_thread()
    from math_verify import ExprExtractionConfig, LatexExtractionConfig, StringExtractionConfig, parse

    config = [LatexExtractionConfig(), ExprExtractionConfig(), StringExtractionConfig(strings=paper_strings(choices))]
    return parse(answer_text, extraction_config=config)


def _require_main_thread() -> None:
    if threading.current_thread() is not threading.main_thread():
        raise RuntimeError("paper scoring calls math_verify, whose SIGALRM timeouts only work in the main thread; "
                           "score in the main thread")


def paper_gold(choices: list[str], answer: str, answer_letter: str | None) -> list[str]:
    """The original scripts' gold list."""
    letter = gold_letter(choices, answer, answer_letter)
    return [answer.lower(), answer, letter, letter.lower(), f"({letter.lower()})", f"({letter})"]


def score_paper(response: str, choices: list[str], answer: str, answer_letter: str | None) -> PaperScore:
    """The original scripts' lenient matching, through math_verify 0.5.2 (see the module docstring)."""
    from math_verify import verify

    text = paper_answer_text(response)
    parsed = paper_parse(text, choices)
    correct = bool(verify(gold=paper_gold(choices, answer, answer_letter), target=parsed))
    # parse returns [sympy value, its string] or [string]: the string is what a string gold can match
    prediction = str(parsed[-1]) if parsed else None
    return PaperScore(answer=text, prediction=prediction, correct=correct)
