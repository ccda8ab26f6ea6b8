"""An SFT micro-batch: prompt and completion tokenised separately and concatenated (the completion's tokens are
exactly those the model generates after the prompt at evaluation and RL time), right-padded, with labels that
never include padding or vision tokens, and include the prompt only with loss_on=all."""

from __future__ import annotations

import torch

from visualthinker.sft.data import SFTExample

IGNORE = -100


def collate(examples: list[SFTExample], adapter, processor, loss_on: str, max_pixels: int | None,
            min_pixels: int | None) -> dict[str, torch.Tensor]:
    """Model inputs plus `labels` (IGNORE where no loss) for a list of examples."""
    images = [ex.record.load_images(max_pixels, min_pixels) for ex in examples]
    prompts = adapter.encode(processor, [ex.prompt for ex in examples], images)  # left padded
    tokenizer = processor.tokenizer
    completions = [tokenizer(ex.completion, add_special_tokens=False)["input_ids"] for ex in examples]
    has_types = "mm_token_type_ids" in prompts
    rows, types, prompt_lengths = [], [], []
    for i, completion in enumerate(completions):
        keep = prompts["attention_mask"][i].bool()
        prompt_ids = prompts["input_ids"][i][keep]
        rows.append(torch.cat([prompt_ids, torch.tensor(completion, dtype=prompt_ids.dtype)]))
        prompt_lengths.append(len(prompt_ids))
        if has_types:
            prompt_types = prompts["mm_token_type_ids"][i][keep]
            types.append(torch.cat([prompt_types, torch.zeros(len(completion), dtype=prompt_types.dtype)]))
    width = max(len(r) for r in rows)
    pad_id = adapter.pad_token_id(processor)
    input_ids = torch.full((len(rows), width), pad_id, dtype=rows[0].dtype)
    attention = torch.zeros((len(rows), width), dtype=torch.long)
    labels = torch.full((len(rows), width), IGNORE, dtype=rows[0].dtype)
    vision = torch.tensor(adapter.vision_token_ids(processor))
    for i, row in enumerate(rows):
        input_ids[i, :len(row)] = row
        attention[i, :len(row)] = 1
        target = row.clone()
        if loss_on == "completion":
            target[:prompt_lengths[i]] = IGNORE
        target[torch.isin(row, vision)] = IGNORE
        labels[i, :len(row)] = target
    batch = {"input_ids": input_ids, "attention_mask": attention, "labels": labels}
    if has_types:
        mm = torch.zeros((len(rows), width), dtype=types[0].dtype)
        for i, t in enumerate(types):
            mm[i, :len(t)] = t
        batch["mm_token_type_ids"] = mm
    if prompts.get("pixel_values") is not None:
        batch["pixel_values"] = prompts["pixel_values"]
        batch["image_grid_thw"] = prompts["image_grid_thw"]
    return batch
