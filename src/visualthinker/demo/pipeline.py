"""The micro R1-Zero demo: synthetic spatial data -> pretrained tiny base VLM -> evaluate -> GRPO with the
paper's recipe (base prompt ending in "<think>", accuracy + format rewards, no SFT) -> evaluate -> report.

Evaluation is greedy decoding on the held-out synthetic test split with the strict parser: a completion
counts only when it has exactly one <answer> block naming exactly one choice, so a base model that never
writes the tags scores 0 there even if its prose happens to mention the right object.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from visualthinker.config import build_config
from visualthinker.data.record import Record
from visualthinker.data.synthetic import generate_records
from visualthinker.demo.corpus import CorpusSpec
from visualthinker.demo.outcomes import length_growth, length_pays, run_targets
from visualthinker.demo.pretrain import PretrainSpec, cached_pretrain, pretrain, weights_digest
from visualthinker.demo.probes import counting_by_listing, load_for_inference, perception_of
from visualthinker.errors import ConfigError, DataError
from visualthinker.generation.base import SamplingConfig
from visualthinker.generation.hf import HFGenerator
from visualthinker.prompts import PromptSpec
from visualthinker.rewards.functions import format_reward
from visualthinker.rewards.parsing import extract_answer, match_choice, parse_choice

# The GRPO settings of the demo (TrainConfig keys); configs/demo.yaml holds the same values for
# `visualthinker train` (a test keeps the two equal). model_path, output_dir and seed are filled in per run.
DEMO_GRPO: dict[str, Any] = {
    "template": "base",
    "rewards": ["accuracy", "format"],
    # The paper's format pattern also pays for an empty "<answer> </answer>", which the tiny policy finds and
    # settles on within a few dozen steps; the demo requires an answer in the block.
    "reward_options": {"format": {"require_answer": True}},
    "num_generations": 8,
    "per_device_prompts": 8,
    "gradient_accumulation_steps": 1,
    # An enumeration of five shapes and the answer take ~75 tokens; at 64 they were cut off and lost the format.
    "max_completion_length": 128,
    # At 1.0 the tiny base's samples derail within a few tokens (a listing reaches its answer in 9 % of
    # samples, against 52 % greedily); 0.7 keeps them readable (docs/demo.md, stop 20).
    "temperature": 0.7,
    "top_k": 0,
    "top_p": 1.0,
    "beta": 0.04,
    "loss_aggregation": "grpo",
    # 3e-4 wrecked the policy within ~12 steps once long completions were sampled (stop 20).
    "learning_rate": 1.0e-4,
    "lr_scheduler": "constant",
    "warmup_steps": 0,
    "max_steps": 150,
    "min_pixels": 112 * 112,
    "max_pixels": 112 * 112,
    "eval_every": 0,  # the demo evaluates before and after training itself
    "save_every": 0,
    "trajectories_every": 5,
    "trajectory_images": True,
    "report_to": [],
    "progress_bar": False,
}


# The demo's task: how many shapes a scene holds, every shape of its own kind (synthetic `tally`, 2-5 shapes).
DEMO_TASKS = ("tally",)
# The pictures of the pretraining corpus: tally scenes (the demo's kind), same-kind count scenes and depth pairs;
# a fifth of the captions enumerate the shapes one by one before the total, 15 % of those correct a miscount;
# 30 % of the quizzes count the items of a written list, half of them one by one, half at a glance (the answer
# repeats the stated total); 60 % of the attachment chats' replies state the picture's total at a glance
# instead of listing it (docs/demo.md, "Stop 22").
DEMO_CORPUS = CorpusSpec(scene_tasks=("tally", "count", "depth"), enumerate_fraction=0.2, correction_fraction=0.15,
                         counting_fraction=0.3, counting_glance_fraction=0.5, attachment_glance_fraction=0.6)
# The shipped base model's recipe (docs/demo.md: "base G", stop 22; base X before it had the corpus of stop 20): a
# copy-first curriculum -- 1,500 steps of random-id rows with a repeated span, where in-context copying emerges --
# then a look phase -- 400 steps of short left-to-right inventories of fresh scenes, where reading the image pays
# on every token -- then 1,200 steps of the corpus plus, per batch, 16 fresh repeat pages, 4 fresh inventories, 12
# fresh captions (the fixed captions alone are too few image views) and 3 fresh attachment chats (a picture in the
# user's turn, glanced at or listed in the reply's think part before an unrelated quiz: the only bridge from the
# R1-Zero prompt to listing); the learning rate decays only after the copy phase; the output head tied to the
# embedding; a 2-block, 128-wide vision tower (the 1-block, 64-wide one never perceived counts). `visualthinker
# pretrain --seed S` runs it.
DEMO_PRETRAIN = PretrainSpec(corpus=DEMO_CORPUS, tie_embeddings=True, copy_warmup_steps=1500, stream_repeats=16,
                             batch_size=16, learning_rate=1e-3, warmup_steps=100, steps=3100, probe_every=250,
                             vision_depth=2, vision_dim=128, look_warmup_steps=400, stream_looks=4,
                             stream_captions=12, stream_attachments=3, lr_schedule="cosine_after_copy")


@dataclass(frozen=True)
class DemoSettings:
    pretrain: PretrainSpec = DEMO_PRETRAIN
    grpo: dict[str, Any] = field(default_factory=lambda: dict(DEMO_GRPO))
    train_n: int = 1024
    test_n: int = 200
    difficulty: str = "easy"
    eval_batch_size: int = 40
    probe_n: int = 64  # test prompts sampled at the GRPO temperature for the option-copy probe of the base model
    threads: int = 1
    tasks: tuple[str, ...] | None = DEMO_TASKS  # the synthetic set's tasks (None: its default four)
    # "answer" / "direct": the same GRPO without a think part (the "thinking helps" control); "answer"
    # writes "<answer>" into the prompt, so only the choice is learned, "direct" leaves the format to discover
    template: str = "base"
    shipped_base: bool = True  # start from the base model in the package (resources/demo-base) unless rebuilt

    def with_seed(self, seed: int) -> DemoSettings:
        """One seed drives everything: corpus, base-model pretraining, data and GRPO sampling."""
        corpus = dataclasses.replace(self.pretrain.corpus, seed=seed)
        return dataclasses.replace(self, pretrain=dataclasses.replace(self.pretrain, corpus=corpus, seed=seed))

    def with_template(self, template: str) -> DemoSettings:
        """The base prompt (ends in "<think>", think + answer format), or a prompt without a think part whose
        format reward pays for a lone "<answer>...</answer>": `direct` (the format is to be discovered) or
        `answer` (the prompt ends in "<answer>"). Everything else (base model, budget, data) is equal."""
        if template not in ("base", "direct", "answer"):
            raise ConfigError(f"demo template {template!r}: choose base, direct or answer")
        options = {"format": {**self.grpo["reward_options"]["format"], "answer_only": template != "base"}}
        grpo = dict(self.grpo, template=template, reward_options={**self.grpo["reward_options"], **options})
        return dataclasses.replace(self, template=template, grpo=grpo)


def quick_settings() -> DemoSettings:
    """A shortened demo for tests (about half a minute): tiny corpus, few steps, few test records."""
    corpus = dataclasses.replace(DEMO_CORPUS, n_captions=120, n_dialogues=80, n_markup=20, n_prose=10)
    # the shipped recipe in miniature: copy rows first, then the corpus with fresh repeat pages, a tied head
    spec = PretrainSpec(corpus=corpus, vocab_size=400, hidden=32, layers=1, heads=2, kv_heads=1, vision_dim=32,
                        steps=8, batch_size=8, warmup_steps=2, tie_embeddings=True, copy_warmup_steps=3,
                        stream_repeats=2)
    grpo = dict(DEMO_GRPO, num_generations=4, per_device_prompts=2, max_completion_length=16, max_steps=2,
                trajectories_every=1)
    return DemoSettings(pretrain=spec, grpo=grpo, train_n=16, test_n=8, eval_batch_size=8, shipped_base=False)


# -- the shipped base model ----------------------------------------------------------------------------------------
SHIPPED_BASE = Path(__file__).resolve().parents[1] / "resources" / "demo-base"


def shipped_base() -> Path:
    """The base model shipped in the package, after checking its weights against the SHA-256 its pretrain.json
    records (made by `visualthinker pretrain` with the recipe in that file; docs/demo.md has the command)."""
    info_path = SHIPPED_BASE / "pretrain.json"
    weights = SHIPPED_BASE / "model.safetensors"
    if not info_path.exists() or not weights.exists():
        raise DataError(f"the demo's shipped base model is missing from {SHIPPED_BASE}; reinstall visualthinker "
                        "from a full checkout, or rebuild the base with `visualthinker demo --pretrain`")
    expected = json.loads(info_path.read_text())["weights_sha256"]
    if weights_digest(SHIPPED_BASE) != expected:
        raise DataError(f"{weights} does not match the SHA-256 in {info_path} ({expected[:12]}...): the file is "
                        "damaged (a Git LFS pointer?); fetch it again, or rebuild with `visualthinker demo --pretrain`")
    return SHIPPED_BASE


# -- evaluation --------------------------------------------------------------------------------------------------
def _completions(model_dir: str | Path, records: list[Record], sampling: SamplingConfig, batch_size: int,
                 min_pixels: int, max_pixels: int, seed: int | None = None,
                 template: str = "base") -> Iterator[tuple[Record, str, float, int]]:
    """(record, completion, format reward, completion tokens) for each record, with the `template` prompt
    (base: ends in "<think>"; direct: no think part, the format is a lone answer block); `seed` seeds sampling
    after the model is loaded."""
    adapter, processor, model = load_for_inference(model_dir, min_pixels, max_pixels)
    generator = HFGenerator(model, adapter, processor)
    spec = PromptSpec(template=template)
    if seed is not None:
        torch.manual_seed(seed)
    for start in range(0, len(records), batch_size):
        chunk = records[start:start + batch_size]
        images = [r.load_images(max_pixels, min_pixels) for r in chunk]
        texts = [adapter.render_prompt(processor, spec, r.prompt, len(im)) for r, im in zip(chunk, images, strict=True)]
        rollout = generator.generate(adapter.encode(processor, texts, images), 1, sampling)
        scored = [spec.scored_text(text) for text in rollout.texts]
        fmt = format_reward(scored, prefills_think=[spec.prefills_think] * len(chunk), answer_only=template != "base")
        yield from zip(chunk, scored, fmt, rollout.lengths.tolist(), strict=True)


@torch.no_grad()
def evaluate(model_dir: str | Path, records: list[Record], max_new_tokens: int, batch_size: int,
             min_pixels: int, max_pixels: int, template: str = "base") -> dict[str, Any]:
    """Greedy decoding with the `template` prompt through the project's evaluator (`evaluate_records`, strict
    scoring; the original scripts' scoring beside it); format rate, per-task accuracy and whether longer (or
    enumerating) completions are the more accurate ones."""
    from visualthinker.evaluation.runner import evaluate_records

    adapter, processor, model = load_for_inference(model_dir, min_pixels, max_pixels)
    spec = PromptSpec(template=template)
    out = evaluate_records(model, adapter, processor, records, spec, max_new_tokens=max_new_tokens,
                           batch_size=batch_size, return_items=True, bench="demo")
    items = out["items"]
    texts = [it["response"] for it in items]
    formatted = format_reward(texts, prefills_think=[spec.prefills_think] * len(texts), answer_only=template != "base")
    per_task: dict[str, list[bool]] = {}
    for it in items:
        per_task.setdefault(it["task"], []).append(it["correct"])
    n = max(len(records), 1)
    return {
        "n": len(records), "accuracy": out["accuracy_strict"], "accuracy_paper_scoring": out["accuracy_paper"],
        "format_rate": sum(formatted) / n,
        "response_length": statistics.fmean(it["response_tokens"] for it in items) if items else 0.0,
        "per_task_accuracy": {t: sum(v) / len(v) for t, v in sorted(per_task.items())},
        "length_pays": length_pays([(it["response"], it["response_tokens"], it["correct"]) for it in items]),
        "samples": [{"task": r.task, "question": r.question, "answer": r.answer, "completion": it["response"]}
                    for r, it in zip(records[:6], items[:6], strict=True)],
    }


def stated_answer(completion: str) -> str | None:
    """What a completion gives as its answer: the <answer> block, else "the answer is X", else the first line
    after </think>. Only for the option-copy probe; scoring stays strict (parse_choice)."""
    block = extract_answer(completion)
    if block is not None:
        return block
    found = re.search(r"answer is ([^.\n]+)", completion)
    if found:
        return found.group(1)
    tail = completion.split("</think>", 1)[1] if "</think>" in completion else ""
    lines = [line for line in tail.strip().splitlines() if line.strip()]
    return lines[0] if lines else None


@torch.no_grad()
def probe_sampling(model_dir: str | Path, records: list[Record], max_new_tokens: int, batch_size: int,
                   min_pixels: int, max_pixels: int, seed: int, temperature: float = 1.0,
                   template: str = "base") -> dict[str, Any]:
    """The base model sampled at `temperature` (as GRPO samples it) on `records`, with the `template` prompt.

    option_rate: share of samples whose stated answer is exactly one of the listed options (copied from the
    prompt), tags or not; format_rate / accuracy: the format reward and the strict accuracy of the samples,
    i.e. what GRPO's first steps see. Cheap (one sample per record) and run before GRPO.
    """
    sampling = SamplingConfig(max_new_tokens=max_new_tokens, temperature=temperature)
    copied, formatted, correct = [], [], []
    for record, text, f, _ in _completions(model_dir, records, sampling, batch_size, min_pixels, max_pixels, seed,
                                           template):
        stated = stated_answer(text)
        copied.append(stated is not None and match_choice(stated, record.choices, letters=False) is not None)
        formatted.append(f == 1.0)
        index = parse_choice(text, record.choices, letters=record.answer_letter is not None)
        correct.append(index is not None and record.choices[index] == record.answer)
    n = max(len(records), 1)
    return {"n": len(records), "temperature": temperature, "option_rate": sum(copied) / n,
            "format_rate": sum(formatted) / n, "accuracy": sum(correct) / n}


def chance_accuracy(records: list[Record]) -> float:
    """Expected accuracy of a model that always writes the format and picks a choice at random."""
    return statistics.fmean(1 / len(r.choices) for r in records) if records else 0.0


# -- the response-length curve --------------------------------------------------------------------------------
def length_curve(metrics_path: Path) -> list[float]:
    rows = [json.loads(line) for line in metrics_path.read_text().splitlines() if line.strip()]
    return [float(r["completion_length/mean"]) for r in rows if r.get("completion_length/mean") is not None]


def metric_curve(metrics_path: Path, key: str) -> list[float]:
    rows = [json.loads(line) for line in metrics_path.read_text().splitlines() if line.strip()]
    return [float(r[key]) for r in rows if r.get(key) is not None]


def binned(values: list[float], bins: int = 10) -> list[float]:
    """Means over `bins` equal stretches of training (a curve short enough to print)."""
    if not values:
        return []
    bins = min(bins, len(values))
    edges = [round(i * len(values) / bins) for i in range(bins + 1)]
    return [round(statistics.fmean(values[a:b]), 2) for a, b in zip(edges, edges[1:], strict=False) if b > a]


def sparkline(values: list[float]) -> str:
    if not values:
        return ""
    blocks = "▁▂▃▄▅▆▇█"
    lo, hi = min(values), max(values)
    span = (hi - lo) or 1.0
    return "".join(blocks[min(7, int((v - lo) / span * 8))] for v in values)


def plot_curves(metrics_path: Path, out_png: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    axes[0].plot(length_curve(metrics_path))
    axes[0].set(title="mean response length (tokens)", xlabel="GRPO step")
    for key, label in (("rewards/accuracy/mean", "accuracy reward"), ("rewards/format/mean", "format reward")):
        axes[1].plot(metric_curve(metrics_path, key), label=label)
    axes[1].set(title="rewards (training samples)", xlabel="GRPO step")
    axes[1].legend()
    fig.tight_layout()
    fig.savefig(out_png, dpi=100)
    plt.close(fig)
    return True


# -- the demo ---------------------------------------------------------------------------------------------------
def run_demo(out_dir: str | Path, seed: int = 0, settings: DemoSettings | None = None, use_cache: bool = True,
             base_model: str | Path | None = None, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Run the whole demo into `out_dir`; returns the summary (also out_dir/summary.json).

    The base model: `base_model` (a directory made by `visualthinker pretrain`) if given, else the shipped one
    when `settings.shipped_base`, else the cache's pretraining of `settings.pretrain` for this seed
    (`use_cache=False`: pretrained into out_dir/base).
    """
    t0 = time.perf_counter()
    settings = (settings or DemoSettings()).with_seed(seed)
    torch.set_num_threads(settings.threads)
    out = Path(out_dir)
    if (out / "grpo" / "metrics.jsonl").exists():
        shutil.rmtree(out / "grpo")  # a demo run always starts fresh
    out.mkdir(parents=True, exist_ok=True)

    log("[1/5] base model")
    t = time.perf_counter()
    if base_model is not None:
        base_dir, cached, source = Path(base_model), True, "given"
    elif settings.shipped_base:
        base_dir, cached, source = shipped_base(), True, "shipped"
    elif use_cache:
        base_dir, cached = cached_pretrain(settings.pretrain, log)
        source = "cached" if cached else "pretrained"
    else:
        base_dir, cached, source = out / "base", False, "pretrained"
        shutil.rmtree(base_dir, ignore_errors=True)
        pretrain(settings.pretrain, base_dir, log)
    pretrain_seconds = time.perf_counter() - t
    pretrain_info = json.loads((Path(base_dir) / "pretrain.json").read_text())
    log(f"      {source}: {base_dir}  ({pretrain_seconds:.0f} s)")

    log("[2/5] synthetic spatial data")
    image_size = settings.pretrain.corpus.image_size
    train = generate_records(settings.train_n, seed, split="train", image_size=image_size,
                             difficulty=settings.difficulty, tasks=settings.tasks)
    test = generate_records(settings.test_n, seed, split="test", image_size=image_size,
                            difficulty=settings.difficulty, tasks=settings.tasks)
    grpo = dict(settings.grpo)
    eval_kwargs = dict(max_new_tokens=grpo["max_completion_length"], batch_size=settings.eval_batch_size,
                       min_pixels=grpo["min_pixels"], max_pixels=grpo["max_pixels"], template=settings.template)

    log(f"[3/5] evaluating the base model on {len(test)} held-out test records")
    t = time.perf_counter()
    base = evaluate(base_dir, test, **eval_kwargs)
    log(f"      accuracy {base['accuracy']:.3f}  format rate {base['format_rate']:.3f}  "
        f"({time.perf_counter() - t:.0f} s)")

    t = time.perf_counter()
    probe = probe_sampling(base_dir, test[:settings.probe_n], seed=seed, temperature=grpo["temperature"],
                           **eval_kwargs)
    log(f"      sampled at T={probe['temperature']:g} on {probe['n']} prompts: answers with a listed option "
        f"{probe['option_rate']:.2f}, format {probe['format_rate']:.2f}, accuracy {probe['accuracy']:.2f}  "
        f"({time.perf_counter() - t:.0f} s)")
    t = time.perf_counter()
    # one load of the base model for both perception probes
    probe_adapter, probe_processor, probe_model = load_for_inference(base_dir, eval_kwargs["min_pixels"],
                                                                     eval_kwargs["max_pixels"])
    perception = perception_of(probe_model, probe_processor, test[:settings.probe_n])
    log(f"      perception (true caption most likely) {perception['accuracy']:.2f} vs chance "
        f"{perception['chance']:.2f} on {perception['n']} images; copy_accuracy "
        f"{pretrain_info.get('copy_accuracy', float('nan')):.2f}  ({time.perf_counter() - t:.0f} s)")
    listing = None
    if any(r.task == "tally" for r in test):
        t = time.perf_counter()
        listing = counting_by_listing(probe_model, probe_adapter, probe_processor, test[:settings.probe_n])
        log(f"      counting by listing (an enumeration caption's total) {listing['listing_accuracy']:.2f} vs at a "
            f"glance {listing['glance_accuracy']:.2f} (chance {listing['chance']:.2f}; {listing['n']} images)  "
            f"({time.perf_counter() - t:.0f} s)")

    log(f"[4/5] GRPO, R1-Zero recipe ({settings.template} prompt): {grpo['max_steps']} steps x "
        f"{grpo['per_device_prompts']} prompts x G={grpo['num_generations']}")
    from visualthinker.trainer.loop import GRPOTrainer

    run_dir = out / "grpo"
    config = build_config(dict(grpo, model_path=str(base_dir), output_dir=str(run_dir), seed=seed))
    t = time.perf_counter()
    GRPOTrainer(config, train).train()
    grpo_seconds = time.perf_counter() - t
    torch.set_num_threads(settings.threads)  # accelerate may have changed it
    metrics_path = run_dir / "metrics.jsonl"
    curve = length_curve(metrics_path)
    log(f"      done ({grpo_seconds:.0f} s)")

    log("[5/5] evaluating the trained model and writing the report")
    t = time.perf_counter()
    final = evaluate(run_dir / "final", test, **eval_kwargs)
    log(f"      accuracy {final['accuracy']:.3f}  format rate {final['format_rate']:.3f}  "
        f"({time.perf_counter() - t:.0f} s)")
    report, reflection = _write_report(run_dir, out, metrics_path, log)

    summary = {
        "seed": seed,
        "template": settings.template,
        "base_accuracy": base["accuracy"],
        "final_accuracy": final["accuracy"],
        # the original scripts' scoring (answer tag, else the whole text; containment), beside the strict one
        "base_accuracy_paper_scoring": base["accuracy_paper_scoring"],
        "final_accuracy_paper_scoring": final["accuracy_paper_scoring"],
        "base_format_rate": base["format_rate"],
        "final_format_rate": final["format_rate"],
        "steps": grpo["max_steps"],
        "wall_seconds": time.perf_counter() - t0,
        "chance_accuracy": chance_accuracy(test),
        "per_task_chance": {t: chance_accuracy([r for r in test if r.task == t]) for t in sorted({r.task for r in test})},
        "base_option_rate": probe["option_rate"],
        "base_sampling_temperature": probe["temperature"],
        "base_sampled_format_rate": probe["format_rate"],
        "base_sampled_accuracy": probe["accuracy"],
        "test_records": len(test),
        "base_per_task_accuracy": base["per_task_accuracy"],
        "final_per_task_accuracy": final["per_task_accuracy"],
        "base_response_length": base["response_length"],
        "final_response_length": final["response_length"],
        "response_length_curve": binned(curve),
        "length_growth": length_growth(curve),
        "length_pays": final["length_pays"],
        "base_length_pays": base["length_pays"],
        "reflection": reflection,
        "train_format_reward_curve": binned(metric_curve(metrics_path, "rewards/format/mean")),
        "train_accuracy_reward_curve": binned(metric_curve(metrics_path, "rewards/accuracy/mean")),
        "pretrain_seconds": pretrain_seconds,
        "pretrain_cached": cached,
        "base_source": source,  # shipped | given (--base) | cached | pretrained
        "pretrain_wall_seconds": pretrain_info["wall_seconds"],
        "grpo_seconds": grpo_seconds,
        "base_model": str(base_dir),
        "base_weights_sha256": pretrain_info["weights_sha256"],
        "base_copy_accuracy": pretrain_info.get("copy_accuracy"),
        "base_copy_curve": pretrain_info.get("copy_curve"),
        "base_perception": perception,
        "base_counting_by_listing": listing,
        "report": report,
        "threads": settings.threads,
        "base_samples": base["samples"],
        "final_samples": final["samples"],
        "early_samples": _trajectory_samples(run_dir, first=True),
        "late_samples": _trajectory_samples(run_dir, first=False),
    }
    summary["targets"] = run_targets(summary)
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    _print_summary(summary, log)
    return summary


def _reflection(analysis: dict[str, Any]) -> dict[str, Any]:
    """Reflection rate (first and last logged step) and the aha step, from the analysis module's numbers."""
    rates = [r for r in analysis["per_step"].get("reflection_rate", []) if r is not None]
    aha = analysis["aha"]
    return {"first_rate": rates[0] if rates else None, "last_rate": rates[-1] if rates else None,
            "aha_step": aha["step"], "aha_reason": aha.get("reason")}


def _trajectory_samples(run_dir: Path, first: bool, k: int = 3) -> list[dict[str, Any]]:
    """A few training completions of the first (or last) logged step, for the report's early/late examples."""
    from visualthinker.analysis.runs import trajectory_files

    files = trajectory_files(run_dir)
    if not files:
        return []
    path = files[0 if first else -1][1]
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [{key: row.get(key) for key in ("step", "task", "completion", "rewards")} for row in rows[:k]]


def _write_report(run_dir: Path, out: Path, metrics_path: Path,
                  log: Callable[[str], None]) -> tuple[str | None, dict[str, Any] | None]:
    """curves.png, the HTML run report and the reflection numbers, from one analysis of the run."""
    plot_curves(metrics_path, out / "curves.png")
    try:
        from visualthinker.analysis import write_report
        from visualthinker.analysis.analyze import analyze_run
    except ImportError:
        log("      (visualthinker.analysis is not available: HTML report skipped; see curves.png)")
        return None, None
    analysis = analyze_run(run_dir)
    try:
        report = str(write_report(run_dir, out / "report", analysis=analysis))
    except Exception as exc:  # the report is a by-product: the numbers above stand without it
        log(f"      (HTML report failed: {exc}; see curves.png)")
        report = None
    return report, _reflection(analysis)


def _print_summary(s: dict[str, Any], log: Callable[[str], None]) -> None:
    curve = s["response_length_curve"]
    log("")
    log(f"R1-Zero micro demo, seed {s['seed']}: {s['steps']} GRPO steps, {s['wall_seconds']:.0f} s wall "
        f"(base model {s['base_source']}, {s['pretrain_seconds']:.0f} s)")
    log(f"  held-out accuracy  {s['base_accuracy']:.3f} -> {s['final_accuracy']:.3f}   "
        f"(chance with the format: {s['chance_accuracy']:.3f})")
    log(f"  format rate        {s['base_format_rate']:.3f} -> {s['final_format_rate']:.3f}")
    log(f"  base model sampled at T={s['base_sampling_temperature']:g}: answers with a listed option "
        f"{s['base_option_rate']:.2f}, format {s['base_sampled_format_rate']:.2f}, "
        f"accuracy {s['base_sampled_accuracy']:.2f}")
    per_task = ", ".join(f"{t} {s['base_per_task_accuracy'].get(t, 0):.2f}->{v:.2f}"
                         for t, v in s["final_per_task_accuracy"].items())
    log(f"  per task           {per_task}")
    if curve:
        log(f"  response length    {sparkline(curve)}  {curve[0]:.1f} -> {curve[-1]:.1f} tokens "
            "(training samples, 10 bins)")
    growth, pays, refl = s["length_growth"], s["length_pays"], s.get("reflection") or {}
    if growth["ratio"] is not None:
        log(f"  length growth      last fifth {growth['last_fifth_mean']:.1f} / smoothed minimum "
            f"{growth['smoothed_min']:.1f} = {growth['ratio']:.2f}x (issue #13 target: 1.5x)")
    if pays["longest_third_accuracy"] is not None:
        log(f"  does length pay    longest third {pays['longest_third_accuracy']:.2f} vs rest "
            f"{pays['rest_accuracy']:.2f}; enumerating completions {pays['enumerating_share']:.2f}")
    if refl:
        aha = refl["aha_step"] if refl["aha_step"] is not None else "none"
        log(f"  reflection         rate {refl['first_rate'] or 0:.2f} -> {refl['last_rate'] or 0:.2f}, aha step {aha}")
    missed = [k for k, v in s["targets"].items() if v is False]
    log(f"  issue #13 targets  {'all met' if not missed else 'missed: ' + ', '.join(missed)}")
    if s["report"]:
        log(f"  report             {s['report']}")


def default_out_dir() -> Path:
    return Path(os.environ.get("VISUALTHINKER_DEMO_OUT", "runs/demo"))
