"""The one record type every dataset loader produces, and every consumer (trainer, evaluation) reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from visualthinker.data.images import prepare_image

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


@dataclass
class Record:
    """A multiple-choice visual question.

    `prompt` is the question exactly as the model sees it inside the prompt template (the dataset's own
    wording, e.g. SAT's "Answer in natural language. ... Choose between the following options: a or b",
    or CV-Bench's `prompt` column with "(A) ... (B) ..." lines). `answer` is the correct choice's text;
    `answer_letter` is set only where the source shows lettered options, and only then does a letter
    count as an answer.
    """

    id: str
    images: list[Any]
    question: str
    choices: list[str]
    answer: str
    prompt: str
    task: str
    source: str
    answer_letter: str | None = None
    subtask: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)
    image_root: Path | None = None
    # Where the record came from ("SAT_train.parquet row 12"), so later errors can point at the source row.
    origin: str | None = None

    def load_images(self, max_pixels: int | None = None, min_pixels: int | None = None) -> list[Image.Image]:
        """Decode the images to RGB (bounded by the processor's pixel limits); errors name the record."""
        return [self.load_image(k, max_pixels, min_pixels) for k in range(len(self.images))]

    def load_image(self, k: int, max_pixels: int | None = None, min_pixels: int | None = None) -> Image.Image:
        """Image k as the processor gets it; `data validate` calls this too, so it sees what training would."""
        where = f"{self.origin}, record" if self.origin else f"{self.source} record"
        return prepare_image(self.images[k], f"{where} {self.id!r}, image {k}", self.image_root, max_pixels,
                             min_pixels)

    @property
    def answer_index(self) -> int:
        return self.choices.index(self.answer)

    def columns(self) -> dict[str, Any]:
        """The fields handed to reward functions as keyword columns."""
        return {
            "id": self.id,
            "question": self.question,
            "choices": self.choices,
            "answer": self.answer,
            "answer_letter": self.answer_letter,
            "task": self.task,
            "source": self.source,
        }
