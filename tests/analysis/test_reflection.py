from __future__ import annotations

from pathlib import Path

import pytest

from visualthinker.analysis.reflection import (
    DEFAULT_MARKERS,
    Lexicon,
    find_markers,
    is_reflective,
    load_lexicon,
    markers_in,
    merge_spans,
    think_part,
)
from visualthinker.analysis.runs import RunDirError

LEX = Lexicon()


@pytest.mark.parametrize("text", ["Wait! The box is left.", "so... wait, no", "WAIT", "hmm", "Hmmm, the cup",
                                  "Let me re-check.", "let me recheck", "I should double check", "On second\nthought"])
def test_markers_match_case_insensitively(text: str) -> None:
    assert is_reflective(text, LEX)


@pytest.mark.parametrize("text", ["The man is waiting at the door.", "I await the answer.", "Waits are long",
                                  "againstthe", "a checkmark"])
def test_word_boundaries(text: str) -> None:
    # "waiting" describes the scene, not the model's reasoning: it is not the marker "wait"
    assert not is_reflective(text, Lexicon(("wait", "again", "check again")))


def test_wildcard_and_regex_markers() -> None:
    lex = Lexicon(("verif*", "re:\\bhm{2,}\\b"))
    assert markers_in("Verification shows it.", lex) == {"verif*"}
    assert markers_in("I verified it", lex) == {"verif*"}
    assert markers_in("hmmm", lex) == {"re:\\bhm{2,}\\b"}
    assert not is_reflective("hm", lex)


def test_only_think_part_counts_except_reopened_think() -> None:
    text = "The box is left.</think> <answer>left</answer> Wait, again."
    assert think_part(text) == "The box is left."
    assert not is_reflective(text, LEX)
    reopened = "Left.</think><think> the box again</think><answer>left</answer>"
    assert markers_in(reopened, LEX) == {"<think>"}
    paper = "not above the doorway. But wait! I can think of something else. <think> Maybe"
    assert {"but wait", "wait", "think of something else", "<think>"} <= markers_in(paper, LEX)


def test_reopened_think_can_be_disabled() -> None:
    lex = Lexicon(tuple(m for m in DEFAULT_MARKERS if m != "<think>"))
    assert not lex.counts_reopened_think
    assert not is_reflective("Left.</think><think>", lex)


def test_overlapping_matches_merge_into_one_span() -> None:
    text = "But wait! yes"
    spans = merge_spans(find_markers(text, LEX))
    assert spans == [(0, 8)]


def test_load_lexicon(tmp_path: Path) -> None:
    file = tmp_path / "lex.txt"
    file.write_text("# my markers\n\nhowever\nwait\nwait\n", encoding="utf-8")
    lex = load_lexicon(file)
    assert lex.markers == ("however", "wait")
    assert is_reflective("However, the box", lex)
    (tmp_path / "empty.txt").write_text("# nothing\n", encoding="utf-8")
    with pytest.raises(RunDirError, match="empty.txt"):
        load_lexicon(tmp_path / "empty.txt")
    with pytest.raises(RunDirError, match="not found"):
        load_lexicon(tmp_path / "missing.txt")
    with pytest.raises(RunDirError, match="not a valid pattern"):
        Lexicon(("re:(",))
