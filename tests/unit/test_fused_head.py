"""The fused output-head + GRPO-loss pass equals the unfused one (chunked log-probs, then grpo_loss): loss,
metrics and the gradients of the hidden states, the head weight and its bias, in fp32."""

import pytest
import torch
import torch.nn.functional as F

from visualthinker.grpo.fused_head import fused_head_grpo_loss
from visualthinker.grpo.objective import LOSS_AGGREGATIONS, chunked_token_logprobs, grpo_loss

B, T, H, V = 6, 7, 8, 50


def _case(seed: int, old: bool, beta: float):
    g = torch.Generator().manual_seed(seed)
    hidden = torch.randn(B, T, H, generator=g)
    weight = torch.randn(V, H, generator=g)
    bias = torch.randn(V, generator=g)
    tokens = torch.randint(0, V, (B, T), generator=g)
    lengths = torch.tensor([T, 3, 1, T - 2, 0, 5])  # right padding, one empty completion
    mask = (torch.arange(T).unsqueeze(0) < lengths.unsqueeze(1)).long()
    advantages = torch.randn(B, generator=g)
    with torch.no_grad():
        base = chunked_token_logprobs(hidden, tokens, lambda x: F.linear(x, weight, bias), V, 0.7)
    # old / reference log-probs far enough from the policy's that the clip is active on some tokens
    old_logp = base + 0.5 * torch.randn(B, T, generator=g) if old else None
    ref_logp = base + 0.3 * torch.randn(B, T, generator=g) if beta else None
    return hidden, weight, bias, tokens, mask, advantages, old_logp, ref_logp


def _grads(fn, hidden, weight, bias):
    leaves = [x.detach().clone().requires_grad_() for x in (hidden, weight, bias)]
    out = fn(*leaves)
    (out.loss * 3.0).backward()  # a scaled loss, as accelerate scales it under gradient accumulation
    return out, [x.grad for x in leaves]


@pytest.mark.parametrize("aggregation", LOSS_AGGREGATIONS)
@pytest.mark.parametrize(("old", "beta", "temperature"), [(False, 0.04, 1.0), (True, 0.0, 0.7), (True, 0.04, 1.3)])
def test_fused_equals_unfused(aggregation, old, beta, temperature):
    hidden, weight, bias, tokens, mask, adv, old_logp, ref_logp = _case(0, old, beta)
    kw = dict(beta=beta, epsilon_low=0.2, epsilon_high=0.28, aggregation=aggregation,
              token_normalizer=40.0 if aggregation == "token_mean" else None, max_completion_length=T)

    def unfused(h, w, b):
        logp = chunked_token_logprobs(h, tokens, lambda x: F.linear(x, w, b), V, temperature, max_elements=3 * V)
        return grpo_loss(logp, old_logp, ref_logp, adv, mask, **kw)

    def fused(h, w, b):
        return fused_head_grpo_loss(h, w, b, tokens, old_logp, ref_logp, adv, mask, temperature,
                                    max_elements=4 * V, **kw)

    ref_out, ref_grads = _grads(unfused, hidden, weight, bias)
    out, grads = _grads(fused, hidden, weight, bias)
    torch.testing.assert_close(out.loss, ref_out.loss, rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(out.kl, ref_out.kl, rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(out.clip_ratio, ref_out.clip_ratio, rtol=1e-5, atol=1e-7)
    if old:
        assert 0 < ref_out.clip_ratio < 1, "the case must exercise the clip"
    for got, want in zip(grads, ref_grads, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)
    assert grads[0][mask == 0].abs().max() == 0  # padding gets no gradient


def test_frozen_head_and_no_bias():
    hidden, weight, bias, tokens, mask, adv, old_logp, ref_logp = _case(1, False, 0.04)
    h = hidden.clone().requires_grad_()
    out = fused_head_grpo_loss(h, weight, None, tokens, None, ref_logp, adv, mask, max_elements=V)
    out.loss.backward()
    h2 = hidden.clone().requires_grad_()
    logp = chunked_token_logprobs(h2, tokens, lambda x: F.linear(x, weight), V)
    grpo_loss(logp, None, ref_logp, adv, mask).loss.backward()
    torch.testing.assert_close(h.grad, h2.grad, rtol=1e-5, atol=1e-6)


def test_gradients_accumulate_on_the_parameter():
    hidden, weight, bias, tokens, mask, adv, _, ref_logp = _case(2, False, 0.04)
    head = torch.nn.Linear(H, V)
    with torch.no_grad():
        head.weight.copy_(weight)
        head.bias.copy_(bias)
    for _ in range(2):
        fused_head_grpo_loss(hidden, head.weight, head.bias, tokens, None, ref_logp, adv, mask).loss.backward()
    once = head.weight.grad.clone() / 2
    head.zero_grad()
    fused_head_grpo_loss(hidden, head.weight, head.bias, tokens, None, ref_logp, adv, mask).loss.backward()
    torch.testing.assert_close(head.weight.grad, once)
    assert head.weight.grad.abs().sum() > 0


def test_beta_needs_reference():
    hidden, weight, bias, tokens, mask, adv, _, _ = _case(3, False, 0.0)
    with pytest.raises(ValueError, match="reference"):
        fused_head_grpo_loss(hidden, weight, bias, tokens, None, None, adv, mask, beta=0.04)


def test_tied_embedding_and_head():
    """Qwen2-VL-2B ties its input embedding and output head: both uses' gradients reach the one parameter."""
    g = torch.Generator().manual_seed(4)
    emb = torch.nn.Embedding(V, H)
    mix = torch.randn(H, H, generator=g) / H ** 0.5
    inputs = torch.randint(0, V, (B, T), generator=g)
    tokens = torch.randint(0, V, (B, T), generator=g)
    mask = torch.ones(B, T, dtype=torch.long)
    mask[1, 4:] = 0
    adv = torch.randn(B, generator=g)
    with torch.no_grad():
        ref = chunked_token_logprobs(torch.tanh(emb(inputs) @ mix), tokens, lambda x: F.linear(x, emb.weight), V)
    grads = []
    for fused in (False, True):
        emb.zero_grad()
        hidden = torch.tanh(emb(inputs) @ mix)
        if fused:
            loss = fused_head_grpo_loss(hidden, emb.weight, None, tokens, None, ref - 0.1, adv, mask).loss
        else:
            logp = chunked_token_logprobs(hidden, tokens, lambda x: F.linear(x, emb.weight), V)
            loss = grpo_loss(logp, None, ref - 0.1, adv, mask).loss
        loss.backward()
        grads.append(emb.weight.grad.clone())
    torch.testing.assert_close(grads[1], grads[0], rtol=1e-5, atol=1e-7)


def test_runs_under_bf16_autocast():
    hidden, weight, bias, tokens, mask, adv, _, ref_logp = _case(5, False, 0.04)
    h, w = hidden.clone().requires_grad_(), weight.clone().requires_grad_()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = fused_head_grpo_loss(h, w, None, tokens, None, ref_logp, adv, mask)
    out.loss.backward()
    assert out.loss.dtype == torch.float32 and torch.isfinite(out.loss)
    assert h.grad.dtype == h.dtype and w.grad.dtype == w.dtype and w.grad.abs().sum() > 0
