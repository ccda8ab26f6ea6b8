"""From records to SFT examples: the prompt as the model sees it, the target it must produce, and the token
length (for length-grouped batches and the max_seq_length check, computed without encoding the images)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from visualthinker.data.record import Record
from visualthinker.errors import DataError
from visualthinker.jsonl import iter_objects
from visualthinker.prompts import PromptSpec
from visualthinker.sft.config import SFTConfig


@dataclass
class SFTExample:
    record: Record
    prompt: str  # rendered, with one vision placeholder per image
    completion: str  # target + completion_suffix
    length: int  # prompt + completion tokens, image tokens included


def prompt_spec(config: SFTConfig) -> PromptSpec:
    if config.template == "chat":  # the original SFT: the SAT question (with its "<image>") in the user turn
        return PromptSpec("instruct", literal_image_tag=config.literal_image_tag, instruct_suffix="")
    return PromptSpec(config.template, literal_image_tag=config.literal_image_tag)


def load_completions(path: str) -> dict[str, str]:
    """{"id": ..., "completion": ...} lines; a line without both, or an id twice, is an error naming the line."""
    out: dict[str, str] = {}
    for n, row in iter_objects(Path(path), label=f"completions file {path}"):
        if not isinstance(row.get("id"), (str, int)) or not isinstance(row.get("completion"), str):
            raise DataError(f"{path} line {n}: needs an \"id\" and a string \"completion\"")
        key = str(row["id"])
        if key in out:
            raise DataError(f"{path} line {n}: id {key!r} appears twice")
        out[key] = row["completion"]
    if not out:
        raise DataError(f"{path} holds no completions")
    return out


def targets(records: list[Record], config: SFTConfig) -> tuple[list[Record], list[str], int]:
    """The records that are trained on, their targets, and how many records had no completion."""
    if config.target == "answer":
        return records, [r.answer for r in records], 0
    completions = load_completions(config.completions)
    ids = {r.id for r in records}
    unknown = [k for k in completions if k not in ids]
    if unknown:
        raise DataError(f"{config.completions}: id {unknown[0]!r} (and {len(unknown) - 1} more) is not in "
                        f"train_data {config.train_data!r}; check train_data, train_split and train_limit")
    kept = [r for r in records if r.id in completions]
    return kept, [completions[r.id] for r in kept], len(records) - len(kept)


def build_examples(records: list[Record], config: SFTConfig, adapter, processor) -> tuple[list[SFTExample], int]:
    """The examples and the number of records left out (no completion for them)."""
    spec = prompt_spec(config)
    kept, texts, skipped = targets(records, config)
    tokenizer = processor.tokenizer
    out = []
    for record, target in zip(kept, texts, strict=True):
        prompt = adapter.render_prompt(processor, spec, record.prompt, len(record.images))
        completion = target + config.completion_suffix
        images = record.load_images(config.max_pixels, config.min_pixels)
        # The rendered prompt holds one <|image_pad|> per image; the processor expands each to its token count.
        vision = sum(adapter.num_image_tokens(processor, im.width, im.height) - 1 for im in images)
        length = (len(tokenizer(prompt, add_special_tokens=False)["input_ids"]) + vision
                  + len(tokenizer(completion, add_special_tokens=False)["input_ids"]))
        if length > config.max_seq_length:
            raise DataError(f"record {record.id!r} is {length} tokens (image tokens included), more than "
                            f"max_seq_length={config.max_seq_length}; raise max_seq_length or lower max_pixels")
        out.append(SFTExample(record, prompt, completion, length))
    if not out:
        raise DataError(f"no SFT examples: train_data {config.train_data!r} gave {len(records)} records, none with "
                        "a target")
    return out, skipped
