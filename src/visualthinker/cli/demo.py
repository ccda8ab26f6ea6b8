"""`visualthinker pretrain --out DIR` and `visualthinker demo [--out DIR] [--seed S]`."""

from __future__ import annotations

import argparse
import json

from visualthinker.cli.argtypes import positive_int


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "pretrain", help="build the demo's tiny base VLM by next-token pretraining on the synthetic corpus",
        description="Pretrain a tiny Qwen2-VL base model (no instruction tuning, no RL) on the demo's synthetic "
                    "image-text corpus and save it as a Hugging Face model directory. Deterministic: the same "
                    "seed, threads and library versions give bit-identical weights.")
    p.add_argument("--out", required=True, help="output model directory")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--steps", type=positive_int, default=None, help="pretraining steps (default: the demo's)")
    p.add_argument("--threads", type=positive_int, default=1,
                   help="torch threads (part of bit-for-bit reproducibility; 1 is fastest for a model this small)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="change one pretraining setting (a PretrainSpec field, or corpus.FIELD for the corpus), "
                        "e.g. --set tie_embeddings=true --set corpus.n_repeats=2000; repeatable")
    p.set_defaults(handler=_pretrain)

    d = subparsers.add_parser(
        "demo", help="the micro R1-Zero demo: base VLM -> evaluate -> GRPO -> evaluate -> report",
        description="End to end on CPU, offline: the tiny base model shipped in the package (or rebuilt with "
                    "--pretrain), the synthetic spatial set, GRPO with the R1-Zero recipe (base prompt, accuracy + "
                    "format rewards), held-out evaluation before and after, and a report. Writes DIR/summary.json.")
    d.add_argument("--out", default=None, help="output directory (default: runs/demo)")
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--steps", type=positive_int, default=None, help="GRPO steps (default: the demo's)")
    d.add_argument("--base", default=None, help="use this base model directory (from `visualthinker pretrain`)")
    d.add_argument("--pretrain", action="store_true",
                   help="rebuild the base model (the shipped base's recipe with --seed; cached) instead of using "
                        "the shipped one")
    d.add_argument("--no-cache", action="store_true", help="with --pretrain: pretrain into DIR/base, not the cache")
    d.add_argument("--template", choices=("base", "direct", "answer"), default="base",
                   help="base: the R1-Zero prompt ending in <think>; direct: the same run without a think part; "
                        "answer: without a think part, the prompt ending in <answer>")
    d.add_argument("--quick", action="store_true", help="a seconds-long smoke run (tiny everything; not a result)")
    d.set_defaults(handler=_demo)


def _pretrain(args: argparse.Namespace) -> int:
    import dataclasses

    from visualthinker.demo.pipeline import DemoSettings
    from visualthinker.demo.pretrain import apply_overrides, pretrain

    spec = DemoSettings().with_seed(args.seed).pretrain
    spec = dataclasses.replace(spec, threads=args.threads, **({"steps": args.steps} if args.steps else {}))
    spec = apply_overrides(spec, args.overrides)
    info = pretrain(spec, args.out)
    print(json.dumps({k: info[k] for k in ("documents", "parameters", "final_loss", "wall_seconds",
                                           "weights_sha256")}, indent=2))
    return 0


def _demo(args: argparse.Namespace) -> int:
    import dataclasses

    from visualthinker.demo.pipeline import DemoSettings, default_out_dir, quick_settings, run_demo
    from visualthinker.errors import ConfigError

    if args.base and (args.pretrain or args.no_cache):
        raise ConfigError("demo: --base names the base model; --pretrain / --no-cache rebuild one - give one of them")
    if args.no_cache and not args.pretrain and not args.quick:
        raise ConfigError("demo: --no-cache only applies to --pretrain (the shipped base is never pretrained)")
    settings = quick_settings() if args.quick else DemoSettings()
    if args.pretrain:
        settings = dataclasses.replace(settings, shipped_base=False)
    settings = settings.with_template(args.template)
    if args.steps:
        settings = dataclasses.replace(settings, grpo=dict(settings.grpo, max_steps=args.steps))
    run_demo(args.out or default_out_dir(), seed=args.seed, settings=settings, use_cache=not args.no_cache,
             base_model=args.base)
    return 0
