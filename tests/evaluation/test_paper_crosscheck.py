"""Cross-check of the paper-scoring emulation against math_verify 0.5.2 itself (skipped where it is not
installed: it is deliberately not a dependency). Install with `pip install math-verify==0.5.2` to run."""

from __future__ import annotations

import pytest

from visualthinker.evaluation.scoring import paper_answer_text, paper_gold, score_paper

mv = pytest.importorskip("math_verify")

CASES = [
    ("There is a lamp on the table", ["yes", "no"], "yes", "A"),
    ("<think>I see 3 cups</think>", ["3", "2", "1", "0"], "3", "A"),
    ("<think>I see 3 cups</think>", ["3", "2", "1", "0"], "2", "B"),
    ("<answer>(B)</answer>", ["lamp", "chair"], "chair", "B"),
    ("<answer>B</answer>", ["lamp", "chair"], "lamp", "A"),
    ("<think>left or right</think><answer>left</answer>", ["left", "right"], "left", "A"),
    ("<think>hm</think><answer>The answer is B.</answer>", ["left", "right"], "right", "B"),
    ("<think>A or B? maybe a</think> B", ["left", "right"], "right", "B"),
    ("A or B? maybe a, then B", ["left", "right"], "left", "A"),
    ("<answer>\n(A)\n</answer>", ["True", "False"], "False", "B"),
    ("<think>x</think><answer>(A)\nTrue</answer>", ["True", "False"], "True", "A"),
    ("The final answer is (C).", ["3", "2", "1", "0"], "1", "C"),
    ("The answer: chair, not a lamp", ["lamp", "chair"], "lamp", "A"),
    ("I think the lamp is closer", ["lamp", "chair"], "lamp", "A"),
    ("", ["lamp", "chair"], "lamp", "A"),
    ("**B**", ["lamp", "chair"], "chair", "B"),
    ("(b) right", ["left", "right"], "right", "B"),
    ("no, it is not", ["yes", "no"], "yes", "A"),
    ("It is false.", ["True", "False"], "False", "B"),
    ("<answer>Chair.</answer>", ["lamp", "chair"], "chair", "B"),
]


@pytest.mark.parametrize(("response", "choices", "answer", "letter"), CASES)
def test_emulation_agrees_with_math_verify(response, choices, answer, letter):
    letters = "ABCDEF"
    strings = tuple(letters) + tuple(letters.lower()) + tuple(f"({c})" for c in letters)
    strings += tuple(f"({c})" for c in letters.lower()) + tuple(choices)
    config = [mv.LatexExtractionConfig(), mv.ExprExtractionConfig(), mv.StringExtractionConfig(strings=strings)]
    expected = mv.verify(paper_gold(choices, answer, letter), mv.parse(paper_answer_text(response), config))
    assert score_paper(response, choices, answer, letter).correct == expected
