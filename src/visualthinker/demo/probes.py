"""Probes of a pretrained demo base model before RL: does it *perceive* what the held-out questions ask?

`caption_perception` scores, for each held-out test record, one caption per choice in the corpus's own caption
words ("There are exactly 3 red circles.", "The red circle is to the left of the blue square.", ...) after the
record's image, and counts how often the caption of the correct choice is the most likely one. This reads the
grounding that RL has to elicit, independently of the reply frame (the option-copy probe in pipeline.py) and of
in-context copying (`pretrain.copy_accuracy`). Chance is 1 / number of choices per record.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import torch

from visualthinker.data.record import Record
from visualthinker.demo.corpus import NUMBER_WORDS
from visualthinker.errors import DataError
from visualthinker.generation.base import SamplingConfig
from visualthinker.generation.hf import HFGenerator
from visualthinker.models.adapter import VISION_PLACEHOLDER, get_adapter

_COUNT = re.compile(r"How many (\w+) (\w+)s are in the image\?")
_RELATION = re.compile(r"is the (\w+ \w+) (?:to the left or right of|above or below) the (\w+ \w+)\?")
_DEPTH = re.compile(r"closer to the camera, the (\w+ \w+) or the (\w+ \w+)\?")
_DISTANCE = re.compile(r"closer to the (\w+ \w+), the (\w+ \w+) or the (\w+ \w+)\?")
_SIDE = {"left": "to the left of", "right": "to the right of", "above": "above", "below": "below"}


def choice_captions(record: Record) -> list[str]:
    """One caption per choice (in `record.choices` order), each true exactly when that choice is the answer."""
    q = record.question
    if record.task == "count" and (m := _COUNT.search(q)):
        colour, shape = m.groups()
        return [f"There {'is' if c == '1' else 'are'} exactly {c} {colour} {shape}{'' if c == '1' else 's'}."
                for c in record.choices]
    if record.task == "tally":
        return [f"{c} shape{'' if c == '1' else 's'} in total." for c in record.choices]
    if record.task == "relation" and (m := _RELATION.search(q)):
        a, b = m.groups()
        return [f"The {a} is {_SIDE[c]} the {b}." for c in record.choices]
    if record.task == "depth" and (m := _DEPTH.search(q)):
        x, y = m.groups()
        other = {x: y, y: x}
        return [f"The {c} is closer to the camera than the {other[c]}." for c in record.choices]
    if record.task == "distance" and (m := _DISTANCE.search(q)):
        anchor, x, y = m.groups()
        other = {x: y, y: x}
        return [f"The {c} is closer to the {anchor} than the {other[c]} is." for c in record.choices]
    raise DataError(f"probe: record {record.id} ({record.task}) has a question this probe cannot rephrase as "
                    "captions; use the synthetic set's test split")


def load_for_inference(model_dir: str | Path, min_pixels: int, max_pixels: int) -> tuple[Any, Any, Any]:
    """(adapter, processor, model in eval mode) of a saved model, images bounded by the pixel limits."""
    adapter = get_adapter(str(model_dir))
    processor = adapter.load_processor(str(model_dir), min_pixels, max_pixels)
    return adapter, processor, adapter.load_model(str(model_dir)).eval()


@torch.no_grad()
def caption_perception(model_dir: str | Path, records: list[Record], min_pixels: int, max_pixels: int,
                       frame: str = "{image}Photo: ") -> dict[str, Any]:
    """Share of records whose correct-choice caption is the most likely one, overall and per task, with chance."""
    _, processor, model = load_for_inference(model_dir, min_pixels, max_pixels)
    return perception_of(model, processor, records, frame)


@torch.no_grad()
def perception_of(model, processor, records: list[Record], frame: str = "{image}Photo: ") -> dict[str, Any]:
    """`caption_perception` for a model already in memory (pretraining probes it while it trains)."""
    prefix = frame.format(image=VISION_PLACEHOLDER)
    n_prefix = None
    hits: dict[str, list[float]] = defaultdict(list)
    chance: dict[str, list[float]] = defaultdict(list)
    for record in records:
        captions = choice_captions(record)
        batch = processor(text=[prefix + c for c in captions], images=[record.images[0]] * len(captions),
                          return_tensors="pt", padding=True)
        if n_prefix is None:
            n_prefix = len(processor(text=[prefix], images=[record.images[0]], return_tensors="pt")["input_ids"][0])
        logits = model(**batch, use_cache=False).logits[:, :-1].float()
        targets = batch["input_ids"][:, 1:]
        logp = torch.log_softmax(logits, -1).gather(-1, targets[..., None])[..., 0]
        # left-padded: the caption tokens are the last (length - prefix) ones of each row
        lengths = batch["attention_mask"].sum(1)
        scores = [logp[i, -(int(lengths[i]) - n_prefix):].sum().item() for i in range(len(captions))]
        best = record.choices[max(range(len(scores)), key=scores.__getitem__)]
        hits[record.task].append(float(best == record.answer))
        chance[record.task].append(1 / len(record.choices))
    every = [h for v in hits.values() for h in v]
    return {"accuracy": sum(every) / len(every),
            "chance": sum(c for v in chance.values() for c in v) / len(every),
            "per_task": {t: sum(v) / len(v) for t, v in sorted(hits.items())},
            "per_task_chance": {t: sum(v) / len(v) for t, v in sorted(chance.items())}, "n": len(every)}


@torch.no_grad()
def span_copy_accuracy(model, tokenizer, n: int = 48, seed: int = 0) -> float:
    """In-context copying of corpus-like text: top-1 accuracy on the second occurrence of a fresh random span of
    made-up names and plain words ("Say it three times fast: <span>. <span>."), its first token excluded.

    Unlike `pretrain.copy_accuracy` (random token ids, many of them rare in the corpus) this reads copying on
    the kind of words an option list holds."""
    import random

    from visualthinker.demo.corpus import _random_span

    rng = random.Random(f"span-copy-probe:{seed}")
    hits = total = 0
    for _ in range(n):
        span = _random_span(rng, 4, 10)
        head = tokenizer(f"Say it twice: {span}.", add_special_tokens=False)["input_ids"]
        body = tokenizer(f" {span}.", add_special_tokens=False)["input_ids"]
        ids = torch.tensor([head + body])
        logits = model(input_ids=ids, attention_mask=torch.ones_like(ids), use_cache=False).logits[0]
        start = len(head)  # predictions of body[1:] come from positions start .. start + len(body) - 2
        predicted = logits[start:start + len(body) - 1].argmax(-1)
        hits += int((predicted == ids[0, start + 1:]).sum())
        total += len(body) - 1
    return hits / total


_TOTAL = re.compile(r"That makes (\w+) shapes? in total")


def listed_total(text: str) -> int | None:
    """The total an enumeration caption arrives at ("... That makes five shapes in total."), digits or words."""
    found = _TOTAL.search(text)
    if found is None:
        return None
    word = found.group(1)
    return int(word) if word.isdigit() else NUMBER_WORDS.index(word) if word in NUMBER_WORDS else None


@torch.no_grad()
def counting_by_listing(model, adapter, processor, records: list[Record], max_new_tokens: int = 64,
                        lead: str = "{image}Shape by shape:") -> dict[str, Any]:
    """Does listing pay in the base model? For each tally record: the total read off a greedy enumeration caption
    ("Shape by shape: 1. a red circle; 2. ... That makes N shapes in total."), against the at-a-glance total (the
    most likely of the "N shapes in total." captions, as `perception_of` scores it). Returns both accuracies,
    the share of enumerations that reach a total, and a few examples."""
    tally = [r for r in records if r.task == "tally"]
    if not tally:
        raise DataError("counting_by_listing needs tally records (generate_records(..., tasks=['tally']))")
    generator = HFGenerator(model, adapter, processor)
    prompt = lead.format(image=VISION_PLACEHOLDER)
    listed, finished, examples = [], [], []
    for start in range(0, len(tally), 16):
        chunk = tally[start:start + 16]
        batch = adapter.encode(processor, [prompt] * len(chunk), [[r.images[0]] for r in chunk])
        texts = generator.generate(batch, 1, SamplingConfig.greedy(max_new_tokens)).texts
        for record, text in zip(chunk, texts, strict=True):
            total = listed_total(text)
            finished.append(total is not None)
            listed.append(total is not None and str(total) == record.answer)
            if len(examples) < 4:
                examples.append({"answer": record.answer, "text": text})
    glance = perception_of(model, processor, tally)
    return {"n": len(tally), "listing_accuracy": sum(listed) / len(tally),
            "glance_accuracy": glance["accuracy"], "chance": glance["chance"],
            "listing_reaches_total": sum(finished) / len(tally), "examples": examples}
