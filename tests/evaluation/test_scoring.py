"""Strict vs paper-compatible scoring, including the original scripts' known false positives."""

from __future__ import annotations

import pytest

from visualthinker.evaluation.scoring import paper_gold, score_paper, score_strict

YES_NO = ["yes", "no"]
COUNTS = ["3", "2", "1", "0"]
LAMP = ["lamp", "chair"]


def both(response, choices, answer, letter):
    return score_strict(response, choices, answer, letter), score_paper(response, choices, answer, letter)


def test_article_a_is_a_false_positive_only_under_paper_scoring():
    strict, paper = both("There is a lamp on the table", YES_NO, "yes", "A")
    assert paper.correct and paper.prediction == "a"
    assert not strict.correct and strict.format_failure


def test_number_in_think_without_answer_tag_is_a_false_positive_only_under_paper_scoring():
    strict, paper = both("<think>I see 3 cups</think>", COUNTS, "3", "A")
    assert paper.correct
    assert not strict.correct and strict.format_failure


@pytest.mark.parametrize("answer", ["(B)", "B", "B.", "chair", "(B) chair", "(b)"])
def test_strict_accepts_anchored_letters_and_choice_text(answer):
    strict, paper = both(f"<think>...</think><answer>{answer}</answer>", LAMP, "chair", "B")
    assert strict.correct and not strict.format_failure
    assert paper.correct


def test_choice_text_case_differs_between_scorings():
    # strict normalises case; math_verify's string keys are case-sensitive (the text as written)
    strict, paper = both("<answer>Chair.</answer>", LAMP, "chair", "B")
    assert strict.correct and not paper.correct


@pytest.mark.parametrize("answer", ["I think it is B", "a chair", "(B) lamp", "B or A", "lamp chair"])
def test_strict_rejects_unanchored_or_contradictory_answers(answer):
    strict = score_strict(f"<answer>{answer}</answer>", LAMP, "chair", "B")
    assert not strict.correct and strict.invalid_answer and not strict.format_failure


def test_letters_do_not_count_where_options_were_not_lettered():
    assert not score_strict("<answer>B</answer>", LAMP, "chair", None).correct
    assert score_strict("<answer>chair</answer>", LAMP, "chair", None).correct


def test_multiple_answer_blocks_are_a_format_failure():
    strict, paper = both("<answer>B</answer> <answer>A</answer>", LAMP, "chair", "B")
    assert strict.format_failure and not strict.correct
    assert paper.correct  # the original took the first block


@pytest.mark.parametrize("response", ["", "<answer></answer>", "<answer>   </answer>", "no tags at all"])
def test_empty_or_missing_answers(response):
    strict, paper = both(response, LAMP, "chair", "B")
    assert strict.format_failure and not strict.correct
    assert not paper.correct


def test_paper_ignores_a_multiline_answer_block_and_falls_back_to_the_whole_response():
    # no DOTALL: "(.*?)" cannot cross a newline, so the whole text (with the tags) is searched instead
    response = "<think>x</think><answer>(A)\nTrue</answer>"
    paper = score_paper(response, ["True", "False"], "True", "A")
    assert paper.answer == response and paper.prediction is None and not paper.correct  # as math_verify 0.5.2
    assert score_strict(response, ["True", "False"], "True", "A").correct
    assert score_paper("<answer>\n(A)\n</answer>", ["True", "False"], "True", "A").answer == "(A)"


def test_paper_takes_the_rightmost_key_and_prefers_anchored_answers():
    assert score_paper("Is it A or B? maybe a, then B", LAMP, "chair", "B").correct
    assert not score_paper("Is it A or B? maybe a, then B", LAMP, "lamp", "A").correct
    assert score_paper("A or B? maybe a, then B", LAMP, "lamp", "A").correct  # a key at the very start wins
    assert score_paper("The answer: chair, not a lamp", LAMP, "chair", "B").correct
    assert score_paper("The final answer is (C).", COUNTS, "1", "C").correct


def test_paper_gold_list_matches_the_original():
    assert paper_gold(LAMP, "chair", "B") == ["chair", "chair", "B", "b", "(b)", "(B)"]
    assert paper_gold(LAMP, "chair", None) == ["chair", "chair", "B", "b", "(b)", "(B)"]


@pytest.mark.parametrize(("answer", "correct"), [("c", True), ("c.", True), ("(c)", True), ("c) 1", True),
                                                 ("b", False), ("c 1", False), ("a chair", False)])
def test_strict_reads_a_lone_lower_case_letter_as_the_option(answer, correct):
    strict = score_strict(f"<think>x</think><answer>{answer}</answer>", COUNTS, "1", "C")
    assert strict.correct == correct
    assert strict.invalid_answer == (answer in ("c 1", "a chair"))


def test_lone_lower_case_letter_needs_lettered_options():
    assert not score_strict("<answer>b</answer>", LAMP, "chair", None).correct
