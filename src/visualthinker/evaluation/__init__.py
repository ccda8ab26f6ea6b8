"""Evaluation on CV-Bench, BLINK, VSR (and the synthetic set): generation, strict and paper-compatible scoring,
metrics, results files and the paper's Table 3 layout."""

from visualthinker.evaluation.metrics import bench_summary, bootstrap_ci, cvbench_official, summarize
from visualthinker.evaluation.runner import (
    ModelResponder,
    Response,
    eval_prompt_spec,
    evaluate_records,
    run_eval,
    score_predictions,
)
from visualthinker.evaluation.scoring import score_paper, score_strict

__all__ = [
    "ModelResponder",
    "Response",
    "bench_summary",
    "bootstrap_ci",
    "cvbench_official",
    "eval_prompt_spec",
    "evaluate_records",
    "run_eval",
    "score_paper",
    "score_predictions",
    "score_strict",
    "summarize",
]
