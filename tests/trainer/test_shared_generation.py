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


def test_synced_decoding_keeps_stepping_until_every_rank_is_done(family_setup, monkeypatch):
    """ZeRO-3 / FSDP2 (`synced_gpus`): a rank whose rows have all stopped keeps running the model (the other
    ranks gather weights with it) without recording tokens or drawing random numbers, so its result is the one
    it gets alone."""
    adapter, processor, model = family_setup
    batch = _prompts(adapter, processor, 2)

    def run(synced: bool, other_rank_steps: int):
        gen = SharedPrefixGenerator(model, adapter, processor, synced_gpus=synced)
        gen.stop_ids = list(range(len(processor.tokenizer)))  # every token stops: this rank is done at once
        polls = []

        def every_rank_done(done, synced_gpus, device):  # the other rank stops after `other_rank_steps` steps
            polls.append(done)
            assert synced_gpus == synced
            return done and (not synced or len(polls) >= other_rank_steps)

        monkeypatch.setattr("visualthinker.generation.shared.every_rank_done", every_rank_done)
        forwards = []
        handle = model.model.language_model.register_forward_hook(lambda *_: forwards.append(1))
        torch.manual_seed(3)
        rollout = gen.generate(batch, 2, SamplingConfig(max_new_tokens=10))
        handle.remove()
        return rollout, len(forwards), polls, torch.rand(1)

    alone, forwards_alone, _, next_draw_alone = run(False, 0)
    synced, forwards_synced, polls, next_draw_synced = run(True, 4)
    assert alone.completion_ids.shape[1] == 1 and forwards_alone == 1  # one token; the prefill only
    assert polls == [True] * 4 and forwards_synced == 1 + 3  # three more model steps for the other rank
    assert torch.equal(synced.completion_ids, alone.completion_ids)
    assert torch.equal(synced.completion_mask, alone.completion_mask)
    assert torch.equal(next_draw_synced, next_draw_alone)  # no extra random draws
