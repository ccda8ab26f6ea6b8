"""Rule-based rewards (format, accuracy, length) and the strict answer parser they share with evaluation."""

from visualthinker.rewards.functions import accuracy_reward, format_reward, length_reward
from visualthinker.rewards.parsing import extract_answer, match_choice, normalize, parse_choice
from visualthinker.rewards.registry import BUILTIN_REWARDS, resolve_reward

__all__ = [
    "BUILTIN_REWARDS",
    "accuracy_reward",
    "extract_answer",
    "format_reward",
    "length_reward",
    "match_choice",
    "normalize",
    "parse_choice",
    "resolve_reward",
]
