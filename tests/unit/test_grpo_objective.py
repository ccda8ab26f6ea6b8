import math

import pytest
import torch

from visualthinker.grpo import completion_mask_from_stops, group_advantages, grpo_loss, kl_k3

IM_END, EOT, PAD = 151645, 151643, 151643


def test_mask_ends_at_first_of_either_stop_id():
    ids = torch.tensor([
        [5, 6, IM_END, PAD, PAD],
        [5, EOT, PAD, PAD, PAD],  # a base model ending on <|endoftext|>: the original kept the padding
        [5, 6, 7, 8, 9],  # truncated: no stop
        [EOT, IM_END, 1, 2, 3],
    ])
    mask, finished = completion_mask_from_stops(ids, [IM_END, EOT])
    assert mask.tolist() == [[1, 1, 1, 0, 0], [1, 1, 0, 0, 0], [1, 1, 1, 1, 1], [1, 0, 0, 0, 0]]
    assert finished.tolist() == [True, True, False, True]
    # with only <|im_end|> (the original defect) the second row would count its padding
    wrong, _ = completion_mask_from_stops(ids, [IM_END])
    assert wrong[1].sum() == 5


def test_group_advantages_match_paper_formula():
    rewards = torch.tensor([2.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 2.0])
    adv = group_advantages(rewards, group_size=4)
    for g in range(2):
        r = rewards[4 * g: 4 * g + 4].tolist()
        mean = sum(r) / 4
        std = math.sqrt(sum((x - mean) ** 2 for x in r) / 3)  # unbiased, as torch.std in the paper's code
        expected = [(x - mean) / (std + 1e-4) for x in r]
        assert adv[4 * g: 4 * g + 4].tolist() == pytest.approx(expected, rel=1e-6)
    flat = group_advantages(torch.ones(4), 4)
    assert flat.abs().max() == 0  # equal rewards give no signal
    no_std = group_advantages(rewards, 4, scale_std=False)
    assert no_std[:4].tolist() == pytest.approx([1.0, -1.0, 0.0, 0.0])


def test_kl_k3_hand_values():
    logp = torch.tensor([-1.0, -2.0])
    ref = torch.tensor([-1.5, -1.0])
    d = ref - logp
    assert kl_k3(logp, ref).tolist() == pytest.approx((torch.exp(d) - d - 1).tolist())
    assert kl_k3(logp, logp).abs().max() == 0


def _batch():
    torch.manual_seed(0)
    logp = (torch.randn(3, 4) * 0.3 - 1.0).requires_grad_(True)
    ref = logp.detach() + torch.randn(3, 4) * 0.1
    adv = torch.tensor([1.0, -0.5, 0.25])
    mask = torch.tensor([[1, 1, 1, 0], [1, 1, 0, 0], [1, 1, 1, 1]], dtype=torch.float32)
    return logp, ref, adv, mask


def _per_token_hand(logp, ref, adv, beta):
    """The paper's per-token loss with mu = 1: ratio = 1, so -(A - beta * KL)."""
    out = []
    for i in range(logp.shape[0]):
        row = []
        for t in range(logp.shape[1]):
            d = float(ref[i, t] - logp[i, t].detach())
            row.append(-(float(adv[i]) - beta * (math.exp(d) - d - 1)))
        out.append(row)
    return out


@pytest.mark.parametrize("aggregation", ["grpo", "token_mean", "dr_grpo", "bnpo"])
def test_loss_variants_against_hand_computation(aggregation):
    logp, ref, adv, mask = _batch()
    beta = 0.04
    per_token = _per_token_hand(logp, ref, adv, beta)
    m = mask.tolist()
    if aggregation == "grpo":
        expected = sum(sum(p * k for p, k in zip(pr, mr, strict=True)) / sum(mr) for pr, mr in zip(per_token, m, strict=True)) / 3
    else:
        total = sum(p * k for pr, mr in zip(per_token, m, strict=True) for p, k in zip(pr, mr, strict=True))
        denom = {"token_mean": 9.0, "bnpo": 9.0, "dr_grpo": 3 * 8}[aggregation]
        expected = total / denom
    out = grpo_loss(logp, None, ref, adv, mask, beta=beta, aggregation=aggregation, max_completion_length=8)
    assert out.loss.item() == pytest.approx(expected, rel=1e-5)
    assert out.clip_ratio.item() == 0.0


def test_gradient_is_policy_gradient_plus_kl_gradient():
    logp, ref, adv, mask = _batch()
    out = grpo_loss(logp, None, ref, adv, mask, beta=0.04, aggregation="grpo")
    out.loss.backward()
    # d/dlogp of -(ratio*A - beta*k3) with ratio = exp(logp - sg(logp)) is -A + beta*(1 - exp(ref - logp))
    expected = (-adv[:, None] + 0.04 * (1 - torch.exp(ref - logp.detach()))) * mask / mask.sum(-1, keepdim=True) / 3
    assert torch.allclose(logp.grad, expected, atol=1e-6)


def test_clipping_with_old_policy():
    logp = torch.tensor([[0.0, 0.0]], requires_grad=True)
    old = torch.tensor([[-0.5, 0.5]])  # ratios e^0.5 = 1.65 (clipped to 1.2) and e^-0.5 = 0.61 (clipped to 0.8)
    mask = torch.ones(1, 2)
    pos = grpo_loss(logp, old, None, torch.tensor([1.0]), mask, beta=0.0, epsilon_low=0.2, epsilon_high=0.2)
    # A > 0: min(r*A, clip(r)*A) -> token 1: 1.2, token 2: 0.607
    assert pos.loss.item() == pytest.approx(-(1.2 + math.exp(-0.5)) / 2, rel=1e-5)
    assert pos.clip_ratio.item() == pytest.approx(0.5)
    neg = grpo_loss(logp, old, None, torch.tensor([-1.0]), mask, beta=0.0, epsilon_low=0.2, epsilon_high=0.28)
    # A < 0: min(-r, -clip(r)) -> token 1: -1.6487, token 2: -0.8
    assert neg.loss.item() == pytest.approx((math.exp(0.5) + 0.8) / 2, rel=1e-5)


def test_beta_needs_reference():
    logp, _, adv, mask = _batch()
    with pytest.raises(ValueError, match="reference"):
        grpo_loss(logp, None, None, adv, mask, beta=0.04)
    assert grpo_loss(logp, None, None, adv, mask, beta=0.0).kl.item() == 0.0
