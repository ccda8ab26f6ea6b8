"""Generation with transformers' `generate` (CPU or GPU, any accelerate setup)."""

from __future__ import annotations

import torch
from transformers import GenerationConfig

from visualthinker.generation.base import Rollout, SamplingConfig
from visualthinker.grpo.objective import completion_mask_from_stops


class HFGenerator:
    """Batched sampling from a transformers model: the G samples of every prompt come from one call."""

    def __init__(self, model, adapter, processor, synced_gpus: bool = False) -> None:
        self.model = model
        self.adapter = adapter
        self.processor = processor
        self.stop_ids = adapter.stop_token_ids(processor)
        self.pad_id = adapter.pad_token_id(processor)
        self.banned_ids = adapter.never_sample_ids(processor)
        self.synced_gpus = synced_gpus  # FSDP / ZeRO-3: every rank must keep stepping until all are done

    def generation_config(self, sampling: SamplingConfig, num_samples: int) -> GenerationConfig:
        kwargs = dict(
            max_new_tokens=sampling.max_new_tokens, do_sample=sampling.do_sample,
            num_return_sequences=num_samples, eos_token_id=self.stop_ids, pad_token_id=self.pad_id,
            suppress_tokens=self.banned_ids, repetition_penalty=sampling.repetition_penalty,
            bos_token_id=None, use_cache=True,
        )
        if sampling.do_sample:
            kwargs.update(temperature=sampling.temperature, top_k=sampling.top_k or None, top_p=sampling.top_p)
        else:
            kwargs.update(temperature=None, top_k=None, top_p=None)
        return GenerationConfig(**kwargs)

    @torch.no_grad()
    def generate(self, prompt_batch: dict, num_samples: int, sampling: SamplingConfig) -> Rollout:
        inputs = {k: v for k, v in prompt_batch.items() if k != "num_images"}
        device = next(self.model.parameters()).device
        inputs = {k: v.to(device) for k, v in inputs.items()}
        out = self.model.generate(
            **inputs, generation_config=self.generation_config(sampling, num_samples), synced_gpus=self.synced_gpus
        )
        prompt_len = inputs["input_ids"].shape[1]
        completion_ids = out[:, prompt_len:].cpu()
        mask, finished = completion_mask_from_stops(completion_ids, self.stop_ids)
        completion_ids = completion_ids.masked_fill(mask == 0, self.pad_id)
        texts = self.processor.tokenizer.batch_decode(completion_ids * mask + self.pad_id * (1 - mask),
                                                      skip_special_tokens=True)
        rows = [i for i in range(inputs["input_ids"].shape[0]) for _ in range(num_samples)]
        return Rollout(prompt_rows=rows, completion_ids=completion_ids, completion_mask=mask,
                       finished=finished, texts=texts)
