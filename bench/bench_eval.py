"""Evaluation throughput of the tiny random model on N synthetic items, on this machine.

    python bench/bench_eval.py [--n 32] [--batch-size 8] [--max-new-tokens 64] [--threads N]

A random model rarely emits a stop token, so nearly every item generates the full --max-new-tokens: the
numbers measure the generation loop (prompt encoding, image processing, batched greedy decoding, scoring),
not a trained model's answer lengths.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import torch

from visualthinker.data import load_records
from visualthinker.evaluation import eval_prompt_spec, evaluate_records
from visualthinker.models.adapter import get_adapter
from visualthinker.models.tiny import build_tiny_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    with tempfile.TemporaryDirectory() as tmp:
        path = str(build_tiny_model(tmp))
        adapter = get_adapter(path)
        processor = adapter.load_processor(path)
        model = adapter.load_model(path, "float32").eval()
        records = load_records("synthetic", split="test", limit=args.n)
        spec = eval_prompt_spec("reasoning", "base")
        # warm-up: first calls pay one-off costs (kernel selection, tokenizer caches)
        evaluate_records(model, adapter, processor, records[: min(2, len(records))], spec,
                         max_new_tokens=4, batch_size=2)
        start = time.perf_counter()
        out = evaluate_records(model, adapter, processor, records, spec, max_new_tokens=args.max_new_tokens,
                               batch_size=args.batch_size, return_items=True)
        wall = time.perf_counter() - start
    tokens = sum(it["response_tokens"] for it in out["items"])
    print(f"device: cpu, torch threads: {torch.get_num_threads()}")
    print(f"items: {out['n']}, batch size: {args.batch_size}, max_new_tokens: {args.max_new_tokens}")
    print(f"generated tokens: {tokens} (mean {out['response_length']:.1f} per item)")
    print(f"generation loop: {out['items_per_s']:.2f} items/s, {out['tokens_per_s']:.1f} tokens/s")
    print(f"end to end (incl. scoring and metrics): {out['n'] / wall:.2f} items/s, {tokens / wall:.1f} tokens/s")


if __name__ == "__main__":
    main()
