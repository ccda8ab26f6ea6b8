"""The paper's rule-based rewards as plain callables: f(completions, **columns) -> list[float].

Columns arrive as lists aligned with `completions` (one entry per completion): `choices`, `answer`,
`answer_letter`, `completion_tokens`, `prefills_think`, and every other record column.
"""

from __future__ import annotations

import re
from typing import Any

from visualthinker.rewards.parsing import extract_answer, parse_choice

FORMAT_RE = re.compile(r"<think>.*?</think>\s*<answer>.*?</answer>", re.DOTALL)
ANSWER_ONLY_RE = re.compile(r"\s*<answer>.*?</answer>", re.DOTALL)


def format_reward(
    completions: list[str], prefills_think: list[bool] | None = None, strict: bool = False,
    require_answer: bool = False, answer_only: bool = False, **_: Any
) -> list[float]:
    """1.0 when "<think>...</think> <answer>...</answer>" is the whole text (paper's fullmatch).

    With the base prompt the model's completion continues after the prompt's "<think>", so that tag is
    prepended first, as in the paper. Trailing white space is tolerated unless `strict` (the original
    code rejected even a final newline). The paper's pattern also pays for an empty "<answer> </answer>";
    `require_answer` withholds the reward unless there is exactly one answer block holding text and no
    tag (a small policy otherwise settles on "<answer> </answer>" or "<answer><answer></answer></answer>",
    the cheapest ways to the format, and stops answering).
    `answer_only` is the format of a run without a think part (the `direct` prompt): the whole text is one
    "<answer>...</answer>" block and nothing is prepended.
    """
    prefills = prefills_think or [True] * len(completions)
    scores = []
    for text, prefill in zip(completions, prefills, strict=True):
        full = ("<think>" + text) if prefill and not answer_only else text
        if not strict:
            full = full.rstrip()
        ok = (ANSWER_ONLY_RE if answer_only else FORMAT_RE).fullmatch(full) is not None
        if ok and require_answer:
            answer = extract_answer(full)
            ok = answer is not None and "<" not in answer
        scores.append(1.0 if ok else 0.0)
    return scores


def accuracy_reward(
    completions: list[str], choices: list[list[str]], answer: list[str], answer_letter: list[str | None], **_: Any
) -> list[float]:
    """1.0 when the single <answer> block names the correct choice (strict parser, see parsing.py)."""
    scores = []
    for text, opts, gold, letter in zip(completions, choices, answer, answer_letter, strict=True):
        index = parse_choice(text, opts, letters=letter is not None)
        scores.append(1.0 if index is not None and opts[index] == gold else 0.0)
    return scores


def length_reward(
    completions: list[str], completion_tokens: list[int], per_token: float = 0.001, cap: int | None = None, **_: Any
) -> list[float]:
    """The paper's failed ablation: +0.001 per completion token (uncapped in the paper; `cap` bounds it)."""
    return [per_token * (min(n, cap) if cap is not None else n) for n in completion_tokens]
