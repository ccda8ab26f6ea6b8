"""`write_report` (one run) and `write_comparison` (several runs): PNG plots, report.json and index.html."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from visualthinker.analysis import html as h
from visualthinker.analysis.aha import AhaConfig
from visualthinker.analysis.analyze import accuracy_series, analyze_run, length_series
from visualthinker.analysis.browser import browser_sections, copy_thumbnail
from visualthinker.analysis.plots import COMPARE_PANELS, write_compare_plots, write_run_plots
from visualthinker.analysis.reflection import Lexicon, find_markers
from visualthinker.analysis.runs import Completion, RunDirError

_COMPLETION_FIELDS = set(Completion.__dataclass_fields__)


def _prepare_out(out_dir: str | Path) -> Path:
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise RunDirError(f"output path exists and is not a directory: {out}")
    out.mkdir(parents=True, exist_ok=True)
    return out


def _write_json(analysis: dict[str, Any], path: Path) -> None:
    # allow_nan=False: a NaN that slipped through would make the file unreadable for strict JSON parsers
    path.write_text(json.dumps(analysis, indent=1, allow_nan=False, ensure_ascii=False) + "\n", encoding="utf-8")


def _eval_names(analysis: dict[str, Any]) -> list[str]:
    return [b for b, s in analysis["eval"].items() if any(v is not None for v in s["accuracy"])]


def _summary_cards(a: dict[str, Any]) -> str:
    s = a["summary"]
    corr = a["correlation"]
    items = [
        ("steps", f"{fmt_int(s['first_step'])}–{fmt_int(s['last_step'])}"),
        ("completions logged", fmt_int(s["completions"])),
        ("aha step", fmt_int(a["aha"]["step"]) if a["aha"]["step"] is not None else "none"),
        ("reflection rate (all)", h.pct(s["reflection_rate_overall"])),
        ("final reward", h.fmt(s["final"]["reward"])),
        ("final train accuracy", h.pct(s["final"]["train_accuracy"])),
        ("final mean length", h.fmt(s["final"]["length_mean"], 1)),
        ("ρ(length, train acc.)", h.fmt(corr["length_vs_train_accuracy"]["spearman"], 2)),
    ]
    for bench in _eval_names(a):
        value = s["final"].get(f"eval/{bench}/accuracy")
        items.append((f"final {bench} accuracy", h.pct(value) if value is not None and value <= 1 else h.fmt(value, 1)))
    return h.cards(items)


def fmt_int(value: Any) -> str:
    return "–" if value is None else str(value)


def _aha_text(a: dict[str, Any]) -> str:
    aha = a["aha"]
    smoothed = "" if aha["smooth"] == 1 else f" (trailing mean over {aha['smooth']} logged steps)"
    definition = (
        f"<div class=\"def\"><strong>Aha step</strong> = the first logged step after the first "
        f"{aha['baseline_steps']} logged steps at which the reflection rate{smoothed}"
        f" is above <em>max({h.fmt(aha['multiple'], 2)} × baseline, {h.fmt(aha['floor'], 2)})</em> and stays above it "
        f"for {aha['window']} consecutive logged steps. Baseline = mean rate over the first {aha['baseline_steps']} "
        f"logged steps = {h.fmt(aha['baseline'])}; threshold = {h.fmt(aha['threshold'])}.</div>"
    )
    verdict = (
        f"<p><strong>Aha step: {aha['step']}.</strong> {h.esc(aha.get('reason', ''))}.</p>"
        if aha["step"] is not None
        else f"<p><strong>No aha step.</strong> {h.esc(aha.get('reason', ''))}.</p>"
    )
    return definition + verdict


def _marker_table(a: dict[str, Any]) -> str:
    rows = [
        (f"<code>{h.esc(m)}</code>", str(v["completions"]), h.pct(v["share"]))
        for m, v in sorted(a["markers"].items(), key=lambda kv: -kv[1]["completions"])
    ]
    return h.table(["marker", "completions containing it", "share of all completions"], rows, [False, True, True])


def _correlation_table(a: dict[str, Any]) -> str:
    c = a["correlation"]
    rr = c["reflective_vs_nonreflective"]
    rows = [
        ("mean rollout length vs train accuracy, across steps", h.fmt(c["length_vs_train_accuracy"]["spearman"], 3),
         str(c["length_vs_train_accuracy"]["n"])),
        ("reflection rate vs train accuracy, across steps", h.fmt(c["reflection_vs_train_accuracy"]["spearman"], 3),
         str(c["reflection_vs_train_accuracy"]["n"])),
    ]
    for bench, entry in c["length_vs_eval_accuracy"].items():
        rows.append((f"mean rollout length vs {h.esc(bench)} accuracy, across eval steps",
                     h.fmt(entry["rollout_length"]["spearman"], 3), str(entry["rollout_length"]["n"])))
        rows.append((f"{h.esc(bench)} response length vs {h.esc(bench)} accuracy, across eval steps",
                     h.fmt(entry["eval_response_length"]["spearman"], 3), str(entry["eval_response_length"]["n"])))
    spearman = h.table(["relation", "Spearman ρ", "points"], rows, [False, True, True])
    pooled = h.table(
        ["completions", "accuracy (accuracy reward == 1)", "count"],
        [
            ("reflective", h.pct(rr["accuracy_reflective"]), str(rr["n_reflective"])),
            ("non-reflective", h.pct(rr["accuracy_nonreflective"]), str(rr["n_nonreflective"])),
        ],
        [False, True, True],
    )
    diff = rr["difference"]
    note = "" if diff is None else f"<p>Reflective minus non-reflective accuracy: {100 * diff:+.1f} points (pooled over all steps).</p>"
    return spearman + pooled + note


def _eval_table(a: dict[str, Any]) -> str:
    parts = []
    for bench in _eval_names(a):
        s = a["eval"][bench]
        rows = [(str(st), h.fmt(acc, 4), h.fmt(ln, 1)) for st, acc, ln in zip(s["step"], s["accuracy"], s["response_length"], strict=True)]
        parts.append(f"<h3>{h.esc(bench)}</h3>" + h.table(["step", "accuracy", "mean response length"], rows, [True, True, True]))
    return "".join(parts) or "<p class=\"muted\">No periodic evaluation (eval/&lt;bench&gt;/accuracy) in metrics.jsonl.</p>"


def _browser(sections: list[dict[str, Any]]) -> str:
    if not sections:
        return '<p class="muted">No trajectories/step-&lt;N&gt;.jsonl files in this run.</p>'
    links = " ".join(f'<a href="#step-{s["step"]}">{s["step"]} <span class="muted">({h.esc(s["why"])})</span></a>'
                     for s in sections)
    body = [f'<div class="steps">Steps: {links}</div>']
    for s in sections:
        cards_html = "".join(h.sample_card(v["completion"], v["matches"], v["markers"], v["thumb"]) for v in s["items"])
        body.append(
            f'<details id="step-{s["step"]}" open><summary><h3 style="display:inline">Step {s["step"]}</h3> '
            f'<span class="muted">{h.esc(s["why"])} · showing {len(s["items"])} of {s["n"]} completions, '
            f'{s["n_reflective"]} reflective</span></summary>{cards_html}</details>'
        )
    return "".join(body)


def _first_reflective(a: dict[str, Any], lexicon: Lexicon, run_dir: Path, out: Path) -> str:
    records = a["first_reflective"]
    if not records:
        return '<p class="muted">No completion contains a reflection marker.</p>'
    out_html = []
    for r in records:
        c = Completion(**{k: (math.nan if v is None and k == "advantage" else v) for k, v in r.items() if k in _COMPLETION_FIELDS})
        matches = find_markers(c.completion, lexicon)
        out_html.append(h.sample_card(c, matches, r["markers"], copy_thumbnail(run_dir, c.image, out)))
    return "".join(out_html)


def _config_block(a: dict[str, Any]) -> str:
    if not a["config"]:
        return '<p class="muted">No config.yaml in the run directory.</p>'
    text = yaml.safe_dump(a["config"], sort_keys=False, allow_unicode=True)
    return f"<details><summary>resolved config.yaml</summary><pre class=\"config\">{h.esc(text)}</pre></details>"


def _run_page(a: dict[str, Any], sections: list[dict[str, Any]], lexicon: Lexicon, run_dir: Path, out: Path) -> str:
    _, _, len_source = length_series(a)
    _, _, acc_source = accuracy_series(a)
    evals = _eval_names(a)
    fig1_caption = (
        "Left axis: " + (", ".join(h.esc(b) for b in evals) + " accuracy from periodic evaluation" if evals
                         else "training accuracy reward (no periodic evaluation logged)")
        + f"; right axis: mean response length of the training rollouts (source: {h.esc(len_source)}). "
        "The paper's Figure 1: length first drops (the base model stops writing HTML), then rises together with "
        "accuracy; the dashed line is the detected aha step."
    )
    toc = ('<nav class="toc"><a href="#figure1">Figure 1</a><a href="#training">Training curves</a>'
           '<a href="#reflection">Self-reflection</a><a href="#correctness">Length, reflection, correctness</a>'
           '<a href="#eval">Evaluation</a><a href="#browser">Trajectory browser</a>'
           '<a href="#first">First reflective completions</a><a href="#config">Config</a></nav>')
    body = [
        _summary_cards(a),
        toc,
        '<h2 id="figure1">Figure 1: accuracy and response length</h2>',
        h.figure("figure1.png", "benchmark accuracy and mean response length vs step", fig1_caption),
        '<h2 id="training">Training curves</h2>',
        h.figure("rewards.png", "reward components and KL vs step",
                 "Total reward (sum of the components), each reward's mean, and KL to the reference model."),
        '<div class="grid2">',
        h.figure("length.png", "response length statistics vs step",
                 "Mean, median and 90th percentile of completion tokens per step; dashed: finished completions "
                 "only (ended on a stop token), which excludes truncated ones."),
        h.figure("length_hist.png", "response length histograms early vs late",
                 "Distribution of completion lengths in the first and last fifth of the logged steps."),
        "</div>",
        '<h2 id="reflection">Self-reflection</h2>',
        h.figure("reflection.png", "reflection rate vs step with the aha step marked",
                 "Share of a step's completions whose think part contains at least one reflection marker; the band "
                 "is ± one binomial standard error."),
        _aha_text(a),
        "<h3>Markers</h3>",
        "<p>Case-insensitive, whole words, inside the think part (text before the first &lt;/think&gt;); "
        "a re-opened &lt;think&gt; counts anywhere in the completion.</p>",
        _marker_table(a),
        '<h2 id="correctness">Length, reflection and correctness</h2>',
        h.figure("correctness.png", "accuracy of reflective vs non-reflective completions",
                 f"Correct = accuracy reward equal to 1. Train accuracy source: {h.esc(acc_source)}."),
        _correlation_table(a),
        '<h2 id="eval">Periodic evaluation</h2>',
        _eval_table(a),
        '<h2 id="browser">Trajectory browser</h2>',
        "<p>A few completions per step (half of them reflective where the step has any), for the first, middle and "
        "last logged steps and the steps around the aha step. Reflection markers are <mark>highlighted</mark>.</p>",
        _browser(sections),
        '<h2 id="first">First reflective completions</h2>',
        _first_reflective(a, lexicon, run_dir, out),
        '<h2 id="config">Config</h2>',
        _config_block(a),
        '<p class="muted">All numbers: <a href="report.json">report.json</a>.</p>',
    ]
    subtitle = f"Run: <code>{h.esc(a['run_dir'])}</code>"
    return h.page("VisualThinker run report", subtitle, "\n".join(body))


def write_report(
    run_dir: str | Path,
    out_dir: str | Path | None = None,
    *,
    lexicon: Lexicon | None = None,
    aha: AhaConfig | None = None,
    samples_per_step: int = 4,
    browse_steps: Sequence[int] | None = None,
    analysis: dict[str, Any] | None = None,
) -> Path:
    """Analyze `run_dir` and write index.html, report.json and the PNG plots into `out_dir`
    (default RUN_DIR/report). Returns the path of index.html. `analysis`: `analyze_run(run_dir, lexicon=...,
    aha=...)` already computed by the caller (not read again)."""
    lex = lexicon or Lexicon()
    analysis = analysis if analysis is not None else analyze_run(run_dir, lexicon=lex, aha=aha)
    run = Path(run_dir)
    out = _prepare_out(out_dir if out_dir is not None else run / "report")
    plots = write_run_plots(analysis, out)
    sections = browser_sections(run, out, lex, analysis["aha"]["step"], samples_per_step, browse_steps)
    index = out / "index.html"
    index.write_text(_run_page(analysis, sections, lex, run, out), encoding="utf-8")
    analysis["report"] = {
        "plots": sorted(plots),
        "browser_steps": [s["step"] for s in sections],
    }
    _write_json(analysis, out / "report.json")
    return index


def _label_list(run_dirs: Sequence[Path], labels: Sequence[str] | None) -> list[str]:
    if labels is None:
        names = [p.resolve().name or str(p) for p in run_dirs]
        # two runs called "run" in different folders still need distinct legend entries
        return [n if names.count(n) == 1 else f"{n} ({i + 1})" for i, n in enumerate(names)]
    if len(labels) != len(run_dirs):
        raise RunDirError(f"--labels has {len(labels)} labels for {len(run_dirs)} runs; give one per run")
    return list(labels)


def write_comparison(
    run_dirs: Sequence[str | Path],
    out_dir: str | Path,
    *,
    labels: Sequence[str] | None = None,
    lexicon: Lexicon | None = None,
    aha: AhaConfig | None = None,
) -> Path:
    """Overlay response length, reward, accuracy and reflection rate of several runs; returns index.html."""
    if len(run_dirs) < 2:
        raise RunDirError("compare needs at least two run directories")
    runs = [Path(r) for r in run_dirs]
    names = _label_list(runs, labels)
    lex = lexicon or Lexicon()
    analyses = [analyze_run(r, lexicon=lex, aha=aha) for r in runs]
    out = _prepare_out(out_dir)
    write_compare_plots(analyses, names, out)
    rows = []
    for name, a in zip(names, analyses, strict=True):
        s = a["summary"]
        rows.append((
            h.esc(name), f"<code>{h.esc(a['run_dir'])}</code>", fmt_int(s["last_step"]),
            fmt_int(a["aha"]["step"]) if a["aha"]["step"] is not None else "none",
            h.pct(s["reflection_rate_overall"]), h.fmt(s["final"]["reward"]), h.pct(s["final"]["train_accuracy"]),
            h.fmt(s["final"]["length_mean"], 1), h.fmt(a["correlation"]["length_vs_train_accuracy"]["spearman"], 2),
        ))
    table = h.table(
        ["run", "directory", "last step", "aha step", "reflection rate", "final reward", "final train acc.",
         "final mean length", "ρ(length, train acc.)"],
        rows, [False, False, True, True, True, True, True, True, True],
    )
    figs = "".join(h.figure(name, title, "") for _, name, title in COMPARE_PANELS)
    body = table + f'<div class="grid2">{figs}</div>' + (
        '<p class="muted">Accuracy is the first benchmark with periodic evaluation, else the training accuracy '
        'reward. Numbers per run: <a href="report.json">report.json</a>.</p>'
    )
    (out / "index.html").write_text(h.page("VisualThinker run comparison", f"{len(runs)} runs", body), encoding="utf-8")
    summary = {
        "schema": analyses[0]["schema"],
        "runs": [
            {"label": n, "run_dir": a["run_dir"], "aha": a["aha"], "summary": a["summary"], "correlation": a["correlation"]}
            for n, a in zip(names, analyses, strict=True)
        ],
        "plots": [name for _, name, _ in COMPARE_PANELS],
    }
    _write_json(summary, out / "report.json")
    return out / "index.html"
