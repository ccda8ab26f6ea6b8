"""Can the demo's text stack learn in-context copying at all, and after how many steps? A control for
bench_copy_emergence.py: no corpus, only random token sequences in which one span is repeated.

    python bench/bench_copy_synthetic.py [--steps 3000] [--batch 16] [--lr 1e-3] [--probe 250]

The model is the demo base model's language model (Qwen2-VL text stack: hidden 128, 3 layers, 4 heads, 2 KV
heads, mrope, vocabulary 1,024) built from a config, no tokenizer. Each training row is `--ctx` random token ids
with one span of `--span-lo`..`--span-hi` tokens repeated after a gap of 0-8 tokens, at a random offset (no
positional shortcut). Every `--probe` steps it prints the loss and the copy accuracy of
visualthinker.demo.pretrain.copy_accuracy (random 12-token sequences shown twice; 0 without copying, near 1
with it). One thread, deterministic in --seed.
"""

from __future__ import annotations

import argparse
import json
import math
import time

import torch
from transformers.models.qwen2_vl import Qwen2VLConfig, Qwen2VLForConditionalGeneration

from visualthinker.demo.pretrain import copy_accuracy


def build(args: argparse.Namespace) -> Qwen2VLForConditionalGeneration:
    half = args.hidden // args.heads // 2  # mrope sections must sum to head_dim / 2 (as models.tiny)
    text = dict(vocab_size=args.vocab, hidden_size=args.hidden, intermediate_size=args.hidden * 2,
                num_hidden_layers=args.layers, num_attention_heads=args.heads, num_key_value_heads=args.kv,
                max_position_embeddings=4096, rope_theta=args.theta,
                rope_scaling={"type": "mrope", "mrope_section": [half - 2 * (half // 3), half // 3, half // 3],
                              "rope_theta": args.theta},
                bos_token_id=0, pad_token_id=0, eos_token_id=1)
    v = args.vocab
    config = Qwen2VLConfig(text_config=text, vision_config=dict(depth=1, embed_dim=32, hidden_size=args.hidden,
                                                                num_heads=2),
                           image_token_id=v - 1, video_token_id=v - 2, vision_start_token_id=v - 3,
                           vision_end_token_id=v - 4)
    config.tie_word_embeddings = bool(args.tie)
    return Qwen2VLForConditionalGeneration(config)


def batch(args: argparse.Namespace, g: torch.Generator) -> torch.Tensor:
    ids = torch.randint(64, args.vocab - 16, (args.batch, args.ctx), generator=g)
    for i in range(args.batch):
        length = int(torch.randint(args.span_lo, args.span_hi + 1, (1,), generator=g))
        gap = int(torch.randint(0, 9, (1,), generator=g))
        start = int(torch.randint(0, args.ctx - 2 * length - gap + 1, (1,), generator=g))
        copy_at = start + length + gap
        ids[i, copy_at:copy_at + length] = ids[i, start:start + length]
    return ids


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for name, default in (("hidden", 128), ("layers", 3), ("heads", 4), ("kv", 2), ("steps", 3000), ("batch", 16),
                          ("ctx", 64), ("warmup", 100), ("vocab", 1024), ("probe", 250), ("seed", 0),
                          ("span-lo", 6), ("span-hi", 24)):
        ap.add_argument(f"--{name}", type=int, default=default)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--theta", type=float, default=1e6)
    ap.add_argument("--tie", type=int, default=0, help="1: tie the output head to the embedding (as Qwen2-VL-2B)")
    ap.add_argument("--wd", type=float, default=0.01)
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    model = build(args)
    print("parameters", sum(p.numel() for p in model.parameters()), flush=True)
    g = torch.Generator().manual_seed(args.seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.98), weight_decay=args.wd)

    def lr_at(step: int) -> float:  # linear warmup, cosine to 0.1 (as the demo's pretraining)
        return min(1.0, (step + 1) / args.warmup) * (0.1 + 0.45 * (1 + math.cos(math.pi * min(1.0, step / args.steps))))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_at)
    t0, losses, curve = time.perf_counter(), [], []
    for step in range(args.steps):
        ids = batch(args, g)
        loss = model(input_ids=ids, attention_mask=torch.ones_like(ids), labels=ids, use_cache=False).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad()
        losses.append(loss.item())
        if (step + 1) % args.probe == 0:
            model.eval()
            copied = copy_accuracy(model, low_id=64, high_id=args.vocab - 16, seed=123)
            model.train()
            curve.append([step + 1, round(copied, 3)])
            print(f"step {step + 1}  loss {sum(losses[-args.probe:]) / args.probe:.3f}  copy_accuracy {copied:.3f}  "
                  f"({time.perf_counter() - t0:.0f} s)", flush=True)
    print(json.dumps({"args": vars(args), "copy_curve": curve}))


if __name__ == "__main__":
    main()
