"""Decoding is exactly what the config says, whatever the checkpoint's generation_config.json says (for
Qwen2-VL-2B: top_k 1, top_p 0.001, temperature 0.1, repetition_penalty 1.05). Before the fix, the paper config's
`top_k: 0` reached `generate` as None, transformers filled it with the checkpoint's 1, and the G = 8 samples of
a prompt were identical (1 distinct of 8 with the reduced real model)."""

from __future__ import annotations

import json

import pytest
import torch
from PIL import Image

from tests.paper.conftest import PAPER_CONFIGS, needs_real_files
from tests.paper.test_paper_configs import capture_generation_configs
from visualthinker.config import load_config
from visualthinker.data.record import Record
from visualthinker.evaluation.runner import ModelResponder
from visualthinker.generation import HFGenerator, SamplingConfig
from visualthinker.models import get_adapter
from visualthinker.prompts import PromptSpec, sat_question

pytestmark = needs_real_files


@pytest.fixture(scope="module")
def real(reduced_real_dir):
    adapter = get_adapter(str(reduced_real_dir))
    processor = adapter.load_processor(str(reduced_real_dir), 3136, 12544)
    model = adapter.load_model(str(reduced_real_dir), "float32", "sdpa")
    return adapter, processor, model


def test_fixture_carries_the_real_files(reduced_real_dir):
    from tests.trainer.conftest import REAL_QWEN2_VL_2B

    assert (json.loads((reduced_real_dir / "generation_config.json").read_text())
            == json.loads((REAL_QWEN2_VL_2B / "generation_config.json").read_text()))
    from transformers import AutoConfig

    reduced, real = AutoConfig.from_pretrained(reduced_real_dir), AutoConfig.from_pretrained(REAL_QWEN2_VL_2B)
    assert reduced.dtype == real.dtype == torch.bfloat16
    assert reduced.tie_word_embeddings is real.tie_word_embeddings is True
    assert reduced.image_token_id == real.image_token_id
    text, real_text = reduced.text_config, real.text_config
    for key in ("rope_parameters", "vocab_size", "bos_token_id", "eos_token_id", "rms_norm_eps", "hidden_act"):
        assert getattr(text, key) == getattr(real_text, key), key
    assert text.hidden_size // text.num_attention_heads == real_text.hidden_size // real_text.num_attention_heads
    assert text.num_hidden_layers < real_text.num_hidden_layers
    vision, real_vision = reduced.vision_config, real.vision_config
    assert vision.embed_dim // vision.num_heads == real_vision.embed_dim // real_vision.num_heads
    assert vision.hidden_size == text.hidden_size and vision.patch_size == real_vision.patch_size
    image_processor = json.loads((reduced_real_dir / "preprocessor_config.json").read_text())
    real_ip = json.loads((REAL_QWEN2_VL_2B / "preprocessor_config.json").read_text())
    assert image_processor["image_mean"] == real_ip["image_mean"] and image_processor["image_std"] == real_ip["image_std"]
    assert image_processor["size"] == {"shortest_edge": real_ip["min_pixels"], "longest_edge": real_ip["max_pixels"]}


def _prompt_batch(adapter, processor):
    text = adapter.render_prompt(processor, PromptSpec(), sat_question("Is the lamp left or right?", ["left", "right"]), 1)
    return adapter.encode(processor, [text], [[Image.new("RGB", (112, 112), (200, 30, 30))]])


@pytest.mark.parametrize("config_path", PAPER_CONFIGS, ids=lambda p: p.stem)
def test_eight_samples_are_distinct_under_each_paper_config(config_path, real, monkeypatch):
    adapter, processor, model = real
    paper = load_config(config_path)
    sampling = SamplingConfig(max_new_tokens=6, temperature=paper.temperature, top_k=paper.top_k,
                              top_p=paper.top_p, repetition_penalty=paper.repetition_penalty)
    used = capture_generation_configs(monkeypatch)
    torch.manual_seed(0)
    rollout = HFGenerator(model, adapter, processor).generate(_prompt_batch(adapter, processor),
                                                              paper.num_generations, sampling)
    assert len({tuple(row) for row in rollout.completion_ids.tolist()}) == paper.num_generations == 8
    (effective,) = used
    assert (effective.do_sample, effective.temperature, effective.top_k, effective.top_p,
            effective.repetition_penalty) == (True, paper.temperature, paper.top_k, paper.top_p,
                                              paper.repetition_penalty)
    assert model.generation_config.top_k == 1  # the checkpoint's own config is left on the model


@pytest.mark.parametrize("top_k, repetition_penalty", [(50, 1.0), (0, 1.0), (1, 1.05)])
def test_values_equal_to_library_defaults_are_not_replaced(real, monkeypatch, top_k, repetition_penalty):
    adapter, processor, model = real
    used = capture_generation_configs(monkeypatch)
    HFGenerator(model, adapter, processor).generate(
        _prompt_batch(adapter, processor), 2,
        SamplingConfig(max_new_tokens=2, top_k=top_k, top_p=1.0, temperature=1.0, repetition_penalty=repetition_penalty))
    assert (used[0].top_k, used[0].top_p, used[0].temperature, used[0].repetition_penalty) == (
        top_k, 1.0, 1.0, repetition_penalty)


def test_evaluation_decodes_greedily_without_the_checkpoint_penalty(real, monkeypatch):
    """`visualthinker eval` and periodic evaluation (ModelResponder): greedy, repetition_penalty 1.0."""
    adapter, processor, model = real
    used = capture_generation_configs(monkeypatch)
    record = Record(id="q1", images=[Image.new("RGB", (112, 112))], question="Left or right?",
                    choices=["left", "right"], answer="left", prompt=sat_question("Left or right?", ["left", "right"]),
                    task="relation", source="test")
    ModelResponder(model, adapter, processor, PromptSpec(), max_new_tokens=3)([record])
    (effective,) = used
    assert (effective.do_sample, effective.num_beams, effective.repetition_penalty, effective.max_new_tokens) == (
        False, 1, 1.0, 3)
