"""A shortened demo end to end: pretraining, base evaluation, GRPO, final evaluation, summary.json, and the
cache (a second run skips pretraining)."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import pytest
import yaml

from visualthinker.demo.pipeline import DEMO_GRPO, DemoSettings, quick_settings, run_demo

REQUIRED = ("base_accuracy", "final_accuracy", "base_format_rate", "final_format_rate", "steps", "wall_seconds",
            "seed")


@pytest.mark.slow
def test_quick_demo_end_to_end(tmp_path, monkeypatch):
    monkeypatch.setenv("VISUALTHINKER_CACHE", str(tmp_path / "cache"))
    t0 = time.perf_counter()
    summary = run_demo(tmp_path / "run", seed=5, settings=quick_settings(), log=lambda _: None)
    first = time.perf_counter() - t0
    data = json.loads((tmp_path / "run" / "summary.json").read_text())
    for key in REQUIRED:
        assert key in data
    assert data["seed"] == 5 and data["steps"] == 2 and not data["pretrain_cached"]
    for key in ("base_accuracy", "final_accuracy", "base_format_rate", "final_format_rate"):
        assert 0.0 <= data[key] <= 1.0
    # the original scripts' containment scoring is never stricter than the strict one
    assert data["base_accuracy_paper_scoring"] >= data["base_accuracy"]
    assert data["final_accuracy_paper_scoring"] >= data["final_accuracy"]
    assert len(data["response_length_curve"]) == 2
    assert 0.0 <= data["base_copy_accuracy"] <= 1.0 and data["base_sampling_temperature"] == DEMO_GRPO["temperature"]
    assert data["base_perception"]["n"] == 8 and 0.0 <= data["base_perception"]["accuracy"] <= 1.0
    assert (tmp_path / "run" / "grpo" / "final" / "model.safetensors").exists()
    assert (tmp_path / "run" / "grpo" / "metrics.jsonl").exists()
    assert summary == data

    again = run_demo(tmp_path / "run2", seed=5, settings=quick_settings(), log=lambda _: None)
    assert again["pretrain_cached"] and again["base_weights_sha256"] == data["base_weights_sha256"]
    # GRPO on the same base model with the same seed is deterministic on CPU
    assert again["final_accuracy"] == data["final_accuracy"]
    assert again["response_length_curve"] == data["response_length_curve"]
    assert first < 90


def test_pretraining_is_bit_for_bit_reproducible(tmp_path):
    from visualthinker.demo.pretrain import pretrain

    spec = quick_settings().with_seed(2).pretrain
    a = pretrain(spec, tmp_path / "a", log=lambda _: None)
    # probing copy_accuracy during training only reads the model: same weights, and a curve of the probes
    b = pretrain(dataclasses.replace(spec, probe_every=4), tmp_path / "b", log=lambda _: None)
    assert a["weights_sha256"] == b["weights_sha256"]
    assert [step for step, _ in b["copy_curve"]] == [4, 8] and a["copy_curve"] == [[8, a["copy_accuracy"]]]
    assert b["copy_curve"][-1][1] == a["copy_accuracy"]


def test_shipped_base_is_the_demo_recipe_and_checked():
    from visualthinker.demo.pipeline import SHIPPED_BASE, DemoSettings, shipped_base
    from visualthinker.demo.pretrain import PretrainSpec, weights_digest

    info = json.loads((SHIPPED_BASE / "pretrain.json").read_text())
    # `visualthinker pretrain --seed 0` (the demo's recipe) is the command that made the shipped weights
    recipe = DemoSettings().with_seed(0).pretrain
    assert PretrainSpec.from_dict(info["spec"]) == recipe
    assert info["cache_key"] == PretrainSpec.from_dict(info["spec"]).cache_key() == recipe.cache_key()
    # an option added since changes the key once it is used (and only then: the line above)
    for option in ({"attachment_glance_fraction": 0.3}, {"attachment_quiz_reasoning": False},
                   {"counting_glance_fraction": 0.25}):
        changed = dataclasses.replace(recipe.corpus, **option)
        assert dataclasses.replace(recipe, corpus=changed).cache_key() != recipe.cache_key(), option
    assert shipped_base() == SHIPPED_BASE and weights_digest(SHIPPED_BASE) == info["weights_sha256"]
    size = sum(f.stat().st_size for f in SHIPPED_BASE.iterdir())
    assert size < 50 * 2**20
    # the probes that justify it were recorded: it copies corpus words in context
    assert info["span_copy_accuracy"] > 0.5


def test_a_damaged_shipped_base_is_refused(tmp_path, monkeypatch):
    import shutil

    from visualthinker.demo import pipeline
    from visualthinker.errors import DataError

    copy = tmp_path / "demo-base"
    shutil.copytree(pipeline.SHIPPED_BASE, copy)
    monkeypatch.setattr(pipeline, "SHIPPED_BASE", copy)
    weights = copy / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1
    weights.write_bytes(bytes(data))
    with pytest.raises(DataError, match="SHA-256.*--pretrain"):
        pipeline.shipped_base()
    weights.unlink()
    with pytest.raises(DataError, match="missing"):
        pipeline.shipped_base()


def test_direct_template_changes_only_the_prompt_and_the_format():
    from visualthinker.demo.pipeline import DemoSettings
    from visualthinker.errors import ConfigError

    think, direct = DemoSettings(), DemoSettings().with_template("direct")
    assert direct.grpo["template"] == "direct" and direct.template == "direct"
    assert direct.grpo["reward_options"]["format"] == {"require_answer": True, "answer_only": True}
    assert think.with_template("base").grpo["reward_options"]["format"]["answer_only"] is False
    differing = {k for k in think.grpo if think.grpo[k] != direct.grpo[k]}
    assert differing == {"template", "reward_options"}
    assert direct.pretrain == think.pretrain
    answer = think.with_template("answer")
    assert answer.grpo["reward_options"]["format"]["answer_only"] is True and answer.grpo["template"] == "answer"
    with pytest.raises(ConfigError, match="base, direct or answer"):
        think.with_template("instruct")


@pytest.mark.slow
def test_shortened_demo_from_the_shipped_base_with_think_and_answer_prompts(tmp_path):
    """What `visualthinker demo` runs (the shipped base, offline), shortened: 2 GRPO steps on a few records."""
    import dataclasses

    from visualthinker.demo.pipeline import SHIPPED_BASE

    quick = quick_settings()
    settings = dataclasses.replace(quick, shipped_base=True, pretrain=DemoSettings().pretrain)
    think = run_demo(tmp_path / "think", seed=0, settings=settings, log=lambda _: None)
    assert think["base_model"] == str(SHIPPED_BASE) and think["base_source"] == "shipped"
    assert think["template"] == "base" and think["steps"] == 2
    assert set(think["targets"]) >= {"gain_30", "chance_plus_20", "every_task_above_chance", "length_grows_1_5x",
                                      "longer_is_more_accurate"}
    assert set(think["length_pays"]) >= {"longest_third_accuracy", "rest_accuracy", "enumerating_share"}
    assert think["reflection"] is not None and "aha_step" in think["reflection"]
    assert think["early_samples"] and think["late_samples"]
    answer = run_demo(tmp_path / "answer", seed=0, settings=settings.with_template("answer"), log=lambda _: None)
    assert answer["template"] == "answer"
    assert answer["base_weights_sha256"] == think["base_weights_sha256"]
    config = yaml.safe_load((tmp_path / "answer" / "grpo" / "config.yaml").read_text())
    assert config["template"] == "answer" and config["reward_options"]["format"]["answer_only"] is True
    # the prompt wrote "<answer>": the evaluated completions are read after it
    assert all(s["completion"].startswith("<answer>") for s in answer["final_samples"])


def test_demo_yaml_matches_the_demo_settings():
    values = yaml.safe_load((Path(__file__).parents[2] / "configs" / "demo.yaml").read_text())
    for key, value in DEMO_GRPO.items():
        assert values[key] == value, key
    settings = DemoSettings()
    assert values["data_options"] == {"n": settings.train_n, "image_size": settings.pretrain.corpus.image_size,
                                      "difficulty": settings.difficulty, "tasks": list(settings.tasks)}


def test_cli_registers_both_commands():
    from visualthinker.cli.main import build_parser

    parser = build_parser()
    args = parser.parse_args(["pretrain", "--out", "x", "--seed", "3"])
    assert args.command == "pretrain" and args.seed == 3
    args = parser.parse_args(["demo", "--seed", "1", "--quick"])
    assert args.command == "demo" and args.quick and args.template == "base" and not args.pretrain
    args = parser.parse_args(["demo", "--template", "direct", "--pretrain"])
    assert args.template == "direct" and args.pretrain


@pytest.mark.parametrize("argv,message", [(["--base", "x", "--pretrain"], "give one of them"),
                                          (["--no-cache"], "only applies to --pretrain")])
def test_demo_cli_refuses_conflicting_base_options(argv, message, capsys):
    from visualthinker.cli.main import main

    assert main(["demo", *argv]) == 2
    assert message in capsys.readouterr().err


class _Copier:
    """A stand-in language model whose next-token guess is the token `period` positions back plus `shift`."""

    def __init__(self, period: int, shift: int = 0, vocab: int = 64) -> None:
        self.period, self.shift, self.vocab = period, shift, vocab

    def __call__(self, input_ids, **_):
        import torch

        n, width = input_ids.shape
        logits = torch.zeros(n, width, self.vocab)
        for t in range(width):
            source = t - self.period + 1  # predicting position t + 1, whose copy sits one period earlier
            if source >= 0:
                logits[torch.arange(n), t, (input_ids[:, source] + self.shift) % self.vocab] = 1.0
        return type("Out", (), {"logits": logits})()


def test_copy_accuracy_scores_in_context_copying():
    from visualthinker.demo.pretrain import copy_accuracy

    assert copy_accuracy(_Copier(period=12), low_id=8, high_id=64, length=12) == 1.0
    assert copy_accuracy(_Copier(period=12, shift=1), low_id=8, high_id=64, length=12) == 0.0
    assert copy_accuracy(_Copier(period=11), low_id=8, high_id=64, length=12) < 0.2


class _SpanCopier:
    """A stand-in language model for the span probe's rows ("Say it twice: <span>. <span>."): its guess for
    the next token is the token one span-length back plus `shift` (a perfect copier at shift 0)."""

    def __init__(self, prefix_len: int, vocab: int, shift: int = 0) -> None:
        self.prefix_len, self.vocab, self.shift = prefix_len, vocab, shift

    def __call__(self, input_ids, **_):
        import torch

        n, width = input_ids.shape
        period = (width - self.prefix_len) // 2
        logits = torch.zeros(n, width, self.vocab)
        for t in range(period - 1, width):
            logits[:, t, (input_ids[:, t + 1 - period] + self.shift) % self.vocab] = 1.0
        return type("Out", (), {"logits": logits})()


def test_span_copy_accuracy_scores_copying_of_corpus_words(tmp_path):
    from transformers import AutoTokenizer

    from visualthinker.demo.probes import span_copy_accuracy
    from visualthinker.models.tiny import build_tiny_model

    model_dir = build_tiny_model(tmp_path / "model", vocab_size=400)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    prefix = len(tokenizer("Say it twice:", add_special_tokens=False)["input_ids"])
    assert span_copy_accuracy(_SpanCopier(prefix, len(tokenizer)), tokenizer, n=16) == 1.0
    assert span_copy_accuracy(_SpanCopier(prefix, len(tokenizer), shift=1), tokenizer, n=16) == 0.0


def test_streamed_repeat_pages_and_tied_head_are_trained_and_reproducible(tmp_path):
    import dataclasses

    from visualthinker.demo.pretrain import pretrain
    from visualthinker.models.adapter import get_adapter

    spec = quick_settings().with_seed(1).pretrain
    small = dataclasses.replace(spec.corpus, n_captions=40, n_dialogues=20, n_markup=5, n_prose=5, n_pages=5,
                                n_quiz_pages=5)
    spec = dataclasses.replace(spec, corpus=small, vocab_size=320, tie_embeddings=True, steps=4)
    plain = pretrain(spec, tmp_path / "plain", log=lambda _: None)
    streamed = dataclasses.replace(spec, stream_repeats=3)
    a = pretrain(streamed, tmp_path / "a", log=lambda _: None)
    b = pretrain(streamed, tmp_path / "b", log=lambda _: None)
    assert a["weights_sha256"] == b["weights_sha256"]  # fresh pages are a function of (seed, step)
    assert a["weights_sha256"] != plain["weights_sha256"]  # and they are trained on
    assert a["tokens_seen"] > plain["tokens_seen"]
    # a copy-first curriculum replaces the first steps' batches by copy rows (32 rows of 32 ids each)
    c = pretrain(dataclasses.replace(streamed, copy_warmup_steps=2), tmp_path / "c", log=lambda _: None)
    assert c["weights_sha256"] != a["weights_sha256"] and c["tokens_seen"] > 2 * 32 * 32
    # a look phase after it (fresh left-to-right inventories) and look documents streamed into corpus batches
    looked = dataclasses.replace(streamed, copy_warmup_steps=1, look_warmup_steps=1, stream_looks=2)
    d = pretrain(looked, tmp_path / "d", log=lambda _: None)
    e = pretrain(looked, tmp_path / "e", log=lambda _: None)
    assert d["weights_sha256"] == e["weights_sha256"]
    assert d["weights_sha256"] not in {a["weights_sha256"], c["weights_sha256"]}
    # fresh captions streamed into corpus batches: also a function of (seed, step), also trained on
    captioned = dataclasses.replace(looked, stream_captions=2)
    f = pretrain(captioned, tmp_path / "f", log=lambda _: None)
    assert f["weights_sha256"] == pretrain(captioned, tmp_path / "g", log=lambda _: None)["weights_sha256"]
    assert f["weights_sha256"] != d["weights_sha256"] and f["tokens_seen"] > d["tokens_seen"]
    # fresh attachment chats streamed into corpus batches: the same contract
    attached = dataclasses.replace(captioned, stream_attachments=2)
    h = pretrain(attached, tmp_path / "h", log=lambda _: None)
    assert h["weights_sha256"] == pretrain(attached, tmp_path / "i", log=lambda _: None)["weights_sha256"]
    assert h["weights_sha256"] != f["weights_sha256"] and h["tokens_seen"] > f["tokens_seen"]
    model = get_adapter(str(tmp_path / "a")).load_model(str(tmp_path / "a"))
    assert model.lm_head.weight.data_ptr() == model.get_input_embeddings().weight.data_ptr()
    assert 0.0 <= a["span_copy_accuracy"] <= 1.0 and a["span_copy_curve"][-1] == [4, a["span_copy_accuracy"]]


def test_lr_schedules_warm_up_then_decay_over_all_steps_or_after_the_copy_phase():
    from visualthinker.demo.pretrain import PretrainSpec, lr_factor
    from visualthinker.errors import ConfigError

    spec = PretrainSpec(steps=1000, warmup_steps=100, copy_warmup_steps=400)
    assert lr_factor(spec, 0) == 0.01 and lr_factor(spec, 99) == 1.0
    assert lr_factor(spec, 100) == 1.0 and lr_factor(spec, 400) < 0.9 and lr_factor(spec, 999) > 0.1
    after = PretrainSpec(steps=1000, warmup_steps=100, copy_warmup_steps=400, lr_schedule="cosine_after_copy")
    assert [lr_factor(after, s) for s in (0, 99, 250, 400)] == [0.01, 1.0, 1.0, 1.0]
    assert lr_factor(after, 700) == pytest.approx(0.55) and lr_factor(after, 1000) == pytest.approx(0.1)
    with pytest.raises(ConfigError, match="lr_schedule"):
        PretrainSpec(lr_schedule="linear")


def test_pretrain_overrides_set_fields_and_refuse_bad_ones():
    from visualthinker.demo.pretrain import PretrainSpec, apply_overrides
    from visualthinker.errors import ConfigError

    spec = apply_overrides(PretrainSpec(), ["tie_embeddings=true", "stream_repeats=16", "learning_rate=1e-3",
                                            "corpus.n_repeats=200", "corpus.enumerate_fraction=0"])
    assert spec.tie_embeddings and spec.stream_repeats == 16 and spec.learning_rate == 1e-3
    assert spec.corpus.n_repeats == 200 and spec.corpus.enumerate_fraction == 0.0
    for bad, word in (("nope=1", "KEY one of"), ("steps", "KEY=VALUE"), ("steps=many", "takes a int"),
                      ("corpus.nope=1", "corpus.n_repeats"), ("tie_embeddings=3", "takes a bool"),
                      ("steps=0", ">= 1"), ("learning_rate=-1", ">= 0"), ("learning_rate=.nan", "finite"),
                      ("corpus.tagged_fraction=1.5", "between 0 and 1")):
        with pytest.raises(ConfigError, match=word):
            apply_overrides(PretrainSpec(), [bad])


def test_copy_rows_repeat_one_span_at_a_random_offset():
    import torch

    from visualthinker.demo.pretrain import copy_rows

    rows = copy_rows(torch.Generator().manual_seed(0), 64, 32, 12, low_id=64, high_id=1000)
    assert rows.shape == (64, 32) and int(rows.min()) >= 64 and int(rows.max()) < 1000
    starts = set()
    for row in rows.tolist():
        found = [(a, b) for a in range(32 - 12) for b in range(a + 12, a + 21) if b + 12 <= 32
                 and row[a:a + 12] == row[b:b + 12]]
        assert found, row
        starts.add(found[0][0])
    assert len(starts) > 5  # no fixed position to learn instead of copying
    with pytest.raises(ValueError, match="cannot hold"):
        copy_rows(torch.Generator(), 1, 20, 12, low_id=64, high_id=1000)
