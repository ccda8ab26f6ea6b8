"""Next-token pretraining of the demo's tiny base VLM on the synthetic corpus (corpus.py).

Plain torch on purpose: one process, a fixed number of steps, no instruction tuning and no RL. The model is a
real Qwen2-VL (built through models.tiny, loaded and saved through the model adapter), so the GRPO stage
treats it exactly like a downloaded base checkpoint. The loss covers text tokens only: image patches are
inputs, never targets.

Reproducibility: the corpus, the tokenizer, the initial weights and the batch order are all functions of the
spec (seeds included); with the same torch build and the same number of threads the saved weights are
bit-identical (`weights_sha256` in pretrain.json records them).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import math
import os
import random
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from visualthinker.demo.corpus import (
    CorpusSpec,
    Document,
    attachment_document,
    caption_document,
    generate_corpus,
    look_document,
    repeat_document,
)
from visualthinker.demo.probes import span_copy_accuracy
from visualthinker.models.adapter import VISION_TOKENS, get_adapter
from visualthinker.models.tiny import build_tiny_model

FORMAT_VERSION = 4  # bump when the corpus or the training code changes what a spec produces


LR_SCHEDULES = ("cosine", "cosine_after_copy")


# Corpus options added after bases were made and cached, at the value that leaves the corpus byte-identical: left
# out of the cache key at that value, so those bases (the shipped one included) keep their keys.
KEY_NEUTRAL_CORPUS: dict[str, Any] = {"attachment_glance_fraction": 0.0, "attachment_quiz_reasoning": True,
                                       "counting_glance_fraction": 0.0}


@dataclass(frozen=True)
class PretrainSpec:
    corpus: CorpusSpec = field(default_factory=CorpusSpec)
    vocab_size: int = 1024
    hidden: int = 128
    layers: int = 3
    heads: int = 4
    kv_heads: int = 2
    vision_depth: int = 1
    vision_dim: int = 64
    steps: int = 600
    batch_size: int = 24
    learning_rate: float = 3e-3
    warmup_steps: int = 30
    weight_decay: float = 0.01
    seed: int = 0
    threads: int = 1
    probe_every: int = 0  # measure copy_accuracy every N steps (0: only at the end); reads, never changes weights
    tie_embeddings: bool = False  # output head = embedding (as Qwen2-VL-2B); copying is learned several times faster
    # Fresh `repeat` pages (corpus.repeat_document) added to every batch, drawn from (seed, step): a fixed set of
    # pages read for several epochs can be memorised, a fresh span can only be predicted by copying it.
    stream_repeats: int = 0
    # A copy-first curriculum: the first N steps train on rows of random token ids in which a span recurs
    # (`copy_rows`), where in-context copying emerges within ~1,500 steps; the corpus follows.
    copy_warmup_steps: int = 0
    # A look phase after the copy phase: N steps of `batch_size` fresh `look` documents (corpus.look_document:
    # every object of a scene named left to right), where reading the image pays on nearly every token.
    look_warmup_steps: int = 0
    stream_looks: int = 0  # fresh look documents added to every corpus batch (keeps the image pathway in use)
    # Fresh captions (new train-bucket scenes) added to every corpus batch: the fixed captions alone give too few
    # image views for a model to perceive counts within a thousand steps.
    stream_captions: int = 0
    # Fresh `attachment` chats (corpus.attachment_document) added to every corpus batch: the only documents in
    # which a tagged reply looks at a picture in the user's turn, so that listing the picture is reachable
    # from the R1-Zero prompt (docs/demo.md, "Stop 20").
    stream_attachments: int = 0
    # "cosine": warmup, then cosine to 0.1 x over all steps; "cosine_after_copy": the copy phase at the full rate
    # (after warmup), the cosine over the look and corpus phases only, so images are learned at a high rate.
    lr_schedule: str = "cosine"

    def __post_init__(self) -> None:
        if self.lr_schedule not in LR_SCHEDULES:
            from visualthinker.errors import ConfigError

            raise ConfigError(f"pretraining lr_schedule {self.lr_schedule!r}: choose one of {LR_SCHEDULES}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def cache_key(self) -> str:
        """Hash of everything that determines the weights (spec, code version, library versions)."""
        import tokenizers
        import transformers

        spec = self.to_dict()
        spec["corpus"] = {k: v for k, v in spec["corpus"].items()
                          if not (k in KEY_NEUTRAL_CORPUS and KEY_NEUTRAL_CORPUS[k] == v)}
        blob = json.dumps({"spec": spec, "version": FORMAT_VERSION, "torch": torch.__version__,
                           "transformers": transformers.__version__, "tokenizers": tokenizers.__version__},
                          sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> PretrainSpec:
        values = dict(values)
        corpus = CorpusSpec(**values.pop("corpus", {}))
        return cls(corpus=corpus, **values)


_POSITIVE = {"vocab_size", "hidden", "layers", "heads", "kv_heads", "vision_depth", "vision_dim", "steps",
             "batch_size", "threads", "image_size"}


def apply_overrides(spec: PretrainSpec, overrides: list[str]) -> PretrainSpec:
    """`spec` with `KEY=VALUE` settings applied (VALUE read as YAML; `corpus.FIELD` for the corpus). Unknown
    keys and values of the wrong type are refused, naming the setting."""
    import yaml

    from visualthinker.errors import ConfigError

    spec_values, corpus_values = spec.to_dict(), dict(spec.to_dict()["corpus"])
    for item in overrides:
        key, sep, raw = item.partition("=")
        target, name = (corpus_values, key[len("corpus."):]) if key.startswith("corpus.") else (spec_values, key)
        if not sep or name not in target or name == "corpus":
            known = sorted([k for k in spec_values if k != "corpus"] + [f"corpus.{k}" for k in corpus_values])
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE with KEY one of {', '.join(known)}")
        value = yaml.safe_load(raw)
        default = target[name]
        if isinstance(default, tuple) and isinstance(value, list):
            value = tuple(value)
        if isinstance(default, float) and not isinstance(value, bool):
            with contextlib.suppress(TypeError, ValueError):  # YAML reads "1e-3" as a string
                value = float(value)
        if type(value) is not type(default):
            raise ConfigError(f"--set {item!r}: {key} takes a {type(default).__name__} (default {default!r})")
        at_least = 1 if name in _POSITIVE else 0
        if isinstance(value, (int, float)) and not isinstance(value, bool) and (
                not math.isfinite(value) or value < at_least or (name.endswith("_fraction") and value > 1)):
            bound = "between 0 and 1" if name.endswith("_fraction") else f"a finite number >= {at_least}"
            raise ConfigError(f"--set {item!r}: {key} must be {bound}")
        target[name] = value
    spec_values["corpus"] = corpus_values
    return PretrainSpec.from_dict(spec_values)


def _min_max_pixels(image_size: int) -> tuple[int, int]:
    side = image_size * image_size
    return side, side  # the processor keeps the synthetic images at their native size


def _encode_documents(processor, docs: list[Document]) -> list[dict[str, torch.Tensor]]:
    """Each document tokenised once (image patches included), so training steps only collate."""
    out = []
    for doc in docs:
        batch = processor(text=[doc.text], images=[doc.image] if doc.image is not None else None,
                          return_tensors="pt")
        item = {"input_ids": batch["input_ids"][0], "mm_token_type_ids": batch["mm_token_type_ids"][0]}
        if doc.image is not None:
            item["pixel_values"] = batch["pixel_values"]
            item["image_grid_thw"] = batch["image_grid_thw"]
        out.append(item)
    return out


def collate(items: list[dict[str, torch.Tensor]], pad_id: int, no_loss_ids: list[int]) -> dict[str, torch.Tensor]:
    """Left-padded batch (as the generator pads) with labels on real text tokens only."""
    width = max(len(it["input_ids"]) for it in items)
    ids = torch.full((len(items), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(items), width), dtype=torch.long)
    types = torch.zeros((len(items), width), dtype=torch.long)
    for i, it in enumerate(items):
        n = len(it["input_ids"])
        ids[i, width - n:] = it["input_ids"]
        mask[i, width - n:] = 1
        types[i, width - n:] = it["mm_token_type_ids"]
    labels = ids.masked_fill(mask == 0, -100)
    labels = labels.masked_fill(torch.isin(ids, torch.tensor(no_loss_ids)), -100)
    batch = {"input_ids": ids, "attention_mask": mask, "mm_token_type_ids": types, "labels": labels}
    with_images = [it for it in items if "pixel_values" in it]
    if with_images:
        batch["pixel_values"] = torch.cat([it["pixel_values"] for it in with_images])
        batch["image_grid_thw"] = torch.cat([it["image_grid_thw"] for it in with_images])
    return batch


def length_batches(lengths: list[int], batch_size: int, rng: random.Random, pool: int = 16) -> list[list[int]]:
    """One epoch of batches: shuffle, sort each pool of `pool` batches' worth of documents by length, cut into
    batches and shuffle the batches, so that a batch pads to a similar length (about 2x fewer padded tokens on
    the demo corpus) while the order stays random and deterministic in `rng`."""
    order = list(range(len(lengths)))
    rng.shuffle(order)
    out: list[list[int]] = []
    span = batch_size * pool
    for start in range(0, len(order), span):
        chunk = sorted(order[start:start + span], key=lambda i: lengths[i])
        out += [chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size)]
    rng.shuffle(out)
    return out


def pretrain(spec: PretrainSpec, out_dir: str | Path, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Build, pretrain and save the base model into `out_dir`; returns the run info (also pretrain.json)."""
    out_dir = Path(out_dir)
    t0 = time.perf_counter()
    torch.set_num_threads(spec.threads)
    torch.manual_seed(spec.seed)
    random.seed(spec.seed)
    docs = generate_corpus(spec.corpus)
    min_px, max_px = _min_max_pixels(spec.corpus.image_size)
    # The tokenizer is trained on the corpus text only (no benchmark prompt is given to it).
    build_tiny_model(out_dir, family="qwen2_vl", corpus=[d.text for d in docs], vocab_size=spec.vocab_size,
                     hidden=spec.hidden, layers=spec.layers, heads=spec.heads, kv_heads=spec.kv_heads,
                     vision_depth=spec.vision_depth, vision_dim=spec.vision_dim, min_pixels=min_px,
                     max_pixels=max_px, seed=spec.seed, tie_embeddings=spec.tie_embeddings)
    adapter = get_adapter(str(out_dir))
    processor = adapter.load_processor(str(out_dir), min_px, max_px)
    model = adapter.load_model(str(out_dir))
    encoded = _encode_documents(processor, docs)
    t_data = time.perf_counter() - t0
    pad_id = adapter.pad_token_id(processor)
    no_loss = adapter.never_sample_ids(processor)
    assert set(no_loss) >= set(processor.tokenizer.convert_tokens_to_ids(list(VISION_TOKENS)))

    decay = [p for n, p in model.named_parameters() if p.ndim >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.ndim < 2]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": spec.weight_decay},
                                   {"params": no_decay, "weight_decay": 0.0}], lr=spec.learning_rate,
                                  betas=(0.9, 0.98))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: lr_factor(spec, step))
    order_rng = random.Random(f"demo-pretrain-order:{spec.seed}")
    lengths = [len(it["input_ids"]) for it in encoded]
    batches: list[list[int]] = []
    model.train()
    losses = []
    copy_curve: list[list[float]] = []
    span_curve: list[list[float]] = []
    tokens_seen = 0  # text and image tokens of the language model (what emergence laws count)
    probe_ids = dict(low_id=64, high_id=spec.vocab_size - 16)  # ids past the special/byte tokens
    probe = dict(probe_ids, seed=spec.seed)
    copy_gen = torch.Generator().manual_seed(spec.seed + 1_000_003)  # not the probe's stream

    def run_probes(at_step: int) -> None:  # reads the model only (eval mode is left on)
        model.eval()
        copy_curve.append([at_step, copy_accuracy(model, **probe)])
        span_curve.append([at_step, span_copy_accuracy(model, processor.tokenizer, seed=spec.seed)])

    def fresh(stream: str, make: Callable[..., Document], count: int, step: int) -> list[dict[str, torch.Tensor]]:
        """`count` new documents drawn from (seed, step), so a run is reproducible without storing them."""
        rng = random.Random(f"demo-pretrain-{stream}:{spec.seed}:{step}")
        return _encode_documents(processor, [make(rng, spec.corpus) for _ in range(count)])

    for step in range(spec.steps):
        if step < spec.copy_warmup_steps:
            ids = copy_rows(copy_gen, 32, 32, 12, **probe_ids)
            batch = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": ids}
        elif step < spec.copy_warmup_steps + spec.look_warmup_steps:
            batch = collate(fresh("look", look_document, spec.batch_size, step), pad_id, no_loss)
        else:
            if not batches:  # an epoch of shuffled documents, batched by similar length (less padding)
                batches = length_batches(lengths, spec.batch_size, order_rng)
            items = [encoded[i] for i in batches.pop()]
            items += fresh("stream", repeat_document, spec.stream_repeats, step)
            items += fresh("stream-look", look_document, spec.stream_looks, step)
            items += fresh("stream-caption", caption_document, spec.stream_captions, step)
            items += fresh("stream-attachment", attachment_document, spec.stream_attachments, step)
            batch = collate(items, pad_id, no_loss)
        losses.append(train_step(model, batch, optimizer, scheduler))
        tokens_seen += int(batch["attention_mask"].sum())
        if (step + 1) % 50 == 0 or step == 0:
            window = losses[-50:]
            log(f"pretrain step {step + 1}/{spec.steps}  loss {sum(window) / len(window):.3f}  "
                f"({time.perf_counter() - t0:.0f} s)")
        if spec.probe_every and (step + 1) % spec.probe_every == 0 and step + 1 < spec.steps:
            run_probes(step + 1)
            model.train()
            log(f"pretrain step {step + 1}  copy_accuracy {copy_curve[-1][1]:.3f}  "
                f"span_copy_accuracy {span_curve[-1][1]:.3f}")
    run_probes(spec.steps)
    copy_top1 = copy_curve[-1][1]
    model.save_pretrained(out_dir)
    info = {
        "spec": spec.to_dict(), "cache_key": spec.cache_key(), "documents": len(docs),
        "document_kinds": {k: sum(d.kind == k for d in docs) for k in ("caption", "dialogue", "markup", "prose", "page", "quizpage", "repeat")},
        "parameters": sum(p.numel() for p in model.parameters()), "final_loss": sum(losses[-50:]) / len(losses[-50:]),
        "loss_curve": [round(sum(losses[i:i + 50]) / len(losses[i:i + 50]), 4) for i in range(0, len(losses), 50)],
        "copy_accuracy": copy_top1, "copy_curve": copy_curve,
        "span_copy_accuracy": span_curve[-1][1], "span_copy_curve": span_curve, "tokens_seen": tokens_seen,
        "data_seconds": t_data, "wall_seconds": time.perf_counter() - t0,
        "weights_sha256": weights_digest(out_dir),
    }
    (out_dir / "pretrain.json").write_text(json.dumps(info, indent=2))
    return info


def lr_factor(spec: PretrainSpec, step: int) -> float:
    """The learning rate at `step` as a fraction of `spec.learning_rate`: linear warmup, then a cosine to 0.1
    over the remaining steps, or (`cosine_after_copy`) over the steps after the copy phase only."""
    if step < spec.warmup_steps:
        return (step + 1) / spec.warmup_steps
    decay_from = max(spec.warmup_steps, spec.copy_warmup_steps if spec.lr_schedule == "cosine_after_copy" else 0)
    progress = max(0, step - decay_from) / max(1, spec.steps - decay_from)
    return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress))


def train_step(model, batch: dict[str, torch.Tensor], optimizer: torch.optim.Optimizer,
               scheduler: torch.optim.lr_scheduler.LRScheduler) -> float:
    """One next-token step (gradient clipped at 1.0); returns the loss."""
    loss = model(**batch, use_cache=False).loss
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    scheduler.step()
    optimizer.zero_grad(set_to_none=True)
    return loss.item()


def copy_rows(generator: torch.Generator, n: int, width: int, span: int, low_id: int,
              high_id: int) -> torch.Tensor:
    """(n, width) random token ids in [low_id, high_id) in which a `span`-token stretch recurs once, after a gap
    of 0-8 tokens, at a random offset: predictable only by copying from the context."""
    if width < 2 * span + 8:
        raise ValueError(f"copy rows of width {width} cannot hold a {span}-token span twice with a gap of 8")
    ids = torch.randint(low_id, high_id, (n, width), generator=generator)
    for i in range(n):
        gap = int(torch.randint(0, 9, (1,), generator=generator))
        start = int(torch.randint(0, width - 2 * span - gap + 1, (1,), generator=generator))
        ids[i, start + span + gap:start + 2 * span + gap] = ids[i, start:start + span]
    return ids


@torch.no_grad()
def copy_accuracy(model, low_id: int, high_id: int, n: int = 64, length: int = 12, seed: int = 0) -> float:
    """In-context copying (induction): top-1 accuracy on the second half of random token sequences shown twice.

    About 0 for a model that only knows n-gram statistics, near 1 once it copies what it has seen; answering
    with an option written in the question needs this skill, so pretrain.json records it."""
    generator = torch.Generator().manual_seed(seed)
    first = torch.randint(low_id, high_id, (n, length), generator=generator)
    ids = torch.cat([first, first], 1)
    logits = model(input_ids=ids, attention_mask=torch.ones_like(ids), use_cache=False).logits
    return (logits[:, length:-1].argmax(-1) == ids[:, length + 1:]).float().mean().item()


def weights_digest(model_dir: str | Path) -> str:
    return hashlib.sha256((Path(model_dir) / "model.safetensors").read_bytes()).hexdigest()


def cache_dir() -> Path:
    from visualthinker.models.builtin import cache_root

    return cache_root() / "demo-base"


def cached_pretrain(spec: PretrainSpec, log: Callable[[str], None] = print) -> tuple[Path, bool]:
    """The base model for `spec` from the cache, pretraining it first if absent. Returns (dir, was_cached)."""
    target = cache_dir() / spec.cache_key()
    if (target / "pretrain.json").exists():
        return target, True
    tmp = target.with_name(f"{target.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    pretrain(spec, tmp, log)
    try:
        tmp.rename(target)
    except OSError:  # a concurrent run finished first; its result is the same
        shutil.rmtree(tmp, ignore_errors=True)
    return target, False
