"""When does the demo's base model learn in-context copying? Pretrain with overrides and print the copy curve.

    python bench/bench_copy_emergence.py --out runs/copy-exp --set steps=6000 batch_size=16 \
        corpus.n_repeats=3000 probe_every=250 [--seed S]

`--set key=value` overrides a PretrainSpec field (`corpus.<field>` for the corpus); values are parsed as JSON
where possible. Prints the loss and copy_accuracy curves from the run's pretrain.json (nothing hard-coded);
the model directory is left in --out for GRPO or probes (`visualthinker demo --base DIR`).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

from visualthinker.demo.pipeline import DemoSettings
from visualthinker.demo.pretrain import PretrainSpec, pretrain
from visualthinker.errors import ConfigError


def apply_overrides(spec: PretrainSpec, pairs: list[str]) -> PretrainSpec:
    top: dict = {}
    corpus: dict = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep:
            raise ConfigError(f"--set {pair!r}: expected key=value, e.g. steps=6000 or corpus.n_repeats=3000")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        target, name = (corpus, key.removeprefix("corpus.")) if key.startswith("corpus.") else (top, key)
        fields = {f.name for f in dataclasses.fields(spec.corpus if target is corpus else spec)}
        if name not in fields:
            raise ConfigError(f"--set {key}: unknown field; choose from {sorted(fields)}")
        target[name] = value
    return dataclasses.replace(spec, corpus=dataclasses.replace(spec.corpus, **corpus), **top)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--set", nargs="*", default=[], dest="overrides")
    args = ap.parse_args()
    spec = apply_overrides(DemoSettings().with_seed(args.seed).pretrain, args.overrides)
    info = pretrain(spec, Path(args.out), log=lambda line: print(line, flush=True))
    print(json.dumps({k: info[k] for k in ("parameters", "documents", "document_kinds", "final_loss",
                                           "copy_accuracy", "copy_curve", "wall_seconds", "weights_sha256")}))


if __name__ == "__main__":
    main()
