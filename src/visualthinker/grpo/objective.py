"""GRPO as pure tensor functions, in the order of the paper's method.

Notation: B = number of completions (prompts x G), T = completion length. `mask` is 1 on completion tokens up
to and including the first stop token. All functions are free of I/O and model code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import torch
from torch.utils.checkpoint import checkpoint

LossAggregation = Literal["grpo", "token_mean", "dr_grpo", "bnpo"]
LOSS_AGGREGATIONS: tuple[str, ...] = ("grpo", "token_mean", "dr_grpo", "bnpo")


def completion_mask_from_stops(completion_ids: torch.Tensor, stop_ids: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Mask that ends at the first of ANY stop id (inclusive), and whether a stop id occurred.

    The original code stopped the mask only at `eos_token_id` (<|im_end|>), so completions ending in
    <|endoftext|> kept their padding in the loss and in the length metric.
    """
    is_stop = torch.isin(completion_ids, torch.tensor(stop_ids, device=completion_ids.device))
    finished = is_stop.any(dim=1)
    T = completion_ids.shape[1]
    first_stop = torch.where(finished, is_stop.int().argmax(dim=1), torch.full_like(finished, T, dtype=torch.long))
    positions = torch.arange(T, device=completion_ids.device).expand_as(completion_ids)
    mask = (positions <= first_stop.unsqueeze(1)).long()
    return mask, finished


def group_advantages(rewards: torch.Tensor, group_size: int, scale_std: bool = True, eps: float = 1e-4) -> torch.Tensor:
    """A_i = (r_i - mean_group) / (std_group + eps); std is the unbiased sample std, as in the paper's code.

    With `scale_std=False` (Dr. GRPO) only the group mean is subtracted.
    """
    grouped = rewards.view(-1, group_size)
    centered = grouped - grouped.mean(dim=1, keepdim=True)
    if scale_std:
        std = grouped.std(dim=1, keepdim=True) if group_size > 1 else torch.zeros_like(centered[:, :1])
        centered = centered / (std + eps)
    return centered.reshape(-1)


def token_logprobs(logits: torch.Tensor, tokens: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """log p(token_t | prefix) for each position; `logits` are aligned so that logits[:, t] predicts tokens[:, t].

    Dividing by the sampling temperature makes the log-probs those of the distribution that was sampled.
    """
    logits = logits.float()
    if temperature != 1.0:
        logits = logits / temperature
    return torch.log_softmax(logits, dim=-1).gather(-1, tokens.unsqueeze(-1)).squeeze(-1)


# About 256 MiB of fp32 logits per chunk: with the 151 936-token Qwen vocabulary that is ~440 tokens at a time.
CHUNK_LOGIT_ELEMENTS = 1 << 26


def chunked_token_logprobs(features: torch.Tensor, tokens: torch.Tensor, to_logits: Callable[[torch.Tensor], torch.Tensor],
                           vocab_size: int, temperature: float = 1.0,
                           max_elements: int = CHUNK_LOGIT_ELEMENTS) -> torch.Tensor:
    """`token_logprobs(to_logits(features), tokens)` computed a bounded number of tokens at a time.

    `features` is (B, T, ...) (logits themselves with `to_logits` the identity, or hidden states with `to_logits`
    the output head). Rows of a softmax are independent, so the values are exactly those of the unchunked call.
    Under autograd each chunk is checkpointed: its logits and log-softmax are rebuilt in the backward pass
    instead of being kept, so no more than one chunk of full-vocabulary fp32 values is ever alive.
    """
    B, T = tokens.shape
    flat = features.reshape(B * T, *features.shape[2:])
    flat_tokens = tokens.reshape(B * T)
    step = max(1, max_elements // max(vocab_size, 1))

    def piece(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return token_logprobs(to_logits(x), t, temperature)

    grad = torch.is_grad_enabled()
    parts = []
    for start in range(0, B * T, step):
        x, t = flat[start:start + step], flat_tokens[start:start + step]
        if grad and step < B * T:
            parts.append(checkpoint(piece, x, t, use_reentrant=False))
        else:
            parts.append(piece(x, t))
    return torch.cat(parts).view(B, T)


def kl_k3(logp: torch.Tensor, ref_logp: torch.Tensor) -> torch.Tensor:
    """Schulman's k3 estimator of KL(policy || reference): exp(ref - logp) - (ref - logp) - 1 (>= 0)."""
    delta = ref_logp - logp
    return torch.exp(delta) - delta - 1


@dataclass
class LossOutput:
    loss: torch.Tensor
    kl: torch.Tensor  # mean per-token KL over masked tokens (detached)
    clip_ratio: torch.Tensor  # share of masked tokens where the clip was active (detached)

    @classmethod
    def from_stats(cls, loss: torch.Tensor, stats: torch.Tensor) -> LossOutput:
        """`loss` with the means of `token_stats`' sums ([KL, clipped tokens, tokens])."""
        n = stats[2].clamp(min=1)
        return cls(loss=loss, kl=stats[0] / n, clip_ratio=stats[1] / n)


@dataclass
class TokenTerms:
    """The per-token pieces of the loss (each a function of that token's log-prob alone)."""

    loss: torch.Tensor  # -(min(ratio*A, clip(ratio)*A) - beta*KL_k3)
    kl: torch.Tensor
    unclipped: torch.Tensor
    clipped: torch.Tensor


def per_token_loss(logp: torch.Tensor, old_logp: torch.Tensor | None, ref_logp: torch.Tensor | None,
                   advantages: torch.Tensor, beta: float = 0.04, epsilon_low: float = 0.2,
                   epsilon_high: float = 0.2) -> TokenTerms:
    """Per token: -(min(ratio*A, clip(ratio)*A) - beta*KL_k3). `advantages` broadcasts against `logp` ((B,) for
    (B, T) log-probs, or one value per token for a flat selection of tokens).

    Each token's term depends only on its own log-prob (and its old / reference log-prob and advantage), so the
    gradient of the aggregated loss with respect to one log-prob is known token by token
    (grpo/fused_head.py relies on this).
    `old_logp=None` means a single policy iteration (mu = 1): ratio = exp(logp - logp.detach()) = 1, whose
    gradient is the policy gradient, exactly as in the paper's code.
    """
    old = logp.detach() if old_logp is None else old_logp
    ratio = torch.exp(logp - old)
    adv = advantages.unsqueeze(1) if advantages.dim() < logp.dim() else advantages
    unclipped = ratio * adv
    clipped = torch.clamp(ratio, 1 - epsilon_low, 1 + epsilon_high) * adv
    loss = -torch.min(unclipped, clipped)
    kl = torch.zeros_like(logp)
    if beta != 0.0:
        if ref_logp is None:
            raise ValueError("beta > 0 needs reference log-probs")
        kl = kl_k3(logp, ref_logp)
        loss = loss + beta * kl
    return TokenTerms(loss=loss, kl=kl, unclipped=unclipped, clipped=clipped)


def aggregation_weights(mask: torch.Tensor, aggregation: LossAggregation = "grpo",
                        token_normalizer: float | None = None,
                        max_completion_length: int | None = None) -> torch.Tensor:
    """(B, T) weights w such that the aggregated loss is sum(w * per_token_loss); zero off the mask.

      grpo        mean over each sequence's tokens, then over sequences (paper)
      token_mean  sum over all tokens / `token_normalizer` (DAPO: tokens of the whole batch; defaults to local)
      dr_grpo     sum over all tokens / (B * max_completion_length) (Dr. GRPO, constant normaliser)
      bnpo        sum over all tokens / tokens of this micro-batch
    """
    mask = mask.float()
    if aggregation == "grpo":
        return mask / (mask.sum(-1, keepdim=True).clamp(min=1) * mask.shape[0])
    if aggregation == "token_mean":
        return mask / (token_normalizer if token_normalizer else mask.sum().clamp(min=1))
    if aggregation == "dr_grpo":
        if not max_completion_length:
            raise ValueError("dr_grpo needs max_completion_length")
        return mask / (mask.shape[0] * max_completion_length)
    if aggregation == "bnpo":
        return mask / mask.sum().clamp(min=1)
    raise ValueError(f"unknown loss aggregation {aggregation!r}; choose one of {LOSS_AGGREGATIONS}")


def grpo_loss(
    logp: torch.Tensor,
    old_logp: torch.Tensor | None,
    ref_logp: torch.Tensor | None,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    beta: float = 0.04,
    epsilon_low: float = 0.2,
    epsilon_high: float = 0.2,
    aggregation: LossAggregation = "grpo",
    token_normalizer: float | None = None,
    max_completion_length: int | None = None,
) -> LossOutput:
    """sum(aggregation_weights * per_token_loss), with the mean KL and the clipped share of the masked tokens."""
    weights = aggregation_weights(mask, aggregation, token_normalizer, max_completion_length).to(logp.dtype)
    terms = per_token_loss(logp, old_logp, ref_logp, advantages, beta, epsilon_low, epsilon_high)
    loss = (terms.loss * weights).sum()
    with torch.no_grad():
        stats = token_stats(terms, mask > 0)
    return LossOutput.from_stats(loss, stats)


def token_stats(terms: TokenTerms, keep: torch.Tensor) -> torch.Tensor:
    """[sum of KL, number of clipped tokens, number of tokens] over the tokens where `keep` is true.

    A token counts as clipped where the clipped term is the one the min keeps, i.e. where clipping stopped the
    gradient."""
    keep = keep.to(terms.kl.dtype)
    was_clipped = (terms.clipped < terms.unclipped).to(terms.kl.dtype) * keep
    return torch.stack([(terms.kl * keep).sum(), was_clipped.sum(), keep.sum()]).detach()
