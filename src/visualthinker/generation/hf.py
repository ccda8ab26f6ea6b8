"""Generation with transformers' `generate` (CPU or GPU, any accelerate setup).

Decoding is exactly what the SamplingConfig says, whatever the checkpoint's generation_config.json says.
transformers (5.24, `_prepare_generation_config`) fills every field of the passed GenerationConfig that is None
from the model's `generation_config` - for Qwen2-VL-2B top_k 1, top_p 0.001, temperature 0.1,
repetition_penalty 1.05, which makes the G samples of a prompt identical. So every decoding field is set to a
value (top_k 0 and top_p 1.0 are "off" to transformers, never None), and during the call the model's own
generation_config is replaced by a blank one, so that no field the checkpoint sets can reach `generate`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from transformers import GenerationConfig

from visualthinker.generation.base import ModelGenerator, Rollout, SamplingConfig
from visualthinker.grpo.objective import completion_mask_from_stops


class HFGenerator(ModelGenerator):
    """Batched sampling from a transformers model: the G samples of every prompt come from one call."""

    def __init__(self, model, adapter, processor, synced_gpus: bool = False) -> None:
        super().__init__(model, adapter, processor)
        self.synced_gpus = synced_gpus  # FSDP / ZeRO-3: every rank must keep stepping until all are done

    def generation_config(self, sampling: SamplingConfig, num_samples: int) -> GenerationConfig:
        """The complete decoding config: no field left None for the checkpoint to fill."""
        if sampling.do_sample:
            warpers = dict(temperature=sampling.temperature, top_k=sampling.top_k, top_p=sampling.top_p)
        else:  # greedy: no warper is applied; these are the values transformers' validation calls neutral
            warpers = dict(temperature=1.0, top_k=50, top_p=1.0)
        return GenerationConfig(
            max_new_tokens=sampling.max_new_tokens, min_new_tokens=0, do_sample=sampling.do_sample, num_beams=1,
            num_return_sequences=num_samples, eos_token_id=self.stop_ids, pad_token_id=self.pad_id,
            suppress_tokens=self.banned_ids, repetition_penalty=sampling.repetition_penalty,
            no_repeat_ngram_size=0, typical_p=1.0, epsilon_cutoff=0.0, eta_cutoff=0.0, length_penalty=1.0,
            bos_token_id=None, use_cache=True, **warpers,
        )

    @torch.no_grad()
    def generate(self, prompt_batch: dict, num_samples: int, sampling: SamplingConfig) -> Rollout:
        inputs = {k: v for k, v in prompt_batch.items() if k != "num_images"}
        device = next(self.model.parameters()).device
        inputs = {k: v.to(device) for k, v in inputs.items()}
        with _without_checkpoint_defaults(self.model):
            out = self.model.generate(**inputs, generation_config=self.generation_config(sampling, num_samples),
                                      synced_gpus=self.synced_gpus)
        prompt_len = inputs["input_ids"].shape[1]
        completion_ids = out[:, prompt_len:].cpu()
        mask, finished = completion_mask_from_stops(completion_ids, self.stop_ids)
        completion_ids = completion_ids.masked_fill(mask == 0, self.pad_id)
        texts = self.processor.tokenizer.batch_decode(completion_ids * mask + self.pad_id * (1 - mask),
                                                      skip_special_tokens=True)
        rows = [i for i in range(inputs["input_ids"].shape[0]) for _ in range(num_samples)]
        return Rollout(prompt_rows=rows, completion_ids=completion_ids, completion_mask=mask,
                       finished=finished, texts=texts)


@contextlib.contextmanager
def _without_checkpoint_defaults(model) -> Iterator[None]:
    """Hide the checkpoint's generation_config during a call (it stays on the model, and in saved checkpoints)."""
    owner = model.get_base_model() if hasattr(model, "get_base_model") else model  # peft: the inner model generates
    saved = owner.generation_config
    owner.generation_config = GenerationConfig()
    try:
        yield
    finally:
        owner.generation_config = saved
