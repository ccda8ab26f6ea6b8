"""`visualthinker data synth|inspect|validate|prepare`: build, look at and check datasets."""

from __future__ import annotations

import argparse
import json
from collections import Counter
from typing import Any

from visualthinker.cli.argtypes import non_negative_int, positive_int
from visualthinker.errors import ConfigError

SIZE_PROBE = 50
DEFAULT_MAX_PIXELS = 401408  # TrainConfig's defaults (kept import-free so `--help` stays fast)
DEFAULT_MIN_PIXELS = 3136


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("data", help="build, inspect and validate datasets")
    sub = parser.add_subparsers(dest="data_command", required=True)

    synth = sub.add_parser("synth", help="write the synthetic spatial set in the project's format")
    synth.add_argument("--out", required=True, help="output folder (records.jsonl + images/)")
    synth.add_argument("--n", type=positive_int, default=1000, help="number of records")
    synth.add_argument("--seed", type=int, default=0)
    synth.add_argument("--split", choices=("train", "val", "test"), default="train")
    synth.add_argument("--image-size", type=positive_int, default=112)
    synth.add_argument("--difficulty", choices=("easy", "medium", "hard"), default="easy")
    synth.add_argument(
        "--tasks", default=None, help="comma-separated subset of count,relation,depth,distance"
    )
    synth.add_argument("--overwrite", action="store_true", help="replace an existing records.jsonl in --out")
    synth.set_defaults(handler=cmd_synth)

    inspect = sub.add_parser("inspect", help="counts per task/subtask, sample records and image sizes")
    _add_source_args(inspect)
    inspect.add_argument("--samples", type=non_negative_int, default=3, help="sample records to show")
    inspect.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    inspect.set_defaults(handler=cmd_inspect)

    validate = sub.add_parser("validate", help="check every record; exit 1 if any problem")
    _add_source_args(validate)
    validate.add_argument("--no-images", action="store_true", help="skip decoding the images")
    validate.add_argument("--max-pixels", type=positive_int, default=DEFAULT_MAX_PIXELS,
                          help="bound images as training would (the config's max_pixels)")
    validate.add_argument("--min-pixels", type=positive_int, default=DEFAULT_MIN_PIXELS,
                          help="the config's min_pixels")
    validate.set_defaults(handler=cmd_validate)

    prepare = sub.add_parser("prepare", help="convert a dataset into the project's format")
    prepare.add_argument("dataset", choices=("sat", "cvbench", "blink", "vsr"))
    prepare.add_argument("--src", default=None, help="local file/folder (default: the hub id)")
    prepare.add_argument("--out", required=True)
    prepare.add_argument("--split", default=None)
    prepare.add_argument("--n", type=positive_int, default=15000, help="SAT: first N raw rows, before filtering")
    prepare.add_argument("--seed", type=int, default=0, help="SAT: seed of the choice shuffle")
    prepare.add_argument("--limit", type=positive_int, default=None, help="keep at most this many records")
    prepare.add_argument("-o", "--option", action="append", default=[], metavar="KEY=VALUE")
    prepare.add_argument("--overwrite", action="store_true")
    prepare.set_defaults(handler=cmd_prepare)


def _add_source_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", metavar="NAME|PATH", help="synthetic, sat, cvbench, blink, vsr, or a path")
    parser.add_argument("--split", default=None)
    parser.add_argument("--limit", type=positive_int, default=None, help="read at most this many records")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--format", default=None, help="records|sat|cvbench|blink|vsr (default: sniffed)")
    parser.add_argument(
        "-o", "--option", action="append", default=[], metavar="KEY=VALUE",
        help="loader option, e.g. image_root=/data/coco or first_n=100 (value parsed as JSON when it can be)",
    )  # fmt: skip


def parse_options(pairs: list[str]) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"--option {pair!r}: expected KEY=VALUE")
        try:
            options[key] = json.loads(value)
        except json.JSONDecodeError:
            options[key] = value
    return options


def _source_options(args: argparse.Namespace) -> dict[str, Any]:
    options = parse_options(args.option)
    if args.format:
        options["format"] = args.format
    return {"split": args.split, "limit": args.limit, "seed": args.seed, **options}


def cmd_synth(args: argparse.Namespace) -> int:
    from visualthinker.data import generate_records, write_records

    tasks = [t.strip() for t in args.tasks.split(",")] if args.tasks else None
    records = generate_records(
        args.n,
        args.seed,
        split=args.split,
        image_size=args.image_size,
        difficulty=args.difficulty,
        tasks=tasks,
    )
    meta = {
        "dataset": "synthetic",
        "split": args.split,
        "seed": args.seed,
        "image_size": args.image_size,
        "difficulty": args.difficulty,
        "tasks": tasks,
    }
    path = write_records(records, args.out, meta, overwrite=args.overwrite)
    print(f"wrote {len(records)} synthetic {args.split} records to {path} ({_counts(records, 'task')})")
    return 0


def _counts(records: list, attr: str) -> str:
    return ", ".join(f"{k}: {v}" for k, v in sorted(Counter(str(getattr(r, attr)) for r in records).items()))


def cmd_inspect(args: argparse.Namespace) -> int:
    from visualthinker.data import load_records

    records = load_records(args.source, **_source_options(args))
    samples = []
    for record in records[: max(0, args.samples)]:
        images = record.load_images()
        samples.append(
            {
                "id": record.id,
                "origin": record.origin,
                "task": record.task,
                "subtask": record.subtask,
                "prompt": record.prompt,
                "choices": record.choices,
                "answer": record.answer,
                "answer_letter": record.answer_letter,
                "image_sizes": [list(im.size) for im in images],
            }
        )
    # Sizes over a bounded prefix: decoding every image of a large set would make inspect slow.
    sizes = Counter(
        "x".join(map(str, image.size)) for record in records[:SIZE_PROBE] for image in record.load_images()
    )
    summary = {
        "source": records.origin,
        "records": len(records),
        "skipped": dict(records.skipped),
        "tasks": dict(Counter(r.task for r in records)),
        "subtasks": dict(Counter(str(r.subtask) for r in records)),
        "images_per_record": dict(Counter(len(r.images) for r in records)),
        "image_sizes": dict(sizes.most_common(10)),
        "samples": samples,
    }
    if args.json:
        print(json.dumps(summary, indent=2, ensure_ascii=False))
        return 0
    print(f"{summary['source']}: {len(records)} records")
    if records.skipped:
        print("skipped: " + ", ".join(f"{n} {reason}" for reason, n in sorted(records.skipped.items())))
    print(f"tasks: {_counts(records, 'task')}")
    print(f"subtasks: {_counts(records, 'subtask')}")
    probe = min(len(records), SIZE_PROBE)
    print(
        f"image sizes (first {probe} records): "
        + ", ".join(f"{k}: {v}" for k, v in summary["image_sizes"].items())
    )
    for sample in samples:
        print(f"\n[{sample['id']}] {sample['origin']}  task={sample['task']} subtask={sample['subtask']}")
        print(f"  images: {' '.join('x'.join(map(str, s)) for s in sample['image_sizes'])}")
        print(f"  prompt: {sample['prompt']!r}")
        letter = f" ({sample['answer_letter']})" if sample["answer_letter"] else ""
        print(f"  choices: {sample['choices']}  answer: {sample['answer']!r}{letter}")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from visualthinker.data import validate_source

    records, problems = validate_source(
        args.source, decode_images=not args.no_images, max_pixels=args.max_pixels, min_pixels=args.min_pixels,
        **_source_options(args),
    )
    for problem in problems:
        print(f"problem: {problem}")
    count = len(records) if records is not None else 0
    skipped = dict(records.skipped) if records is not None else {}
    extra = f"; skipped {skipped}" if skipped else ""
    if problems:
        print(f"{len(problems)} problem(s) in {count} records{extra}")
        return 1
    print(f"ok: {count} records, no problems{extra}")
    return 0


def cmd_prepare(args: argparse.Namespace) -> int:
    from visualthinker.data import load_records, write_records
    from visualthinker.data.loader import HUB_IDS

    options = parse_options(args.option)
    if args.dataset == "sat":
        options.setdefault("first_n", args.n)
    source = args.src or HUB_IDS[args.dataset]
    records = load_records(
        source, format=args.dataset, split=args.split, limit=args.limit, seed=args.seed, **options
    )
    meta = {
        "dataset": args.dataset,
        "src": str(source),
        "split": args.split,
        "seed": args.seed,
        "options": options,
        "skipped": dict(records.skipped),
    }
    path = write_records(records, args.out, meta, overwrite=args.overwrite)
    skipped = ", ".join(f"{n} {reason}" for reason, n in sorted(records.skipped.items())) or "nothing"
    print(
        f"wrote {len(records)} {args.dataset} records to {path}; skipped {skipped} ({_counts(records, 'task')})"
    )
    return 0
