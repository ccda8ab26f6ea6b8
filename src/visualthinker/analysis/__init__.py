"""Run analytics and the HTML run report: response length, rewards, KL, evaluation accuracy, and a measurable
"aha moment" (share of completions with self-reflection markers, and the step where it switches on).

Public API: `analyze_run`, `write_report`, `write_comparison`, plus `Lexicon`/`load_lexicon` and `AhaConfig`
to configure them. Modules: runs (reading a run dir), reflection (lexicon and matching), aha (detector),
correlation (Spearman), analyze (the numbers), plots, browser and html (the page), report (writing it all).
"""

from visualthinker.analysis.aha import AhaConfig, detect_aha
from visualthinker.analysis.analyze import analyze_run
from visualthinker.analysis.reflection import (
    DEFAULT_MARKERS,
    Lexicon,
    find_markers,
    is_reflective,
    load_lexicon,
)
from visualthinker.analysis.report import write_comparison, write_report
from visualthinker.analysis.runs import RunDirError

__all__ = [
    "DEFAULT_MARKERS",
    "AhaConfig",
    "Lexicon",
    "RunDirError",
    "analyze_run",
    "detect_aha",
    "find_markers",
    "is_reflective",
    "load_lexicon",
    "write_comparison",
    "write_report",
]
