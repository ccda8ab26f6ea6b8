"""The evaluation loop: batched greedy generation, scoring, incremental progress, resume and sharding.

Items are generated longest prompt first, in batches of similar length (less left padding, and an
out-of-memory batch shows up at the start rather than after an hour). Under `torchrun` or
`accelerate launch --multi_gpu` the pending items are dealt round-robin to the processes, each process appends
its finished batches to its own sidecar, and process 0 merges everything into one results.json.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from tqdm.auto import tqdm

from visualthinker.data.record import Record
from visualthinker.errors import DataError
from visualthinker.evaluation import metrics
from visualthinker.evaluation import results as res
from visualthinker.evaluation.scoring import score_paper, score_strict
from visualthinker.evaluation.subset import image_source
from visualthinker.generation import HFGenerator, SamplingConfig
from visualthinker.prompts import INSTRUCT_EVAL_SUFFIX, PromptSpec


@dataclass(frozen=True)
class Response:
    text: str
    tokens: int | None  # generated tokens up to and including the stop token (as the trainer counts)
    finished: bool | None  # False: cut at max_new_tokens


class Responder(Protocol):
    def prompt_length(self, record: Record) -> int: ...

    def __call__(self, records: list[Record]) -> list[Response]: ...


def eval_prompt_spec(prompt: str = "reasoning", template: str = "base",
                     literal_image_tag: bool | None = None) -> PromptSpec:
    """The evaluation scripts' prompts: reasoning/direct x base/instruct (instruct uses the eval suffix).

    `literal_image_tag=None` follows the scripts: the base scripts sent "<image>" + prompt after the image, the
    instruct scripts the benchmark prompt alone.
    """
    if prompt not in ("reasoning", "direct"):
        raise ValueError(f"unknown prompt {prompt!r}; choose reasoning or direct")
    tag = template == "base" if literal_image_tag is None else literal_image_tag
    if template == "base":
        return PromptSpec("base" if prompt == "reasoning" else "direct", literal_image_tag=tag)
    if template == "instruct":
        suffix = INSTRUCT_EVAL_SUFFIX if prompt == "reasoning" else ""
        return PromptSpec("instruct", literal_image_tag=tag, instruct_suffix=suffix)
    raise ValueError(f"unknown template {template!r}; choose base or instruct")


def periodic_eval_spec(train_spec: PromptSpec) -> PromptSpec:
    """The prompt periodic evaluation uses for a policy trained with `train_spec`: the evaluation scripts' one.

    For instruct that is the eval suffix ("\\nOutput the thinking process ... final answer in <answer>") and no
    literal "<image>" (the training text's tag came from the SAT question); base and direct keep the training
    prompt, which is the scripts' one.
    """
    if train_spec.template == "instruct":
        return eval_prompt_spec("reasoning", "instruct", literal_image_tag=False)
    if train_spec.template == "answer":
        return train_spec
    prompt = "direct" if train_spec.template == "direct" else "reasoning"
    return eval_prompt_spec(prompt, "base", literal_image_tag=train_spec.literal_image_tag)


class ModelResponder:
    """Greedy generation with a transformers model: every decoding option explicit, stop at any stop id."""

    def __init__(self, model, adapter, processor, spec: PromptSpec, max_new_tokens: int = 1024,
                 max_pixels: int | None = None, min_pixels: int | None = None,
                 sampling: SamplingConfig | None = None) -> None:
        self.adapter, self.processor, self.spec = adapter, processor, spec
        self.generator = HFGenerator(model, adapter, processor)
        self.sampling = sampling or SamplingConfig.greedy(max_new_tokens)
        image_processor = getattr(processor, "image_processor", None)
        self.max_pixels = max_pixels or getattr(image_processor, "max_pixels", None)
        self.min_pixels = min_pixels or getattr(image_processor, "min_pixels", None)
        self._lengths: dict[int, int] = {}

    def render(self, record: Record) -> str:
        return self.adapter.render_prompt(self.processor, self.spec, record.prompt, len(record.images))

    def prompt_length(self, record: Record) -> int:
        # Text tokens only: every image is bounded by the same max_pixels, so text length drives the spread.
        key = id(record)
        if key not in self._lengths:
            self._lengths[key] = len(self.processor.tokenizer(self.render(record))["input_ids"])
        return self._lengths[key]

    def __call__(self, records: list[Record]) -> list[Response]:
        texts = [self.render(r) for r in records]
        images = [r.load_images(self.max_pixels, self.min_pixels) for r in records]
        batch = self.adapter.encode(self.processor, texts, images)
        rollout = self.generator.generate(batch, 1, self.sampling)
        return [Response(self.spec.scored_text(text), int(n), bool(done)) for text, n, done in
                zip(rollout.texts, rollout.lengths.tolist(), rollout.finished.tolist(), strict=True)]


def dataset_id(record: Record) -> str | None:
    """The dataset's own id of a record (CV-Bench and BLINK `idx`), which saved responses usually carry."""
    value = record.raw.get("idx")
    return None if value is None else str(value)


def make_item(bench: str, record: Record) -> dict[str, Any]:
    return {
        "id": str(record.id), "dataset_id": dataset_id(record), "bench": bench, "task": record.task,
        "subtask": record.subtask,
        "image_source": image_source(record), "question": record.prompt, "choices": list(record.choices),
        "gold": record.answer, "gold_letter": record.answer_letter,
    }


def score_item(item: dict[str, Any], response: Response) -> dict[str, Any]:
    """The item with its response and both scorings."""
    choices, gold, letter = item["choices"], item["gold"], item["gold_letter"]
    strict = score_strict(response.text, choices, gold, letter)
    paper = score_paper(response.text, choices, gold, letter)
    return {
        **item,
        "response": response.text,
        "answer": strict.answer,
        "parsed": None if strict.index is None else choices[strict.index],
        "correct": strict.correct,
        "format_failure": strict.format_failure,
        "invalid_answer": strict.invalid_answer,
        "paper_answer": paper.answer,
        "paper_prediction": paper.prediction,
        "correct_paper": paper.correct,
        "response_tokens": response.tokens,
        "finished": response.finished,
    }


def generate_items(
    pending: Sequence[tuple[dict, Record]],
    responder: Responder,
    batch_size: int,
    on_batch: Callable[[list[dict]], None] | None = None,
    progress: bool = True,
    desc: str = "eval",
) -> tuple[list[dict], dict[str, Any]]:
    """Generate and score `pending` (item, record) pairs; returns the scored items (input order) and throughput."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    order = sorted(range(len(pending)), key=lambda i: -responder.prompt_length(pending[i][1]))
    scored: dict[int, dict] = {}
    tokens = 0
    start = time.perf_counter()
    with tqdm(total=len(pending), desc=desc, unit="item", disable=not progress) as bar:
        for b in range(0, len(order), batch_size):
            idx = order[b:b + batch_size]
            responses = responder([pending[i][1] for i in idx])
            rows = [score_item(pending[i][0], r) for i, r in zip(idx, responses, strict=True)]
            tokens += sum(r.tokens or 0 for r in responses)
            scored.update(zip(idx, rows, strict=True))
            if on_batch is not None:
                on_batch(rows)
            bar.update(len(idx))
            elapsed = time.perf_counter() - start
            bar.set_postfix(tok_s=f"{tokens / elapsed:.1f}" if elapsed > 0 else "-")
    seconds = time.perf_counter() - start
    throughput = {
        "items": len(pending), "tokens": tokens, "seconds": seconds,
        "items_per_s": len(pending) / seconds if seconds > 0 and pending else None,
        "tokens_per_s": tokens / seconds if seconds > 0 and pending else None,
    }
    return [scored[i] for i in range(len(pending))], throughput


def evaluate_records(
    model,
    adapter,
    processor,
    records: Sequence[Record],
    prompt_spec: PromptSpec,
    *,
    max_new_tokens: int = 1024,
    batch_size: int = 8,
    scoring: str = "strict",
    bench: str | None = None,
    return_items: bool = False,
    progress: bool = False,
    synced_gpus: bool = False,
) -> dict[str, Any]:
    """Evaluate a plain (unwrapped) model on `records` in this process; for periodic evaluation in training.

    Returns {"accuracy" (the `scoring` one), "accuracy_strict", "accuracy_paper", "response_length",
    "format_failure_rate", "n", "items_per_s", "tokens_per_s"} plus "items" when `return_items`. With no
    records the rates are 0.0 and n is 0, so that n-weighted sums across ranks stay valid.
    The model's train/eval mode is restored afterwards. `synced_gpus` is for ZeRO-3 / FSDP, where every rank
    must call this with the same number of batches.
    """
    if scoring not in metrics.SCORINGS:
        raise ValueError(f"unknown scoring {scoring!r}; choose one of {metrics.SCORINGS}")
    responder = ModelResponder(model, adapter, processor, prompt_spec, max_new_tokens)
    responder.generator.synced_gpus = synced_gpus
    pending = [(make_item(bench or r.source, r), r) for r in records]
    was_training = model.training
    model.eval()
    try:
        items, throughput = generate_items(pending, responder, batch_size, progress=progress)
    finally:
        model.train(was_training)
    summary = metrics.bench_summary(bench or "records", items, scoring)
    def rate(value: float | None) -> float:
        return 0.0 if value is None else float(value)

    out: dict[str, Any] = {
        "accuracy": rate(summary["accuracy"]),
        "accuracy_strict": rate(summary["strict"]["accuracy"]),
        "accuracy_paper": rate(summary["paper"]["accuracy"]),
        "response_length": rate(summary["response_length"]),
        "format_failure_rate": rate(summary["format_failure_rate"]),
        "n": summary["n"],
        "items_per_s": throughput["items_per_s"],
        "tokens_per_s": throughput["tokens_per_s"],
    }
    if return_items:
        out["items"] = items
    return out


def build_items(records_by_bench: dict[str, Sequence[Record]]) -> list[tuple[dict, Record]]:
    pairs, seen = [], set()
    for bench, records in records_by_bench.items():
        for record in records:
            item = make_item(bench, record)
            key = res.item_key(item)
            if key in seen:
                raise DataError(f"{bench}: record id {record.id!r} occurs twice; ids must be unique per benchmark "
                                "(check the dataset or the loader)")
            seen.add(key)
            pairs.append((item, record))
    return pairs


def finalize(items: list[dict], config: dict[str, Any], headline: str,
             throughput: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "format": res.RESULTS_FORMAT,
        "config": config,
        "summary": {"scoring": headline, "benches": metrics.summarize(items, headline), "throughput": throughput},
        "items": items,
    }


def match_predictions(items: Sequence[dict], predictions: Sequence[dict],
                      source: str) -> tuple[dict[tuple[str, str], dict], list[dict]]:
    """Each saved response's item, by the internal id ("cvbench-12") or the dataset's own id (CV-Bench `idx`
    12), within its `bench` when the line names one. Returns (item key -> prediction, predictions matching no
    item). An id that fits several items, or two responses for one item, is an error."""
    index: dict[str, list[tuple[str, str]]] = {}
    for item in items:
        for name in dict.fromkeys(n for n in (item["id"], item.get("dataset_id")) if n is not None):
            index.setdefault(str(name), []).append(res.item_key(item))
    matched: dict[tuple[str, str], dict] = {}
    unmatched: list[dict] = []
    for pred in predictions:
        bench = pred.get("bench")
        keys = [k for k in index.get(str(pred["id"]), []) if bench is None or k[0] == str(bench)]
        if not keys:
            unmatched.append(pred)
            continue
        if len(keys) > 1:
            names = ", ".join(f"{b}:{i}" for b, i in keys)
            raise DataError(f"{source}: id {pred['id']!r} fits several items ({names}); add a 'bench' field to "
                            "that line, or use the internal id")
        if keys[0] in matched:
            raise DataError(f"{source}: two responses for {keys[0][0]}:{keys[0][1]} (ids {matched[keys[0]]['id']!r} "
                            f"and {pred['id']!r}); keep one")
        matched[keys[0]] = pred
    return matched, unmatched


def score_predictions(records_by_bench: dict[str, Sequence[Record]], predictions: Sequence[dict],
                      config: dict[str, Any], headline: str, source: str,
                      allow_unmatched: bool = False) -> dict[str, Any]:
    """Score saved responses ({"id", "response"[, "bench", "response_tokens", "finished"]} per prediction).

    Every item must have a response: a missing one is an error (the original's re-scoring silently dropped the
    last item). A response that fits no item is an error too, unless `allow_unmatched` (a --limit run scores
    only part of the file); responses for benchmarks not evaluated are skipped. Both counts go in the config.
    """
    pairs = build_items(records_by_bench)
    evaluated = set(records_by_bench)
    wanted = [p for p in predictions if p.get("bench") is None or str(p["bench"]) in evaluated]
    matched, unmatched = match_predictions([it for it, _ in pairs], wanted, source)
    if unmatched and not allow_unmatched:
        shown = ", ".join(repr(p["id"]) for p in unmatched[:5])
        raise DataError(f"{source}: {len(unmatched)} response(s) fit no item of {', '.join(sorted(evaluated))} "
                        f"(ids {shown}); use the internal id (\"cvbench-12\") or the dataset's own (idx 12), "
                        "and a 'bench' field that names an evaluated benchmark")
    items, missing = [], []
    for item, _ in pairs:
        pred = matched.get(res.item_key(item))
        if pred is None:
            missing.append(f"{item['bench']}:{item['id']}")
            continue
        items.append(score_item(item, Response(str(pred["response"]), pred.get("response_tokens"),
                                               pred.get("finished"))))
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise DataError(f"{source} has no response for {len(missing)} item(s): {shown}; "
                        "add them, or evaluate fewer items with --limit/--bench")
    config = {**config, "predictions_unmatched": len(unmatched),
              "predictions_skipped": len(predictions) - len(wanted)}
    return finalize(items, config, headline, None)


def _merge_throughput(lines: list[dict], run_id: str) -> dict[str, Any] | None:
    ours = [t for t in lines if t.get("run") == run_id]
    if not ours:
        return None
    items = sum(t["items"] for t in ours)
    tokens = sum(t["tokens"] for t in ours)
    seconds = max(t["seconds"] for t in ours)  # processes run concurrently: the slowest one sets the wall time
    return {
        "items": items, "tokens": tokens, "seconds": seconds, "processes": len(ours),
        "items_per_s": items / seconds if seconds > 0 else None,
        "tokens_per_s": tokens / seconds if seconds > 0 else None,
    }


def process_state():
    """accelerate's process state; on a machine without CUDA it sets up gloo for torchrun / accelerate launch
    (accelerate only picks the multi-CPU backend when asked for CPU explicitly)."""
    import torch
    from accelerate import PartialState

    return PartialState(cpu=not torch.cuda.is_available())


def run_eval(
    records_by_bench: dict[str, Sequence[Record]],
    responder: Responder,
    output: str | Path,
    config: dict[str, Any],
    *,
    batch_size: int = 8,
    headline: str = "strict",
    progress: bool = True,
) -> dict[str, Any] | None:
    """Generate what `output` does not hold yet, sharded over the processes; process 0 writes results.json.

    Returns the results dict on process 0 and None on the others.
    """
    from accelerate.utils import broadcast_object_list

    state = process_state()
    output = Path(output)
    pairs = build_items(records_by_bench)

    done: dict[tuple[str, str], dict] = {}
    if output.exists():
        previous = res.read_results(output)
        res.check_resumable(output, config, [previous.get("config", {})])
        done.update((res.item_key(it), it) for it in previous["items"])
    metas, partial_items, _ = res.read_partials(output)
    res.check_resumable(output, config, metas)
    done.update((res.item_key(it), it) for it in partial_items)
    run_id = [uuid.uuid4().hex]
    broadcast_object_list(run_id)
    # Every process must have read the sidecars before any process appends to them, or the shares would differ.
    state.wait_for_everyone()

    pending = [(it, r) for it, r in pairs if res.item_key(it) not in done]
    order = sorted(range(len(pending)), key=lambda i: -responder.prompt_length(pending[i][1]))
    share = [pending[i] for i in order[state.process_index::state.num_processes]]
    sidecar = res.partial_path(output, state.process_index)
    output.parent.mkdir(parents=True, exist_ok=True)
    if share:
        res.drop_torn_line(sidecar)
        res.append_jsonl(sidecar, [{"_meta": config}])
        _, throughput = generate_items(share, responder, batch_size,
                                       on_batch=lambda rows: res.append_jsonl(sidecar, rows),
                                       progress=progress and state.is_main_process,
                                       desc=f"eval[{state.process_index}]" if state.num_processes > 1 else "eval")
        res.append_jsonl(sidecar, [{"_throughput": {**throughput, "run": run_id[0]}}])
    state.wait_for_everyone()
    if not state.is_main_process:
        return None

    _, partial_items, throughputs = res.read_partials(output)
    done.update((res.item_key(it), it) for it in partial_items)
    missing = [f"{it['bench']}:{it['id']}" for it, _ in pairs if res.item_key(it) not in done]
    if missing:
        raise DataError(f"{len(missing)} item(s) were not generated (e.g. {missing[0]}); a process failed; "
                        f"re-run with the same --output {output} to resume")
    items = [done[res.item_key(it)] for it, _ in pairs]
    data = finalize(items, {**config, "num_processes": state.num_processes}, headline,
                    _merge_throughput(throughputs, run_id[0]))
    res.write_results(output, data)
    for path in res.partial_paths(output):
        path.unlink()  # everything is in results.json now, which a re-run also resumes from
    return data
