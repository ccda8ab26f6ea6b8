"""Batched rollouts and the batched loss against an independent, one-sequence-at-a-time implementation of the
paper's objective: this catches padding, masking and prompt/completion misalignment with several prompts."""

import pytest
import torch

from tests.trainer.conftest import make_records
from visualthinker.generation import HFGenerator, SamplingConfig
from visualthinker.grpo import grpo_loss
from visualthinker.models import get_adapter
from visualthinker.prompts import PromptSpec
from visualthinker.rewards import accuracy_reward, format_reward
from visualthinker.trainer.rollout import ExperienceMaker, policy_logprobs

G = 3


def _always_second(completions, **_):
    return [float(i % G == 1) for i in range(len(completions))]


@pytest.fixture()
def setup(tiny_model_dir):
    torch.manual_seed(0)
    adapter = get_adapter(str(tiny_model_dir))
    processor = adapter.load_processor(str(tiny_model_dir), 3136, 112 * 112)
    policy = adapter.load_model(str(tiny_model_dir))
    ref = adapter.load_model(str(tiny_model_dir))
    with torch.no_grad():  # make the reference differ so that the KL term is not zero
        for p in ref.parameters():
            p.add_(torch.randn_like(p) * 0.02)
    gen = HFGenerator(policy, adapter, processor)
    maker = ExperienceMaker(adapter, processor, gen, PromptSpec(), SamplingConfig(max_new_tokens=12), G,
                            {"accuracy": accuracy_reward, "format": format_reward, "probe": _always_second},
                            {"accuracy": 1.0, "format": 1.0, "probe": 1.0}, True, 1e-4, 3136, 112 * 112)
    return adapter, processor, policy, ref, maker


def test_generation_logprobs_match_reforward_for_each_prompt(setup):
    """Scores from generate (per prompt, sampled in one batched call) equal a re-forward of the aligned rows."""
    adapter, processor, policy, _, maker = setup
    records = make_records(3)
    _, batch, _ = maker.prompts(records)
    inputs = {k: v for k, v in batch.items() if k != "num_images"}
    torch.manual_seed(1)
    out = policy.generate(**inputs, generation_config=maker.generator.generation_config(maker.sampling, G),
                          return_dict_in_generate=True, output_logits=True)
    prompt_len = inputs["input_ids"].shape[1]
    completion = out.sequences[:, prompt_len:]
    gen_logp = torch.log_softmax(torch.stack(out.logits, 1).float(), -1).gather(-1, completion[..., None])[..., 0]
    rows = adapter.select_rows(batch, [i for i in range(3) for _ in range(G)])
    mask = torch.ones_like(completion)
    with torch.no_grad():
        re_logp = policy_logprobs(policy, adapter.with_completions(rows, completion, mask), completion, 1.0)
    assert torch.allclose(gen_logp, re_logp, atol=1e-4)


def test_vision_tokens_never_sampled(setup):
    adapter, processor, policy, _, maker = setup
    banned = torch.tensor(adapter.never_sample_ids(processor))
    with torch.no_grad():  # push the model towards <|image_pad|>: it must still never be produced
        policy.lm_head.weight[banned] += 5.0
    torch.manual_seed(0)
    exp = maker.make(make_records(2), torch.device("cpu"))
    assert not torch.isin(exp.completion_ids, banned).any()


def test_rewards_and_advantages_stay_with_their_group(setup):
    _, _, _, _, maker = setup
    torch.manual_seed(0)
    exp = maker.make(make_records(4), torch.device("cpu"))
    assert exp.num_completions == 4 * G
    probe = exp.reward_values["probe"].view(4, G)
    assert probe.tolist() == [[0.0, 1.0, 0.0]] * 4
    # within each prompt's group, the one rewarded sample gets the positive advantage
    assert (exp.advantages.view(4, G).argmax(dim=1) == 1).all()


def _independent_loss(adapter, processor, policy, ref, exp, beta):
    """The paper's objective computed per completion, unpadded, with explicit loops."""
    losses = []
    for n in range(exp.num_completions):
        i = n // G
        record = exp.records[i]
        single = adapter.encode(processor, [exp.prompt_texts[i]], [record.load_images(112 * 112, 3136)])
        length = int(exp.completion_mask[n].sum())
        completion = exp.completion_ids[n, :length].unsqueeze(0)
        rows = adapter.select_rows(single, [0])
        inputs = adapter.with_completions(rows, completion, torch.ones_like(completion))
        P = rows["input_ids"].shape[1]
        logits = policy(**inputs).logits[0]
        with torch.no_grad():
            ref_logits = ref(**inputs).logits[0]
        per_token = []
        for t in range(length):
            tok = completion[0, t]
            lp = torch.log_softmax(logits[P - 1 + t].float(), -1)[tok]
            rlp = torch.log_softmax(ref_logits[P - 1 + t].float(), -1)[tok]
            kl = torch.exp(rlp - lp) - (rlp - lp) - 1
            per_token.append(-(torch.exp(lp - lp.detach()) * exp.advantages[n] - beta * kl))
        losses.append(torch.stack(per_token).mean())
    return torch.stack(losses).mean()


def test_batched_loss_and_gradient_match_independent_implementation(setup):
    adapter, processor, policy, ref, maker = setup
    beta = 0.04
    torch.manual_seed(3)
    exp = maker.make(make_records(3), torch.device("cpu"))
    assert exp.advantages.abs().sum() > 0
    with torch.no_grad():
        exp.ref_logp = policy_logprobs(ref, exp.inputs, exp.completion_ids, 1.0)
    logp = policy_logprobs(policy, exp.inputs, exp.completion_ids, 1.0)
    batched = grpo_loss(logp, None, exp.ref_logp, exp.advantages, exp.completion_mask, beta=beta).loss
    policy.zero_grad()
    batched.backward()
    grads = {k: p.grad.clone() for k, p in policy.named_parameters() if p.grad is not None}
    policy.zero_grad()
    reference = _independent_loss(adapter, processor, policy, ref, exp, beta)
    reference.backward()
    assert batched.item() == pytest.approx(reference.item(), abs=1e-5)
    for name, p in policy.named_parameters():
        if name in grads:
            assert torch.allclose(grads[name], p.grad, atol=1e-5, rtol=1e-3), name
