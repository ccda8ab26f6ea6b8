"""Prompt templates of the paper, chosen by config (never guessed from a model path).

- `base`: the R1-Zero prompt for a base model; raw text, no roles, ends in "<think>" so the model continues
  its reasoning. The model is never told about <answer> tags: it discovers them through the format reward.
- `instruct`: the chat prompt used for the instruct model, rendered by the model's chat template. Its text is
  "<image>" + question + suffix, as in the released training code, where the SAT question itself began with
  "<image>" ("<image> Answer in natural language. ... Choose between the following options: a or b  Output the
  thinking process ..."); the instruct *evaluation* scripts sent the benchmark prompt without it.
- `direct`: the no-reasoning base prompt of the paper's evaluation scripts.
- `answer`: the `direct` prompt with "<answer>" already written after "Assistant:", so a completion is only the
  choice and "</answer>". Not in the paper: it is the demo's no-thinking control, in which the format is given
  instead of discovered, so that comparing it with `base` measures what the think part adds to accuracy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

TemplateName = Literal["base", "instruct", "direct", "answer"]
TEMPLATES: tuple[str, ...] = ("base", "instruct", "direct", "answer")

BASE_TEMPLATE = (
    "A conversation between User and Assistant. The user asks a question about the image, and the Assistant "
    "solves it. The assistant first thinks about the reasoning process in the mind and then provides the user "
    "with the answer.\nUser: {question} \nAssistant: Let me solve this step by step.\n<think>"
)
DIRECT_TEMPLATE = (
    "A conversation between User and Assistant. The user asks a question about the image, and the Assistant "
    "solves it.\nUser: {question} \nAssistant: "
)
ANSWER_PREFILL = "<answer>"
# Training (grpo.py of the released code) and evaluation scripts used slightly different instruct suffixes.
INSTRUCT_TRAIN_SUFFIX = (
    "  Output the thinking process in <think> </think> and final answer (option) in <answer> </answer> tags."
)
INSTRUCT_EVAL_SUFFIX = "\nOutput the thinking process in <think> </think> and final answer in <answer> </answer> tags."

# The released code sends "<image>" + prompt as text after the image item (base), or a SAT question that starts
# with "<image>" (instruct), so a literal "<image>" string follows the vision tokens. Kept by default for
# fidelity; `literal_image_tag: false` drops it.
LITERAL_IMAGE_TAG = "<image>"


def format_choices_sat(choices: list[str]) -> str:
    """The paper's option list: "a, b or c" (", " between all but the last two, " or " before the last)."""
    if not choices:
        raise ValueError("a question needs at least one choice")
    if len(choices) == 1:
        return choices[0]
    return ", ".join(choices[:-1]) + " or " + choices[-1]


def sat_question(question: str, choices: list[str]) -> str:
    """The SAT user message with the "<image>" marker removed; the leading space it leaves is kept on purpose
    (the paper's prompt reads "User:  Answer ..." with two spaces)."""
    return f" Answer in natural language. {question} Choose between the following options: {format_choices_sat(choices)}"


def lettered_question(question: str, choices: list[str], sep: str = " Select from the following choices.") -> str:
    """CV-Bench / BLINK style: the question followed by "(A) x" lines."""
    lines = [f"({chr(65 + i)}) {c}" for i, c in enumerate(choices)]
    return question + sep + "\n" + "\n".join(lines)


@dataclass(frozen=True)
class PromptSpec:
    """How a record's question becomes model text."""

    template: TemplateName = "base"
    literal_image_tag: bool = True
    instruct_suffix: str = INSTRUCT_TRAIN_SUFFIX

    @property
    def prefills_think(self) -> bool:
        """The completion continues after "<think>", so the format check prepends it."""
        return self.template == "base"

    @property
    def raw_text(self) -> bool:
        """Rendered as plain text after the image (no chat template)."""
        return self.template in ("base", "direct", "answer")

    def scored_text(self, completion: str) -> str:
        """What rewards and scoring read: the completion, after the "<answer>" the `answer` prompt wrote for it
        (the base prompt's "<think>" is handled by the format reward, as in the paper)."""
        return ANSWER_PREFILL + completion if self.template == "answer" else completion

    def text(self, question: str) -> str:
        """The text part (without vision tokens) for `base`, `direct` and `answer`; the user text for `instruct`."""
        if self.template == "base":
            body = BASE_TEMPLATE.format(question=question)
        elif self.template == "direct":
            body = DIRECT_TEMPLATE.format(question=question)
        elif self.template == "answer":
            body = DIRECT_TEMPLATE.format(question=question) + ANSWER_PREFILL
        elif self.template == "instruct":
            body = question + self.instruct_suffix
        else:
            raise ValueError(f"unknown prompt template {self.template!r}; choose one of {TEMPLATES}")
        return (LITERAL_IMAGE_TAG if self.literal_image_tag else "") + body

    def messages(self, question: str, num_images: int) -> list[dict]:
        """Chat messages for the instruct template (the images first, then the text, as the paper does)."""
        content = [{"type": "image"} for _ in range(num_images)] + [{"type": "text", "text": self.text(question)}]
        return [{"role": "user", "content": content}]
