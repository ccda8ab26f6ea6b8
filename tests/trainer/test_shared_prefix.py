"""The shared-prefix path equals the plain path: per-token log-probs and every parameter's gradient, in fp32,
with left-padded prompts of several image sizes and right-padded completions, for both model families."""

from __future__ import annotations

import copy

import pytest
import torch

from tests.trainer.conftest import make_records
from tests.trainer.test_train_run import _config
from visualthinker.generation.shared import SharedPrefixGenerator
from visualthinker.grpo.fused_head import fused_head_grpo_loss
from visualthinker.grpo.objective import chunked_token_logprobs, grpo_loss, token_logprobs
from visualthinker.models.shared_prefix import layers_keep_cache
from visualthinker.prompts import PromptSpec
from visualthinker.trainer import rollout
from visualthinker.trainer.loop import GRPOTrainer, SharedPrefixPlan, shared_prefix_plan
from visualthinker.trainer.rollout import policy_logprobs, policy_loss, shared_prefix_logprobs

G = 3


def _batch(adapter, processor, n_prompts: int, T: int, seed: int = 0):
    records = make_records(n_prompts)  # images of different sizes -> different prompt lengths (left padding)
    images = [r.load_images(112 * 112, 56 * 56) for r in records]
    texts = [adapter.render_prompt(processor, PromptSpec(), r.prompt, 1) for r in records]
    batch = adapter.encode(processor, texts, images)
    N = n_prompts * G
    gen = torch.Generator().manual_seed(seed)
    vocab = len(processor.tokenizer)
    banned = set(adapter.never_sample_ids(processor))
    ids = torch.randint(0, vocab, (N, T), generator=gen)
    for b in banned:
        ids[ids == b] = 0
    lengths = torch.randint(1, T + 1, (N,), generator=gen)
    lengths[0] = T  # one row uses every position
    mask = (torch.arange(T).unsqueeze(0) < lengths.unsqueeze(1)).long()
    ids = ids.masked_fill(mask == 0, adapter.pad_token_id(processor))
    rows = adapter.select_rows(batch, [i for i in range(n_prompts) for _ in range(G)])
    plain_inputs = adapter.with_completions(rows, ids, mask)
    prompt_inputs = {k: v for k, v in batch.items() if k != "num_images"}
    return plain_inputs, prompt_inputs, ids, mask


def _loss_and_grads(model, logp, mask, ref):
    advantages = torch.linspace(-1.0, 1.0, logp.shape[0])
    out = grpo_loss(logp, None, ref, advantages, mask, beta=0.04)
    model.zero_grad(set_to_none=True)
    out.loss.backward()
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("temperature", [1.0, 0.7])
def test_logprobs_and_gradients_equal_the_plain_path(family_setup, temperature):
    adapter, processor, model = family_setup
    plain_inputs, prompt_inputs, ids, mask = _batch(adapter, processor, n_prompts=3, T=7)
    with torch.no_grad():
        ref = policy_logprobs(model, plain_inputs, ids, temperature) - 0.1

    plain = policy_logprobs(model, plain_inputs, ids, temperature)
    plain_grads = _loss_and_grads(model, plain, mask, ref)
    shared = shared_prefix_logprobs(model, prompt_inputs, ids, mask, G, temperature)
    shared_grads = _loss_and_grads(model, shared, mask, ref)

    on = mask.bool()
    torch.testing.assert_close(shared[on], plain[on], rtol=1e-5, atol=1e-6)
    assert plain_grads.keys() == shared_grads.keys()
    assert any(k.startswith("model.visual") for k in plain_grads)  # the image path is in the comparison
    for name, g in plain_grads.items():
        torch.testing.assert_close(shared_grads[name], g, rtol=1e-5, atol=1e-7, msg=f"gradient of {name}")


def test_gradient_checkpointing_shares_the_prefix_and_equals_the_plain_path(family_setup):
    """Checkpointed layers in training mode: the prompt pass stores its states and the completion pass reads
    them, recomputed in the backward pass without storing them twice; log-probs and gradients equal the plain
    (checkpointed) path's."""
    adapter, processor, base = family_setup
    model = copy.deepcopy(base)
    model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
    model.train()
    plain_inputs, prompt_inputs, ids, mask = _batch(adapter, processor, n_prompts=3, T=6, seed=5)
    with torch.no_grad():
        ref = policy_logprobs(model, plain_inputs, ids, 1.0) - 0.1
    plain = policy_logprobs(model, plain_inputs, ids, 1.0)
    plain_grads = _loss_and_grads(model, plain, mask, ref)

    attention = model.model.language_model.layers[0].self_attn
    calls = []
    handle = attention.register_forward_hook(lambda *_: calls.append(1))
    shared = shared_prefix_logprobs(model, prompt_inputs, ids, mask, G, 1.0)
    in_forward = len(calls)
    shared_grads = _loss_and_grads(model, shared, mask, ref)
    handle.remove()
    assert in_forward == 2  # the prompt pass and the completion pass, once each
    assert len(calls) == 4  # both recomputed in the backward pass: the layers really were checkpointed

    on = mask.bool()
    torch.testing.assert_close(shared[on], plain[on], rtol=1e-5, atol=1e-6)
    assert plain_grads.keys() == shared_grads.keys()
    assert any(k.startswith("model.visual") for k in plain_grads)
    for name, g in plain_grads.items():
        torch.testing.assert_close(shared_grads[name], g, rtol=1e-5, atol=1e-7, msg=f"gradient of {name}")


def test_cache_under_checkpointing_needs_the_non_reentrant_checkpoint(family_setup):
    model = copy.deepcopy(family_setup[2])
    model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": True})
    with pytest.raises(RuntimeError, match="use_reentrant"), layers_keep_cache(model):
        pass


def test_shared_prefix_without_gradients_matches(family_setup):
    adapter, processor, model = family_setup
    plain_inputs, prompt_inputs, ids, mask = _batch(adapter, processor, n_prompts=2, T=5, seed=3)
    with torch.no_grad():
        plain = policy_logprobs(model, plain_inputs, ids, 1.0)
        shared = shared_prefix_logprobs(model, prompt_inputs, ids, mask, G, 1.0)
    torch.testing.assert_close(shared[mask.bool()], plain[mask.bool()], rtol=1e-5, atol=1e-6)


def test_chunked_logprobs_are_exact_and_bounded():
    torch.manual_seed(0)
    hidden = torch.randn(3, 10, 8, requires_grad=True)
    head = torch.nn.Linear(8, 50, bias=False)
    tokens = torch.randint(0, 50, (3, 10))
    seen = []

    def to_logits(x):
        seen.append(x.shape[0])
        return head(x)

    whole = token_logprobs(head(hidden), tokens, 0.7)
    (g_whole,) = torch.autograd.grad(whole.sum(), hidden)
    chunked = chunked_token_logprobs(hidden, tokens, to_logits, 50, 0.7, max_elements=50 * 4)
    (g_chunk,) = torch.autograd.grad(chunked.sum(), hidden)
    assert max(seen) == 4  # never more than 4 tokens' logits at once (forward and recomputation)
    torch.testing.assert_close(chunked, whole, rtol=0, atol=0)
    torch.testing.assert_close(g_chunk, g_whole, rtol=1e-6, atol=1e-7)


def _step_grads(trainer, exp, shared: bool):
    exp.ref_logp = exp.old_logp = None
    trainer.shared = shared_prefix_plan(trainer.config) if shared else SharedPrefixPlan(False, False)
    trainer._reference_logprobs(exp)
    trainer.model.train()
    out = policy_loss(trainer.model, exp, trainer.config.temperature, trainer.shared.policy, beta=trainer.config.beta)
    trainer.model.zero_grad(set_to_none=True)
    out.loss.backward()
    trainer.model.eval()
    grads = {n: p.grad.clone() for n, p in trainer.model.named_parameters() if p.grad is not None}
    return out.loss.detach(), exp.ref_logp, exp.old_logp, grads


@pytest.mark.parametrize("extra", [["lora_rank=4"], ["num_iterations=2"], ["freeze_vision=true", "beta=0.0"],
                                   ["gradient_checkpointing=true", "lora_rank=4"]])
def test_trainer_step_equals_plain_path(tiny_model_dir, tmp_path, extra, monkeypatch):
    """Reference (LoRA: adapter off), old-policy (mu > 1) and policy passes through the trainer, both ways."""
    if "lora_rank=4" in extra:
        pytest.importorskip("peft")
    trainer = GRPOTrainer(_config(tiny_model_dir, tmp_path / "run", "max_steps=1", *extra), make_records(3))
    assert trainer.shared.rollout and trainer.shared.policy
    assert isinstance(trainer.maker.generator, SharedPrefixGenerator)
    exp = trainer.maker.make(make_records(3), torch.device("cpu"))
    plain = _step_grads(trainer, exp, shared=False)
    fused_calls = []
    monkeypatch.setattr(rollout, "fused_head_grpo_loss",
                        lambda *a, **k: fused_calls.append(1) or fused_head_grpo_loss(*a, **k))
    shared = _step_grads(trainer, exp, shared=True)
    assert fused_calls == [1]  # the shared policy pass ran the fused output head + loss
    on = exp.completion_mask.bool()
    torch.testing.assert_close(shared[0], plain[0], rtol=1e-5, atol=1e-7)
    for a, b in zip(shared[1:3], plain[1:3], strict=True):
        assert (a is None) == (b is None)
        if a is not None:
            torch.testing.assert_close(a[on], b[on], rtol=1e-5, atol=1e-6)
    assert shared[3].keys() == plain[3].keys() and plain[3]
    for name, g in plain[3].items():
        torch.testing.assert_close(shared[3][name], g, rtol=1e-5, atol=1e-7, msg=f"gradient of {name}")


def test_shared_prefix_plan_is_on_unless_turned_off(tiny_model_dir, tmp_path):
    config = _config(tiny_model_dir, tmp_path / "o")
    assert shared_prefix_plan(config) == SharedPrefixPlan(True, True)
    checkpointed = _config(tiny_model_dir, tmp_path / "o", "gradient_checkpointing=true")
    assert shared_prefix_plan(checkpointed) == SharedPrefixPlan(True, True)
    off = _config(tiny_model_dir, tmp_path / "o", "shared_prefix=false")
    assert shared_prefix_plan(off) == SharedPrefixPlan(False, False, "shared_prefix=false")
