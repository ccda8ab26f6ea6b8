"""The output head and the GRPO loss in one chunked pass, with the gradients produced in the forward pass.

The unfused policy pass (`chunked_token_logprobs` then `grpo_loss`) multiplies the hidden states by the
vocabulary-sized head four times per token: the forward, the checkpointed chunk's recomputation in the backward
pass, and the two backward products, plus two log-softmax passes. But each token's loss term depends only on that
token's log-prob (`objective.per_token_loss`) and the aggregation is a fixed weighted sum
(`objective.aggregation_weights`), so dLoss/dlogp is known as soon as a chunk's log-probs are. Each chunk then
computes logits -> log-sum-exp -> log-prob -> dLoss/dlogp -> dLoss/dlogits -> the gradients of its hidden states
and of the head, and drops its logits: three head products and one pass of exponentials per token. The gradients
are handed to autograd by a custom Function (scaled by the incoming gradient, so loss scaling and gradient
accumulation behave as usual). Tokens off the mask have zero weight and are never computed.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from visualthinker.grpo.objective import (
    CHUNK_LOGIT_ELEMENTS,
    LossAggregation,
    LossOutput,
    aggregation_weights,
    per_token_loss,
    token_stats,
)


class _HeadLoss(torch.autograd.Function):
    """loss(hidden, weight, bias) for the selected tokens; the gradients are computed in forward and saved."""

    @staticmethod
    def forward(ctx, hidden: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, tokens: torch.Tensor,
                token_weights: torch.Tensor, old_logp: torch.Tensor | None, ref_logp: torch.Tensor | None,
                advantages: torch.Tensor, settings: dict, temperature: float, step: int) -> tuple[torch.Tensor, ...]:
        n = hidden.shape[0]
        want_w = ctx.needs_input_grad[1]
        want_b = bias is not None and ctx.needs_input_grad[2]
        grad_hidden = torch.empty_like(hidden)
        grad_weight = torch.zeros_like(weight) if want_w else None
        grad_bias = torch.zeros_like(bias) if want_b else None
        loss = torch.zeros((), dtype=torch.float32, device=hidden.device)
        stats = torch.zeros(3, dtype=torch.float32, device=hidden.device)
        for start in range(0, n, step):
            sl = slice(start, start + step)
            h, t = hidden[sl], tokens[sl]
            logits = F.linear(h, weight, bias).float()  # a fresh tensor: scaled and reused in place below
            if temperature != 1.0:
                logits.div_(temperature)
            # log-sum-exp by hand so that the exponentials are computed once, in place, and reused for softmax
            top = logits.amax(dim=-1, keepdim=True)
            target = logits.gather(-1, t.unsqueeze(-1)).squeeze(-1)
            exp = logits.sub_(top).exp_()
            total = exp.sum(dim=-1)
            logp = target - (top.squeeze(-1) + total.log())
            with torch.enable_grad():
                lp = logp.detach().requires_grad_()
                terms = per_token_loss(lp, None if old_logp is None else old_logp[sl],
                                       None if ref_logp is None else ref_logp[sl], advantages[sl], **settings)
                piece = (terms.loss * token_weights[sl]).sum()
                (g,) = torch.autograd.grad(piece, lp)
            loss += piece.detach()
            stats += token_stats(terms, torch.ones_like(lp, dtype=torch.bool))
            # dlogp/dlogits = onehot - softmax, and the logits were divided by the temperature:
            # dLoss/dlogits_raw = g / T * (onehot - p), built in place over this chunk's logits.
            g = g / temperature
            grad_logits = exp.mul_((-g / total).unsqueeze(-1))
            grad_logits.scatter_add_(-1, t.unsqueeze(-1), g.unsqueeze(-1))
            grad_logits = grad_logits.to(weight.dtype)
            grad_hidden[sl] = (grad_logits @ weight).to(hidden.dtype)
            if want_w:
                grad_weight.addmm_(grad_logits.T, h.to(weight.dtype))
            if want_b:
                grad_bias += grad_logits.sum(0).to(bias.dtype)
        ctx.save_for_backward(grad_hidden, grad_weight, grad_bias)
        ctx.mark_non_differentiable(stats)
        return loss, stats

    @staticmethod
    def backward(ctx, grad_loss: torch.Tensor, _grad_stats: torch.Tensor):
        # Scaled in place: no second vocabulary-sized buffer. A second backward through the same graph
        # (retain_graph=True) then fails on the saved tensors' version check instead of scaling them twice.
        grads = [None if g is None else g.mul_(grad_loss.to(g.dtype)) for g in ctx.saved_tensors]
        return (*grads, None, None, None, None, None, None, None, None)


def fused_head_grpo_loss(
    hidden: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    tokens: torch.Tensor,
    old_logp: torch.Tensor | None,
    ref_logp: torch.Tensor | None,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    temperature: float = 1.0,
    beta: float = 0.04,
    epsilon_low: float = 0.2,
    epsilon_high: float = 0.2,
    aggregation: LossAggregation = "grpo",
    token_normalizer: float | None = None,
    max_completion_length: int | None = None,
    max_elements: int = CHUNK_LOGIT_ELEMENTS,
) -> LossOutput:
    """`grpo_loss(token_logprobs(F.linear(hidden, weight, bias), tokens, temperature), ...)` with the same value,
    gradients (to `hidden`, `weight`, `bias`) and metrics, computed a bounded chunk of tokens at a time.

    `hidden` is (B, T, H) aligned so that hidden[:, t] predicts tokens[:, t]; the other arguments are those of
    `grpo_loss`. At most `max_elements` fp32 logits (and their gradient, in place) are alive at once.
    """
    if beta != 0.0 and ref_logp is None:
        raise ValueError("beta > 0 needs reference log-probs")
    B, T = tokens.shape
    token_weights = aggregation_weights(mask, aggregation, token_normalizer, max_completion_length)
    keep = (mask.reshape(-1) > 0).nonzero().squeeze(1)

    def pick(x: torch.Tensor | None) -> torch.Tensor | None:
        return None if x is None else x.reshape(B * T)[keep].detach().float()

    per_token_advantages = advantages.detach().float().unsqueeze(1).expand(B, T)
    settings = {"beta": beta, "epsilon_low": epsilon_low, "epsilon_high": epsilon_high}
    step = max(1, max_elements // max(weight.shape[0], 1))
    loss, stats = _HeadLoss.apply(hidden.reshape(B * T, -1)[keep], weight, bias, tokens.reshape(B * T)[keep],
                                  pick(token_weights), pick(old_logp), pick(ref_logp), pick(per_token_advantages),
                                  settings, temperature, step)
    return LossOutput.from_stats(loss, stats)
