"""When does the demo's base model learn in-context copying? Pretrain with overrides and print the copy curve.

    python bench/bench_copy_emergence.py --out runs/copy-exp --set steps=6000 batch_size=16 \
        corpus.n_repeats=3000 probe_every=250 [--seed S]

    python bench/bench_copy_emergence.py --probe-only DIR    # the probes of an existing base model

After pretraining (or with --probe-only) it runs the probes the demo runs before RL, on the synthetic test
split: caption perception on 200 records and the option-copy probe (T = 1) on 64 prompts.
`--set key=value` overrides a PretrainSpec field (`corpus.<field>` for the corpus), checked as
`visualthinker pretrain --set` checks it (visualthinker.demo.pretrain.apply_overrides). Prints the loss and copy_accuracy curves from the run's pretrain.json (nothing hard-coded);
the model directory is left in --out for GRPO or probes (`visualthinker demo --base DIR`).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from visualthinker.data.synthetic import generate_records
from visualthinker.demo.pipeline import DemoSettings, probe_sampling
from visualthinker.demo.pretrain import apply_overrides, pretrain
from visualthinker.demo.probes import caption_perception
from visualthinker.errors import ConfigError


def probes(model_dir: Path, image_size: int, seed: int) -> dict:
    test = generate_records(200, seed, split="test", image_size=image_size, difficulty="easy")
    pixels = image_size * image_size
    return {"perception": caption_perception(model_dir, test, pixels, pixels),
            "sampled": probe_sampling(model_dir, test[:64], max_new_tokens=64, batch_size=32, min_pixels=pixels,
                                      max_pixels=pixels, seed=seed)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", help="where to pretrain the model")
    ap.add_argument("--probe-only", metavar="DIR", help="skip pretraining; probe this base model directory")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--set", nargs="*", default=[], dest="overrides")
    args = ap.parse_args()
    if args.probe_only:
        print(json.dumps(probes(Path(args.probe_only), 112, args.seed)))
        return
    if not args.out:
        raise ConfigError("bench_copy_emergence: give --out DIR (to pretrain) or --probe-only DIR")
    spec = apply_overrides(DemoSettings().with_seed(args.seed).pretrain, args.overrides)
    info = pretrain(spec, Path(args.out), log=lambda line: print(line, flush=True))
    print(json.dumps({k: info[k] for k in ("parameters", "documents", "document_kinds", "final_loss",
                                           "copy_accuracy", "copy_curve", "span_copy_curve", "wall_seconds", "weights_sha256")}))
    print(json.dumps(probes(Path(args.out), spec.corpus.image_size, args.seed)))


if __name__ == "__main__":
    main()
