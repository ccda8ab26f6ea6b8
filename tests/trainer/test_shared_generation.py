"""Shared-prefill generation samples from the same distribution as transformers' generate."""

from __future__ import annotations

import pytest
import torch

from tests.trainer.conftest import make_records
from visualthinker.generation.base import SamplingConfig
from visualthinker.generation.hf import HFGenerator
from visualthinker.generation.shared import LogitsPipeline, SharedPrefixGenerator, sample_categorical
from visualthinker.prompts import PromptSpec


def _prompts(adapter, processor, n: int):
    records = make_records(n)
    images = [r.load_images(112 * 112, 56 * 56) for r in records]
    texts = [adapter.render_prompt(processor, PromptSpec(), r.prompt, 1) for r in records]
    return adapter.encode(processor, texts, images)


def test_greedy_tokens_equal_generate(family_setup):
    adapter, processor, model = family_setup
    batch = _prompts(adapter, processor, 3)
    sampling = SamplingConfig(max_new_tokens=12, do_sample=False, repetition_penalty=1.05)
    repeated = adapter.select_rows(batch, [0, 0, 1, 1, 2, 2])  # greedy generate takes one sample per row
    plain = HFGenerator(model, adapter, processor).generate(repeated, 1, sampling)
    shared = SharedPrefixGenerator(model, adapter, processor).generate(batch, 2, sampling)
    assert shared.prompt_rows == [0, 0, 1, 1, 2, 2]
    assert torch.equal(shared.completion_ids, plain.completion_ids)
    assert torch.equal(shared.completion_mask, plain.completion_mask)
    assert shared.texts == plain.texts


@pytest.mark.parametrize("sampling", [
    SamplingConfig(temperature=0.7, top_k=20, top_p=0.9, repetition_penalty=1.05),
    SamplingConfig(),
    SamplingConfig(temperature=1.3, top_p=0.5),
])
def test_logits_processing_equals_generate(family_setup, sampling):
    adapter, processor, model = family_setup
    hf = HFGenerator(model, adapter, processor)
    config = hf.generation_config(sampling, 1)
    reference = model._get_logits_processor(generation_config=config, input_ids_seq_length=5, device="cpu",
                                            model_kwargs={})
    torch.manual_seed(0)
    vocab = len(processor.tokenizer)
    sequences = torch.randint(0, vocab, (4, 9))
    logits = torch.randn(4, vocab) * 3
    expected = reference(sequences, logits.clone())
    got = LogitsPipeline(sampling, hf.banned_ids)(sequences, logits.clone())
    assert torch.equal(torch.isinf(got), torch.isinf(expected))
    torch.testing.assert_close(torch.softmax(got, -1), torch.softmax(expected, -1), rtol=1e-6, atol=1e-7)
    assert torch.softmax(got, -1)[:, hf.banned_ids].sum() == 0


def test_sampled_rows_follow_their_own_prompt(family_setup):
    adapter, processor, model = family_setup
    batch = _prompts(adapter, processor, 2)
    torch.manual_seed(1)
    rollout = SharedPrefixGenerator(model, adapter, processor).generate(batch, 4, SamplingConfig(max_new_tokens=6))
    assert rollout.completion_ids.shape[0] == 8 and rollout.prompt_rows == [0, 0, 0, 0, 1, 1, 1, 1]
    banned = torch.tensor(adapter.never_sample_ids(processor))
    assert not torch.isin(rollout.completion_ids, banned).any()
    assert (rollout.completion_mask.sum(-1) >= 1).all()


def test_categorical_sampler_draws_the_distribution():
    torch.manual_seed(0)
    probs = torch.tensor([[0.5, 0.0, 0.3, 0.15, 0.05], [0.0, 0.0, 0.0, 1.0, 0.0]])
    draws = torch.stack([sample_categorical(probs) for _ in range(20000)])  # (20000, 2)
    freq = torch.bincount(draws[:, 0], minlength=5).double() / draws.shape[0]
    assert freq[1] == 0  # zero-probability tokens are never drawn
    torch.testing.assert_close(freq, probs[0].double(), rtol=0, atol=0.012)
    assert (draws[:, 1] == 3).all()
