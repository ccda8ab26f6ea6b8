import pytest

from visualthinker.errors import ConfigError
from visualthinker.rewards import accuracy_reward, format_reward, length_reward, parse_choice, resolve_reward


def test_format_prepends_think_for_base_prompt():
    good = " I see two. </think> <answer>2</answer>"
    assert format_reward([good], prefills_think=[True]) == [1.0]
    assert format_reward([good], prefills_think=[False]) == [0.0]
    assert format_reward(["<think>x</think><answer>y</answer>"], prefills_think=[False]) == [1.0]


def test_format_trailing_whitespace_tolerated_unless_strict():
    text = "x</think>\n<answer>left</answer>\n"
    assert format_reward([text]) == [1.0]
    assert format_reward([text], strict=True) == [0.0]  # the original code's behaviour
    assert format_reward(["x</think><answer>a</answer> trailing words"]) == [0.0]
    assert format_reward(["x</think> no answer"]) == [0.0]


def test_format_pays_for_an_empty_answer_unless_an_answer_is_required():
    empty = [" x </think> <answer> </answer>", " x </think> <answer>a</answer> y </think> <answer>\n</answer>",
             " x </think> <answer> <answer></answer></answer>", " x </think> <answer> </think></answer></answer>"]
    assert format_reward(empty) == [1.0, 1.0, 1.0, 1.0]  # the paper's pattern
    assert format_reward(empty, require_answer=True) == [0.0, 0.0, 0.0, 0.0]
    assert format_reward([" x </think> <answer> left </answer>"], require_answer=True) == [1.0]
    bound = resolve_reward("format", {"require_answer": True})
    assert bound([" x </think> <answer></answer>"]) == [0.0]


def test_answer_only_format_is_a_lone_answer_block():
    # the direct prompt's format: no think part, nothing prepended even when the column says prefill
    assert format_reward([" <answer> left </answer>"], answer_only=True, require_answer=True) == [1.0]
    assert format_reward([" <answer> left </answer>"], prefills_think=[True], answer_only=True) == [1.0]
    assert format_reward([" x </think> <answer> left </answer>"], answer_only=True) == [0.0]
    assert format_reward([" <answer> </answer>"], answer_only=True, require_answer=True) == [0.0]
    assert format_reward([" <answer> left </answer> more"], answer_only=True) == [0.0]
    bound = resolve_reward("format", {"require_answer": True, "answer_only": True})
    assert bound([" <answer>right</answer>\n"], prefills_think=[False]) == [1.0]


CHOICES = ["left", "right"]


@pytest.mark.parametrize("completion,expected", [
    ("r</think><answer>left</answer>", 1.0),
    ("r</think><answer> Left. </answer>", 1.0),  # case, spaces, final punctuation
    ("r</think><answer>\nleft\n</answer>", 1.0),  # DOTALL
    ("r</think><answer>right</answer>", 0.0),
    ("r</think><answer></answer>", 0.0),  # empty
    ("r</think><answer>left</answer><answer>right</answer>", 0.0),  # several answers
    ("r</think> left", 0.0),  # untagged
    ("r</think><answer>left or right</answer>", 0.0),
    ("r</think><answer>A</answer>", 0.0),  # letters only count when the question showed letters
])
def test_accuracy_natural_language_choices(completion, expected):
    assert accuracy_reward([completion], choices=[CHOICES], answer=["left"], answer_letter=[None]) == [expected]


@pytest.mark.parametrize("answer,index", [
    ("(B)", 1), ("B", 1), ("B.", 1), ("(b)", 1), ("(B) 2", 1), ("2", 1), ("(B) 3", None),
    # a lone lower-case letter names an option (issue #10); with text it needs a delimiter ("a" is an article)
    ("b", 1), ("c", 2), ("c.", 2), ("c)", 2), ("b. 2", 1), ("b) 3", None), ("a 3", None), ("e", None),
    ("There is a lamp", None), ("E", None),
])
def test_anchored_letters(answer, index):
    assert parse_choice(f"<answer>{answer}</answer>", ["3", "2", "1", "0"], letters=True) == index


def test_length_reward_and_cap():
    assert length_reward(["a", "b"], completion_tokens=[10, 1000]) == pytest.approx([0.01, 1.0])
    assert length_reward(["a"], completion_tokens=[1000], cap=700) == pytest.approx([0.7])


def test_registry_plugins_and_errors():
    assert resolve_reward("accuracy") is accuracy_reward
    fn = resolve_reward("visualthinker.rewards.functions:length_reward", {"per_token": 1.0})
    assert fn(["x"], completion_tokens=[3]) == [3.0]
    with pytest.raises(ConfigError, match="unknown reward"):
        resolve_reward("nope")
    with pytest.raises(ConfigError, match="cannot import"):
        resolve_reward("no.such.module:fn")
