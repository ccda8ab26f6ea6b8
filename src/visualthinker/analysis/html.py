"""Static, self-contained HTML: inline CSS, images by relative path, no JavaScript. Every piece of model or user
text goes through `esc` (completions can contain "<think>", HTML the base model likes to write, or anything)."""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Sequence
from typing import Any

from visualthinker.analysis.reflection import MarkerMatch, merge_spans
from visualthinker.analysis.runs import Completion

CSS = """
:root { --fg:#1d232a; --muted:#5b6570; --line:#d8dde3; --bg:#ffffff; --soft:#f4f6f8; --ok:#1a7f37; --bad:#b42318;
        --mark:#ffe58a; --accent:#2f6fb5; }
* { box-sizing: border-box; }
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; color: var(--fg);
       background: var(--bg); margin: 0; }
main { max-width: 1100px; margin: 0 auto; padding: 24px 20px 60px; }
h1 { font-size: 1.6em; margin: 0 0 4px; }
h2 { font-size: 1.3em; margin: 36px 0 10px; padding-bottom: 4px; border-bottom: 2px solid var(--line); }
h3 { font-size: 1.05em; margin: 22px 0 8px; }
a { color: var(--accent); }
.muted { color: var(--muted); }
nav.toc { background: var(--soft); border: 1px solid var(--line); border-radius: 6px; padding: 8px 12px; margin: 14px 0; }
nav.toc a { margin-right: 14px; white-space: nowrap; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(165px, 1fr)); gap: 10px; margin: 14px 0; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 8px 10px; background: var(--soft); }
.card .k { font-size: .8em; color: var(--muted); text-transform: uppercase; letter-spacing: .03em; }
.card .v { font-size: 1.25em; font-weight: 600; }
figure { margin: 12px 0 18px; }
figure img { max-width: 100%; height: auto; border: 1px solid var(--line); border-radius: 4px; }
figcaption { font-size: .9em; color: var(--muted); margin-top: 4px; }
.grid2 { display: grid; grid-template-columns: repeat(auto-fit, minmax(460px, 1fr)); gap: 12px; }
table { border-collapse: collapse; margin: 8px 0 16px; font-size: .92em; }
th, td { border: 1px solid var(--line); padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: var(--soft); }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.steps a { display: inline-block; margin: 2px 6px 2px 0; padding: 1px 8px; border: 1px solid var(--line);
           border-radius: 10px; text-decoration: none; background: var(--soft); }
.sample { border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; margin: 10px 0; }
.sample .head { display: flex; flex-wrap: wrap; gap: 6px 12px; align-items: center; font-size: .9em; }
.badge { display: inline-block; padding: 0 8px; border-radius: 10px; font-size: .85em; font-weight: 600; }
.badge.ok { background: #dafbe1; color: var(--ok); } .badge.bad { background: #ffebe9; color: var(--bad); }
.badge.refl { background: #fff3c4; color: #7a5600; } .badge.na { background: var(--soft); color: var(--muted); }
.body { display: flex; gap: 12px; margin-top: 8px; align-items: flex-start; }
.body img { width: 140px; height: auto; border: 1px solid var(--line); border-radius: 4px; flex: none; }
.text { flex: 1; min-width: 0; }
.question { font-size: .9em; color: var(--muted); margin-bottom: 4px; }
pre.completion { white-space: pre-wrap; word-wrap: break-word; background: var(--soft); border-radius: 4px;
                 padding: 8px 10px; margin: 0; max-height: 360px; overflow: auto; font-size: .88em;
                 font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
mark { background: var(--mark); padding: 0 1px; border-radius: 2px; }
pre.config { white-space: pre-wrap; background: var(--soft); padding: 8px 10px; border-radius: 4px; font-size: .85em; }
details > summary { cursor: pointer; }
.def { background: var(--soft); border-left: 3px solid var(--accent); padding: 6px 12px; margin: 8px 0; }
"""


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return "–"
        return f"{value:.{digits}f}"
    return esc(value)


def pct(value: Any) -> str:
    return "–" if value is None else f"{100 * float(value):.1f}%"


def highlight(text: str, matches: Sequence[MarkerMatch]) -> str:
    """Escaped text with each (merged) marker span wrapped in <mark>; offsets refer to the raw text, so escaping
    happens per segment, after the spans are cut."""
    out = []
    pos = 0
    for start, end in merge_spans(matches):
        out.append(esc(text[pos:start]))
        out.append(f"<mark>{esc(text[start:end])}</mark>")
        pos = end
    out.append(esc(text[pos:]))
    return "".join(out)


def question_of(prompt: str) -> str:
    """The user's question out of the base prompt's boilerplate; the whole prompt if it has another shape."""
    start = prompt.find("User:")
    end = prompt.find("\nAssistant:")
    if start >= 0 and end > start:
        return prompt[start + len("User:") : end].strip()
    return prompt.strip()


def table(headers: Sequence[str], rows: Iterable[Sequence[str]], numeric: Sequence[bool] | None = None) -> str:
    """`rows` cells are already-escaped HTML."""
    numeric = numeric or [False] * len(headers)
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f'<td class="num">{c}</td>' if n else f"<td>{c}</td>" for c, n in zip(r, numeric, strict=True))
        + "</tr>"
        for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def cards(items: Sequence[tuple[str, str]]) -> str:
    return '<div class="cards">' + "".join(
        f'<div class="card"><div class="k">{esc(k)}</div><div class="v">{v}</div></div>' for k, v in items
    ) + "</div>"


def figure(src: str, alt: str, caption: str = "") -> str:
    cap = f"<figcaption>{caption}</figcaption>" if caption else ""
    return f'<figure><img src="{esc(src)}" alt="{esc(alt)}">{cap}</figure>'


def sample_card(c: Completion, matches: Sequence[MarkerMatch], markers: Sequence[str], thumb: str | None) -> str:
    correct = c.correct
    if correct is None:
        verdict = '<span class="badge na">no accuracy reward</span>'
    elif correct:
        verdict = '<span class="badge ok">correct</span>'
    else:
        verdict = '<span class="badge bad">incorrect</span>'
    refl = (
        f'<span class="badge refl">reflective: {esc(", ".join(markers))}</span>'
        if markers
        else '<span class="badge na">no reflection marker</span>'
    )
    rewards = ", ".join(f"{esc(k)} {fmt(v, 2)}" for k, v in sorted(c.rewards.items()))
    head = (
        f'<div class="head"><strong>step {c.step}</strong><span>prompt {esc(c.prompt_id)} · sample {c.sample_index}'
        f"</span>{verdict}{refl}<span>reward {fmt(c.reward, 2)} ({rewards})</span>"
        f"<span>{c.completion_tokens} tokens{'' if c.finished else ' · truncated'}</span></div>"
    )
    image = f'<img src="{esc(thumb)}" alt="input image for {esc(c.prompt_id)}">' if thumb else ""
    question = f'<div class="question">Q: {esc(question_of(c.prompt))}</div>' if c.prompt else ""
    text = f'<pre class="completion">{highlight(c.completion, matches)}</pre>'
    return f'<div class="sample">{head}<div class="body">{image}<div class="text">{question}{text}</div></div></div>'


def page(title: str, subtitle: str, body: str) -> str:
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{CSS}</style></head>\n"
        f"<body><main><h1>{esc(title)}</h1><div class=\"muted\">{subtitle}</div>\n{body}\n</main></body></html>\n"
    )
