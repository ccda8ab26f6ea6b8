"""One micro-batch of experience: prompts -> G sampled completions each -> rewards -> group advantages ->
reference (and old-policy) log-probs. Every completion row stays aligned with its own prompt, image, solution
and group: row i*G + g is sample g of prompt i, everywhere."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from visualthinker.data.record import Record
from visualthinker.generation.base import GenerationBackend, SamplingConfig
from visualthinker.grpo.fused_head import fused_head_grpo_loss
from visualthinker.grpo.objective import LossOutput, chunked_token_logprobs, group_advantages, grpo_loss
from visualthinker.models.adapter import QwenVLAdapter
from visualthinker.models.shared_prefix import (
    PROMPT_KEYS,
    call_as_forward,
    causal_lm,
    completion_hidden,
    unwrap_launcher,
)
from visualthinker.prompts import PromptSpec
from visualthinker.trainer.guards import reward_tensor


@dataclass
class Experience:
    records: list[Record]
    prompt_texts: list[str]
    inputs: dict[str, torch.Tensor]  # prompt + completion model inputs, one row per completion
    completion_ids: torch.Tensor
    completion_mask: torch.Tensor
    finished: torch.Tensor
    texts: list[str]
    reward_values: dict[str, torch.Tensor]  # name -> (N,)
    rewards: torch.Tensor  # weighted sum, (N,)
    advantages: torch.Tensor
    ref_logp: torch.Tensor | None = None
    old_logp: torch.Tensor | None = None
    thumbnails: list[Any] | None = None
    prompt_inputs: dict[str, torch.Tensor] | None = None  # one row per prompt (the shared-prefix path)
    group_size: int = 1

    @property
    def num_completions(self) -> int:
        return self.completion_ids.shape[0]


def policy_logprobs(model, inputs: dict[str, torch.Tensor], completion_ids: torch.Tensor,
                    temperature: float) -> torch.Tensor:
    """Per-token log-probs of the completion under `model` (the plain path: every row carries its prompt).

    Only the completion positions' logits are built, and their log-softmax runs a bounded chunk at a time."""
    T = completion_ids.shape[1]
    logits = model(**inputs, logits_to_keep=T + 1, use_cache=False).logits[:, :-1]
    return chunked_token_logprobs(logits, completion_ids, lambda x: x, logits.shape[-1], temperature)


def shared_prefix_logprobs(model, prompt_inputs: dict[str, torch.Tensor], completion_ids: torch.Tensor,
                           completion_mask: torch.Tensor, group_size: int, temperature: float) -> torch.Tensor:
    """The same log-probs with each prompt computed once for its G completions (models/shared_prefix.py);
    the output head runs a bounded chunk of tokens at a time."""

    def head_logprobs(hidden, head, completion_ids, completion_mask):
        return chunked_token_logprobs(hidden, completion_ids, head, head.out_features, temperature)

    return _shared_pass(model, prompt_inputs, completion_ids, completion_mask, group_size, head_logprobs)


def _shared_pass(model, prompt_inputs: dict[str, torch.Tensor], completion_ids: torch.Tensor,
                 completion_mask: torch.Tensor, group_size: int, on_hidden):
    """`on_hidden(hidden, lm_head, completion_ids, completion_mask)` on the completions' shared-prefix hidden
    states, the whole pass (output head included) run as the forward of `model` as the launch prepared it (DDP,
    a DeepSpeed engine, FSDP2, peft), so the wrapper syncs gradients and gathers weights as for the plain path."""

    def forward(hf_model, completion_ids, completion_mask, **prompt):
        hidden = completion_hidden(hf_model, prompt, completion_ids, completion_mask, group_size)
        return on_hidden(hidden, hf_model.lm_head, completion_ids, completion_mask)

    prompt = {k: prompt_inputs[k] for k in PROMPT_KEYS if prompt_inputs.get(k) is not None}
    return call_as_forward(model, forward, **prompt, completion_ids=completion_ids, completion_mask=completion_mask)


def policy_loss(model, exp: Experience, temperature: float, shared_prefix: bool, fused_head: bool = True,
                **loss_settings) -> LossOutput:
    """The GRPO loss of `exp` under `model`, with gradients; `loss_settings` are `grpo_loss`'s keyword arguments.

    On the shared-prefix path with `fused_head` and a plain linear output head, the head and the loss run fused
    (grpo/fused_head.py: three head products per token instead of four, the same loss and gradients), as the
    forward of `model` like the shared log-prob passes; otherwise the log-probs are computed first and
    `grpo_loss` applied to them."""
    head = causal_lm(unwrap_launcher(model)).lm_head
    # a LoRA-wrapped head has its own forward, which the unfused path runs
    if not (shared_prefix and fused_head and type(head) is torch.nn.Linear):
        logp = experience_logprobs(model, exp, temperature, shared_prefix)
        return grpo_loss(logp, exp.old_logp, exp.ref_logp, exp.advantages, exp.completion_mask, **loss_settings)

    def head_loss(hidden, head, completion_ids, completion_mask):
        out = fused_head_grpo_loss(hidden, head.weight, head.bias, completion_ids, exp.old_logp, exp.ref_logp,
                                   exp.advantages, completion_mask, temperature, **loss_settings)
        return out.loss, out.kl, out.clip_ratio  # tensors: what a launch wrapper passes back from a forward

    loss, kl, clip_ratio = _shared_pass(model, exp.prompt_inputs, exp.completion_ids, exp.completion_mask,
                                        exp.group_size, head_loss)
    return LossOutput(loss=loss, kl=kl, clip_ratio=clip_ratio)


def experience_logprobs(model, exp: Experience, temperature: float, shared_prefix: bool) -> torch.Tensor:
    if shared_prefix:
        return shared_prefix_logprobs(model, exp.prompt_inputs, exp.completion_ids, exp.completion_mask,
                                      exp.group_size, temperature)
    return policy_logprobs(model, exp.inputs, exp.completion_ids, temperature)


class ExperienceMaker:
    def __init__(self, adapter: QwenVLAdapter, processor, generator: GenerationBackend, prompt_spec: PromptSpec,
                 sampling: SamplingConfig, num_generations: int, reward_fns: dict[str, Any],
                 reward_weights: dict[str, float], scale_rewards: bool, advantage_eps: float,
                 min_pixels: int, max_pixels: int) -> None:
        self.adapter = adapter
        self.processor = processor
        self.generator = generator
        self.prompt_spec = prompt_spec
        self.sampling = sampling
        self.G = num_generations
        self.reward_fns = reward_fns
        self.reward_weights = reward_weights
        self.scale_rewards = scale_rewards
        self.advantage_eps = advantage_eps
        self.min_pixels = min_pixels
        self.max_pixels = max_pixels

    def prompts(self, records: list[Record]) -> tuple[list[str], dict, list[list]]:
        images = [r.load_images(self.max_pixels, self.min_pixels) for r in records]
        texts = [self.adapter.render_prompt(self.processor, self.prompt_spec, r.prompt, len(im))
                 for r, im in zip(records, images, strict=True)]
        return texts, self.adapter.encode(self.processor, texts, images), images

    def score(self, records: list[Record], texts: list[str], lengths: list[int]) -> dict[str, torch.Tensor]:
        columns: dict[str, list] = {}
        for record in records:
            for key, value in record.columns().items():
                columns.setdefault(key, []).extend([value] * self.G)
        columns["completion_tokens"] = lengths
        columns["prefills_think"] = [self.prompt_spec.prefills_think] * len(texts)
        out = {}
        for name, fn in self.reward_fns.items():
            out[name] = reward_tensor(name, fn(texts, **columns), len(texts))
        return out

    def make(self, records: list[Record], device: torch.device) -> Experience:
        prompt_texts, batch, images = self.prompts(records)
        rollout = self.generator.generate(batch, self.G, self.sampling)
        scored = [self.prompt_spec.scored_text(t) for t in rollout.texts]
        reward_values = self.score(records, scored, rollout.lengths.tolist())
        total = sum(self.reward_weights[name] * v for name, v in reward_values.items())
        advantages = group_advantages(total, self.G, self.scale_rewards, self.advantage_eps)
        rows = self.adapter.select_rows(batch, rollout.prompt_rows)
        inputs = self.adapter.with_completions(rows, rollout.completion_ids, rollout.completion_mask)
        inputs = {k: v.to(device) for k, v in inputs.items()}
        return Experience(
            records=records, prompt_texts=prompt_texts, inputs=inputs,
            completion_ids=rollout.completion_ids.to(device), completion_mask=rollout.completion_mask.to(device),
            finished=rollout.finished, texts=rollout.texts, reward_values=reward_values, rewards=total,
            advantages=advantages.to(device), thumbnails=[im[0] if im else None for im in images],
            prompt_inputs={k: v.to(device) for k, v in batch.items() if k != "num_images"}, group_size=self.G,
        )
