"""The generation interface shared by GRPO rollouts and evaluation, so that a vLLM backend can serve both
without touching the loss."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import torch


@dataclass(frozen=True)
class SamplingConfig:
    """Every decoding option explicit: the checkpoint's generation_config (repetition_penalty 1.05, top_k 1
    for Qwen2-VL-2B) is never consulted."""

    max_new_tokens: int = 700
    do_sample: bool = True
    temperature: float = 1.0
    top_k: int = 0  # 0 = off
    top_p: float = 1.0
    repetition_penalty: float = 1.0

    @classmethod
    def greedy(cls, max_new_tokens: int = 1024) -> SamplingConfig:
        return cls(max_new_tokens=max_new_tokens, do_sample=False)


@dataclass
class Rollout:
    """Completions for a batch of prompts, prompt-major: row i*G + g is sample g of prompt i.

    `completion_mask` is 1 up to and including the first stop token, 0 after it; `finished` tells whether a
    stop token was produced at all (else the completion hit max_new_tokens).
    """

    prompt_rows: list[int]
    completion_ids: torch.Tensor
    completion_mask: torch.Tensor
    finished: torch.Tensor
    texts: list[str]

    @property
    def lengths(self) -> torch.Tensor:
        return self.completion_mask.sum(-1)


class GenerationBackend(Protocol):
    def generate(self, prompt_batch: dict, num_samples: int, sampling: SamplingConfig) -> Rollout:
        """Sample `num_samples` completions for every prompt row of `prompt_batch`, in one batched call."""
        ...


class ModelGenerator:
    """What every backend that samples from an in-process model needs: the model and the adapter's token ids
    (where to stop, what to pad with, what never to sample)."""

    def __init__(self, model, adapter, processor) -> None:
        self.model = model
        self.adapter = adapter
        self.processor = processor
        self.stop_ids = adapter.stop_token_ids(processor)
        self.pad_id = adapter.pad_token_id(processor)
        self.banned_ids = adapter.never_sample_ids(processor)
