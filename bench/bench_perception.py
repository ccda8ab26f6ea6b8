"""Does next-token pretraining teach the demo's tiny VLM to read its images? A perception experiment.

Trains a fresh tiny Qwen2-VL (the demo base's sizes) on *fresh* captioned scenes every step -- optionally after a
"look" phase of short left-to-right inventories (`corpus.look_document`) -- and prints, as it goes:
- the image-reading gap: the caption loss with each image replaced by another caption's image, minus the loss
  with the true images (0 for a model that ignores the image content);
- the caption-perception probe on the held-out test images (`probes.perception_of`: is the true caption of the
  count / relation / depth / distance choice the most likely one? chance about 0.46).

    python bench/bench_perception.py --steps 900 --look-steps 400 [--vision-depth 2 --vision-dim 128]
                                     [--rope-theta 20] [--out runs/bench-perception]

Measured numbers only; docs/demo.md records the runs.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from pathlib import Path

import torch

from visualthinker.data.synthetic import generate_records
from visualthinker.demo.corpus import CorpusSpec, caption_document, generate_corpus, look_document
from visualthinker.demo.pretrain import _encode_documents, collate, train_step
from visualthinker.demo.probes import perception_of
from visualthinker.models.adapter import get_adapter
from visualthinker.models.tiny import _save, make_config, train_tokenizer

SIDE = 112


def build(out: Path, args: argparse.Namespace, spec: CorpusSpec):
    text = [d.text for d in generate_corpus(spec)]
    tokenizer = train_tokenizer(text, 1024)
    config = make_config("qwen2_vl", tokenizer, 128, 3, 4, 2, args.vision_depth, args.vision_dim,
                         tie_embeddings=True)
    if args.rope_theta:
        config.text_config.rope_parameters = dict(config.text_config.rope_parameters, rope_theta=args.rope_theta)
    _save(out, "qwen2_vl", config, tokenizer, SIDE * SIDE, SIDE * SIDE, args.seed)
    adapter = get_adapter(str(out))
    return adapter, adapter.load_processor(str(out), SIDE * SIDE, SIDE * SIDE), adapter.load_model(str(out))


@torch.no_grad()
def reading_gap(model, batch: dict, n: int) -> tuple[float, float]:
    """(loss with the true images, loss with every image moved to the next caption)."""
    true = model(**batch, use_cache=False).loss.item()
    pixels = batch["pixel_values"]
    moved = pixels.view(n, pixels.shape[0] // n, -1)[torch.roll(torch.arange(n), 1)].reshape(pixels.shape)
    return true, model(**dict(batch, pixel_values=moved), use_cache=False).loss.item()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/bench-perception")
    parser.add_argument("--steps", type=int, default=900, help="all steps, the look phase included")
    parser.add_argument("--look-steps", type=int, default=400, help="first steps on look documents (0: none)")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--vision-depth", type=int, default=1)
    parser.add_argument("--vision-dim", type=int, default=64)
    parser.add_argument("--rope-theta", type=float, default=0.0, help="text rope theta (0: Qwen2-VL's 1e6)")
    parser.add_argument("--gap-every", type=int, default=50)
    parser.add_argument("--probe-every", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    out = Path(args.out)
    spec = CorpusSpec(n_captions=400, n_dialogues=300, n_markup=100, n_prose=60, n_pages=100, n_quiz_pages=200,
                      seed=args.seed)
    adapter, processor, model = build(out / "model", args, spec)
    pad, no_loss = adapter.pad_token_id(processor), adapter.never_sample_ids(processor)
    test = generate_records(200, args.seed, split="test", image_size=SIDE, difficulty="easy")
    held = [caption_document(random.Random(f"bench-perception-eval:{i}"), spec) for i in range(48)]
    eval_batch = collate(_encode_documents(processor, held), pad, no_loss)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.98), weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / 50) * (0.1 + 0.45 * (1 + math.cos(math.pi * s / args.steps))))
    rows, t0 = [], time.perf_counter()
    for step in range(args.steps):
        rng = random.Random(f"bench-perception:{args.seed}:{step}")
        make = look_document if step < args.look_steps else caption_document
        batch = collate(_encode_documents(processor, [make(rng, spec) for _ in range(args.batch)]), pad, no_loss)
        loss = train_step(model, batch, optimizer, schedule)
        done = step + 1
        row = None
        if done % args.gap_every == 0 or done == args.steps:
            model.eval()
            true, moved = reading_gap(model, eval_batch, len(held))
            row = {"step": done, "phase": "look" if step < args.look_steps else "captions", "train_loss": loss,
                   "caption_loss": true, "moved_image_loss": moved, "gap": moved - true,
                   "seconds": time.perf_counter() - t0}
            if done > args.look_steps and ((done - args.look_steps) % args.probe_every == 0 or done == args.steps):
                probe = perception_of(model, processor, test)
                row.update(perception=probe["accuracy"], chance=probe["chance"], per_task=probe["per_task"])
            model.train()
            rows.append(row)
            extra = (f"  perception {row['perception']:.3f} (chance {row['chance']:.3f}) "
                     + " ".join(f"{k} {v:.2f}" for k, v in row["per_task"].items())) if "perception" in row else ""
            print(f"step {done} [{row['phase']}] caption loss {true:.3f}, moved images {moved:.3f}, gap "
                  f"{moved - true:+.3f}{extra}  ({row['seconds']:.0f} s)", flush=True)
    (out / "results.json").write_text(json.dumps({"args": vars(args), "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
