"""`visualthinker eval` (generate + score on CV-Bench / BLINK / VSR / synthetic) and `visualthinker compare`
(results files side by side in the layout of the paper's Table 3)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from visualthinker.cli.argtypes import positive_int
from visualthinker.errors import ConfigError, DataError
from visualthinker.jsonl import iter_objects

BENCHES = ("cvbench", "blink", "vsr", "synthetic")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "eval", help="evaluate a model (or precomputed responses) on CV-Bench, BLINK, VSR",
        description="Greedy evaluation with strict and paper-compatible scoring. Re-running with the same "
                    "--output resumes. Runs sharded under torchrun / accelerate launch --multi_gpu.")
    p.add_argument("--model", help="model directory or hub id (not needed with --predictions)")
    p.add_argument("--bench", default="cvbench,blink,vsr",
                   help=f"comma-separated benchmarks from {', '.join(BENCHES)} (default: cvbench,blink,vsr)")
    p.add_argument("--data", action="append", default=[], metavar="BENCH=PATH",
                   help="local dataset path for a benchmark, e.g. cvbench=/data/CV-Bench (repeatable; with a "
                        "single --bench a bare PATH will do); without it the hub id is used")
    p.add_argument("--data-option", action="append", default=[], metavar="BENCH.KEY=VALUE",
                   help="loader option, e.g. vsr.image_root=/data/coco or blink.subtasks=Relative_Depth "
                        "(repeatable; comma-separated values become lists)")
    p.add_argument("--prompt", choices=("reasoning", "direct"), default="reasoning",
                   help="reasoning: the R1 prompt with <think>; direct: the scripts' no-reasoning prompt")
    p.add_argument("--template", choices=("base", "instruct"), default="base",
                   help="base: flat prompt for a base model; instruct: the model's chat template")
    p.add_argument("--literal-image-tag", action=argparse.BooleanOptionalAction, default=None,
                   help="the literal '<image>' string after the vision tokens; default: as the original scripts "
                        "(base: on, instruct: off)")
    p.add_argument("--limit", type=positive_int, help="first N items of each benchmark")
    p.add_argument("--batch-size", type=positive_int, default=8)
    p.add_argument("--max-new-tokens", type=positive_int, help="default 1024 (the original scripts')")
    p.add_argument("--decoding", choices=("explicit", "paper"), default="explicit",
                   help="explicit (default): greedy, no repetition penalty, the checkpoint's generation_config "
                        "ignored; paper: the original scripts' effective decoding (greedy, the checkpoint's "
                        "repetition_penalty, 1.05 for Qwen2-VL-2B; 1024 new tokens)")
    p.add_argument("--dtype", choices=("auto", "float32", "bfloat16", "float16"), default="auto",
                   help="auto: bfloat16 on GPU, float32 on CPU")
    p.add_argument("--max-pixels", type=positive_int, help="override the processor's max_pixels")
    p.add_argument("--min-pixels", type=positive_int, help="override the processor's min_pixels")
    p.add_argument("--scoring", choices=("strict", "paper"), default="strict",
                   help="headline scoring (both are always computed and stored)")
    p.add_argument("--predictions", metavar="FILE.jsonl",
                   help="score precomputed responses (lines with id, response[, bench, response_tokens]) "
                        "instead of generating; id is the internal one (cvbench-12) or the dataset's (idx 12)")
    p.add_argument("--output", required=True, help="results.json to write (and resume from)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(handler=_run_eval)

    c = subparsers.add_parser("compare", help="results files side by side (paper Table 3 layout)",
                              description="Print a markdown (or CSV) table: CV-Bench Count, Relation, Depth, "
                                          "Distance, Total | BLINK Relative Depth, Spatial Relation, Average | VSR.")
    c.add_argument("results", nargs="+", help="results.json files from `visualthinker eval`")
    c.add_argument("--labels", help="comma-separated row labels (default: model directory names)")
    c.add_argument("--scoring", choices=("strict", "paper"),
                   help="which scoring to show (default: each file's headline)")
    c.add_argument("--official", action="store_true", help="add the official CV-Bench score as a last column")
    c.add_argument("--csv", action="store_true", help="CSV instead of markdown")
    c.set_defaults(handler=_run_compare)


def _parse_benches(text: str) -> list[str]:
    benches = [b.strip().lower().replace("-", "") for b in text.split(",") if b.strip()]
    unknown = [b for b in benches if b not in BENCHES]
    if unknown or not benches:
        raise ConfigError(f"--bench {text!r}: unknown benchmark(s) {unknown}; choose from {', '.join(BENCHES)}")
    return list(dict.fromkeys(benches))


def _parse_data(pairs: list[str], benches: list[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        bench, sep, path = pair.partition("=")
        bench = bench.strip().lower().replace("-", "")
        if not sep or bench not in BENCHES:
            if len(benches) != 1:  # a bare path: only unambiguous with one benchmark
                raise ConfigError(f"--data {pair!r} must be BENCH=PATH with BENCH one of {', '.join(BENCHES)} "
                                  f"(a bare PATH only with a single --bench)")
            bench, path = benches[0], pair
        if not path:
            raise ConfigError(f"--data {pair!r} has no path; give BENCH=PATH")
        if bench not in benches:
            raise ConfigError(f"--data {pair!r} names {bench}, which is not in --bench {','.join(benches)}")
        if bench in out:
            raise ConfigError(f"--data gives two paths for {bench} ({out[bench]!r}, {path!r}); give one")
        out[bench] = path
    return out


def _parse_options(pairs: list[str]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        bench, dot, name = key.partition(".")
        if not sep or not dot or not name:
            raise ConfigError(f"--data-option {pair!r} must be BENCH.KEY=VALUE, e.g. vsr.image_root=/data/coco")
        out.setdefault(bench.strip().lower(), {})[name.strip()] = value.split(",") if "," in value else value
    return out


def load_benchmarks(benches: list[str], data: dict[str, str], options: dict[str, dict[str, Any]],
                    limit: int | None) -> dict[str, list]:
    from visualthinker.data import load_records

    records = {}
    for bench in benches:
        source = data.get(bench, bench)
        kwargs = dict(options.get(bench, {}))
        if bench in data and bench != "synthetic":
            kwargs.setdefault("format", bench)  # a path given for cvbench must be read as CV-Bench
        if bench == "synthetic" and bench not in data:
            kwargs.setdefault("split", "test")  # held out from the synthetic training split
        records[bench] = list(load_records(source, limit=limit, **kwargs))
        if not records[bench]:
            raise DataError(f"{bench}: no records loaded from {source!r}; check --data / --data-option")
    return records


def read_predictions(path: str) -> list[dict]:
    file = Path(path)
    if file.is_dir():
        raise DataError(f"--predictions {path} is a directory; give a .jsonl file with one {{id, response}} per line")
    if not file.is_file():
        raise DataError(f"--predictions {path}: file not found; give a .jsonl with one {{id, response}} per line")
    out: list[dict] = []
    for n, row in iter_objects(file, DataError, label=f"--predictions {path}", hint="; fix or remove the line"):
        if "id" not in row or not isinstance(row.get("response"), str):
            raise DataError(f"--predictions {path} line {n} needs fields 'id' and 'response' (a string)")
        out.append(row)
    return out


def _dtype(name: str) -> str:
    if name != "auto":
        return name
    import torch

    return "bfloat16" if torch.cuda.is_available() else "float32"


def _print_summary(data: dict[str, Any]) -> None:
    summary = data["summary"]
    scoring = summary["scoring"]
    for bench, s in summary["benches"].items():
        block = s[scoring]
        ci = block.get("ci95") or [float("nan"), float("nan")]
        parts = [f"{bench}: n={s['n']} accuracy[{scoring}]={100 * block['accuracy']:.2f} "
                 f"(95% CI {100 * ci[0]:.2f}-{100 * ci[1]:.2f})",
                 f"paper={100 * s['paper']['accuracy']:.2f}" if scoring == "strict" else
                 f"strict={100 * s['strict']['accuracy']:.2f}",
                 f"format_failures={100 * s['format_failure_rate']:.1f}%"]
        if block.get("official") is not None:
            parts.append(f"official={100 * block['official']:.2f}")
        if block.get("subset_mean") is not None:
            parts.append(f"subset_mean={100 * block['subset_mean']:.2f}")
        if s.get("response_length") is not None:
            parts.append(f"response_tokens={s['response_length']:.1f}")
        print(" ".join(parts))
    thr = summary.get("throughput")
    if thr:
        print(f"throughput: {thr['items_per_s']:.3f} items/s, {thr['tokens_per_s']:.1f} tokens/s "
              f"({thr['items']} items in {thr['seconds']:.1f} s on {thr['processes']} process(es))")


def _run_eval(args: argparse.Namespace) -> int:
    from visualthinker.evaluation.results import write_results
    from visualthinker.evaluation.runner import (
        ModelResponder,
        eval_prompt_spec,
        run_eval,
        score_predictions,
    )

    benches = _parse_benches(args.bench)
    output = Path(args.output)
    if output.is_dir():
        raise ConfigError(f"--output {args.output} is a directory; give a file path such as "
                          f"{output / 'results.json'}")
    data = _parse_data(args.data, benches)
    options = _parse_options(args.data_option)
    if args.limit is not None and args.limit < 1:
        raise ConfigError(f"--limit must be >= 1, got {args.limit}")
    if args.batch_size < 1 or (args.max_new_tokens is not None and args.max_new_tokens < 1):
        raise ConfigError("--batch-size and --max-new-tokens must be >= 1")
    if not args.predictions and not args.model:
        raise ConfigError("give --model DIR to generate, or --predictions FILE.jsonl to score saved responses")
    if not args.predictions:
        from visualthinker.evaluation.decoding import eval_sampling

        eval_sampling(args.decoding, None, args.max_new_tokens)  # bad combinations stop before anything loads
    predictions = read_predictions(args.predictions) if args.predictions else None
    records = load_benchmarks(benches, data, options, args.limit)
    spec = eval_prompt_spec(args.prompt, args.template, literal_image_tag=args.literal_image_tag)
    config: dict[str, Any] = {
        "model": None if predictions is not None else args.model,
        "predictions": args.predictions,
        "benches": benches, "data": data, "data_options": options, "limit": args.limit,
        "prompt": args.prompt, "template": args.template, "literal_image_tag": spec.literal_image_tag,
        "max_new_tokens": args.max_new_tokens, "batch_size": args.batch_size, "scoring": args.scoring,
        "decoding": None, "dtype": None, "max_pixels": args.max_pixels, "min_pixels": args.min_pixels,
    }
    if predictions is not None:
        result = score_predictions(records, predictions, config, args.scoring, f"--predictions {args.predictions}",
                                   allow_unmatched=args.limit is not None)
        write_results(args.output, result)
        _print_summary(result)
        cfg = result["config"]
        if cfg["predictions_unmatched"] or cfg["predictions_skipped"]:
            print(f"--predictions: {cfg['predictions_unmatched']} response(s) outside --limit and "
                  f"{cfg['predictions_skipped']} for benchmarks not in --bench were not scored")
        return 0

    from visualthinker.evaluation.decoding import decoding_record, eval_sampling
    from visualthinker.evaluation.runner import process_state
    from visualthinker.models.adapter import get_adapter

    state = process_state()
    config["dtype"] = _dtype(args.dtype)
    adapter = get_adapter(args.model)
    processor = adapter.load_processor(args.model, min_pixels=args.min_pixels, max_pixels=args.max_pixels)
    model = adapter.load_model(args.model, config["dtype"]).to(state.device).eval()
    sampling = eval_sampling(args.decoding, getattr(model, "generation_config", None), args.max_new_tokens)
    config["max_new_tokens"] = sampling.max_new_tokens
    config["decoding"] = decoding_record(args.decoding, sampling)
    responder = ModelResponder(model, adapter, processor, spec, sampling=sampling)
    result = run_eval(records, responder, args.output, config, batch_size=args.batch_size,
                      headline=args.scoring, progress=not args.no_progress)
    if result is not None:
        _print_summary(result)
        print(f"wrote {args.output}")
    return 0


def _run_compare(args: argparse.Namespace) -> int:
    from visualthinker.evaluation.compare import default_label, render_csv, render_markdown, table_rows
    from visualthinker.evaluation.results import read_results

    data = [read_results(p) for p in args.results]
    if args.labels:
        labels = [s.strip() for s in args.labels.split(",")]
        if len(labels) != len(data):
            raise ConfigError(f"--labels has {len(labels)} names for {len(data)} results files; give one per file")
    else:
        labels = [default_label(p, d) for p, d in zip(args.results, data, strict=True)]
    header, rows = table_rows(data, labels, args.scoring, official=args.official)
    print(render_csv(header, rows) if args.csv else render_markdown(header, rows))
    return 0
