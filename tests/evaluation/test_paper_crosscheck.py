"""Paper scoring against an independent restatement of the original evaluation scripts' scoring lines
(src/eval/evaluate_Qwen2_VL_CVBench*.py of turningpoint-ai/VisualThinker-R1-Zero), case by case.

`bench/paper_scoring_agreement.py` prints the agreement over these cases and a templated set."""

from __future__ import annotations

import re
import threading

import math_verify as mv
import pytest

from visualthinker.evaluation.scoring import score_paper

# (response, choices, gold choice text, gold letter)
CASES = [
    # the original's known false positives
    ("There is a lamp on the table", ["yes", "no"], "yes", "A"),
    ("<think>I see 3 cups</think>", ["3", "2", "1", "0"], "3", "A"),
    ("<think>I see 3 cups</think>", ["3", "2", "1", "0"], "2", "B"),
    ("<answer>(B)</answer>", ["lamp", "chair"], "chair", "B"),
    ("<answer>B</answer>", ["lamp", "chair"], "lamp", "A"),
    ("<think>left or right</think><answer>left</answer>", ["left", "right"], "left", "A"),
    ("<think>hm</think><answer>The answer is B.</answer>", ["left", "right"], "right", "B"),
    ("<think>A or B? maybe a</think> B", ["left", "right"], "right", "B"),
    ("A or B? maybe a, then B", ["left", "right"], "left", "A"),
    ("Is it A or B? maybe a, then B", ["lamp", "chair"], "chair", "B"),
    ("Is it A or B? maybe a, then B", ["lamp", "chair"], "lamp", "A"),
    ("<answer>\n(A)\n</answer>", ["True", "False"], "False", "B"),
    ("<think>x</think><answer>(A)\nTrue</answer>", ["True", "False"], "True", "A"),
    ("The final answer is (C).", ["3", "2", "1", "0"], "1", "C"),
    ("The answer: chair, not a lamp", ["lamp", "chair"], "lamp", "A"),
    ("The answer: chair, not a lamp", ["lamp", "chair"], "chair", "B"),
    ("I think the lamp is closer", ["lamp", "chair"], "lamp", "A"),
    ("", ["lamp", "chair"], "lamp", "A"),
    ("<answer></answer>", ["lamp", "chair"], "chair", "B"),
    ("<answer>   </answer>", ["lamp", "chair"], "chair", "B"),
    ("<answer></answer> B", ["lamp", "chair"], "chair", "B"),  # empty block: the whole response is parsed
    ("no tags at all", ["lamp", "chair"], "chair", "B"),
    ("**B**", ["lamp", "chair"], "chair", "B"),
    ("(b) right", ["left", "right"], "right", "B"),
    ("no, it is not", ["yes", "no"], "yes", "A"),
    ("It is false.", ["True", "False"], "False", "B"),
    ("<answer>Chair.</answer>", ["lamp", "chair"], "chair", "B"),
    ("<answer>B</answer> <answer>A</answer>", ["lamp", "chair"], "chair", "B"),
    ("<answer>c</answer>", ["3", "2", "1", "0"], "1", "C"),
    ("<answer>c.</answer>", ["3", "2", "1", "0"], "1", "C"),
    # where the former regex emulation disagreed with math_verify (issue #10)
    ("The answer is (B). I can see 0 lamps", ["3", "2", "1", "0"], "2", "B"),
    ("The answer is (B). I can see 0 lamps", ["3", "2", "1", "0"], "0", "D"),
    ("<answer>$3$</answer>", ["3", "2", "1", "0"], "3", "A"),
    ("<answer>\\boxed{3}</answer>", ["3", "2", "1", "0"], "3", "A"),
    ("<answer>\\boxed{B}</answer>", ["lamp", "chair"], "chair", "B"),
    ("There are 2 chairs and 3 lamps", ["3", "2", "1", "0"], "3", "A"),
    ("<answer> (C) 1 </answer>", ["3", "2", "1", "0"], "1", "C"),
]


def original_correct(response: str, choices: list[str], gold: str, letter: str) -> bool:
    """The scripts' scoring, restated: the first single-line answer block (or, when absent or empty, the whole
    response) parsed with LaTeX, expression and string extraction, verified against six gold strings built from
    the dataset's "(X)" answer."""
    found = re.search(r"<answer>\s*(.*?)\s*</answer>", response)
    text = found.group(1) if found and found.group(1) else response
    keys = tuple("ABCDEF") + tuple("abcdef") + tuple(f"({c})" for c in "abcdef") + tuple(f"({c})" for c in "ABCDEF")
    config = [mv.LatexExtractionConfig(), mv.ExprExtractionConfig(), mv.StringExtractionConfig(strings=keys + tuple(choices))]
    ground_truth = f"({letter})"
    golds = [gold.lower(), gold, ground_truth[1], ground_truth[1].lower(), ground_truth.lower(), ground_truth]
    return bool(mv.verify(target=mv.parse(text, extraction_config=config), gold=golds))


@pytest.mark.parametrize(("response", "choices", "gold", "letter"), CASES)
def test_paper_scoring_agrees_with_the_original_scripts(response, choices, gold, letter):
    assert score_paper(response, choices, gold, letter).correct == original_correct(response, choices, gold, letter)


def test_issue_cases_are_scored_as_math_verify_does():
    counts = ["3", "2", "1", "0"]
    # sympy extraction wins over the string keys: "0" is the prediction, not "(B)"
    assert not score_paper("The answer is (B). I can see 0 lamps", counts, "2", "B").correct
    assert score_paper("The answer is (B). I can see 0 lamps", counts, "0", "D").correct
    assert score_paper("<answer>$3$</answer>", counts, "3", "A").correct
    assert score_paper("<answer>\\boxed{3}</answer>", counts, "3", "A").correct


def test_paper_scoring_refuses_to_run_off_the_main_thread():
    errors = []

    def work():
        try:
            score_paper("<answer>B</answer>", ["lamp", "chair"], "chair", "B")
        except RuntimeError as exc:
            errors.append(str(exc))

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert errors and "main thread" in errors[0]
