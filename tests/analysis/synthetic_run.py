"""Writes small fake training run directories in the trainer's on-disk format, with known ground truth:
an optional planted aha step (reflection jumps there and stays), length and accuracy that rise together,
periodic eval lines, thumbnails and a config. Deterministic for a given seed."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

PROMPT = (
    "A conversation between User and Assistant. The user asks a question about the image, and the Assistant "
    "solves it. The assistant first thinks about the reasoning process in the mind and then provides the user "
    "with the answer.\nUser:  {question} \nAssistant: Let me solve this step by step.\n<think>"
)
QUESTION = "Is the red circle to the left or right of the blue square?"
FILLER = (
    "The red circle is near the center of the image. The blue square is placed on the other side. "
    "The person is waiting near the door. I compare the horizontal positions of the two shapes. "
)
REFLECTION = " But wait! I can think of something else. <think> Let me check the positions again. "


@dataclass
class SyntheticRun:
    path: Path
    steps: list[int]
    aha_step: int | None


def _completion(rng: random.Random, reflective: bool, correct: bool, words: int, waiting_tail: bool) -> tuple[str, int]:
    body = []
    while len(" ".join(body).split()) < words:
        body.append(FILLER)
    think = " ".join(body).split()[:words]
    text = " ".join(think)
    if reflective:
        cut = rng.randrange(len(think) // 2, len(think))
        text = " ".join(think[:cut]) + REFLECTION + " ".join(think[cut:])
    answer = "left" if correct else "right"
    # "again" after </think> must not count: it is outside the think part
    tail = " Once again, waiting." if waiting_tail else ""
    text = f"{text}</think> <answer>{answer}</answer>{tail}"
    return text, len(text.split())


def make_run(
    root: Path,
    *,
    steps: int = 60,
    prompts_per_step: int = 2,
    group_size: int = 8,
    aha_step: int | None = 30,
    base_rate: float = 0.0,
    late_rate: float = 0.7,
    eval_every: int = 10,
    trajectory_every: int = 1,
    with_config: bool = True,
    with_images: bool = True,
    length_accuracy: str = "positive",
    initial_dip: bool = False,
    seed: int = 0,
) -> SyntheticRun:
    """length_accuracy "positive": length and accuracy both rise with the step; "negative": accuracy falls as
    length rises. initial_dip: lengths start long and fall over the first 15% of steps before rising, the shape
    of the paper's Figure 1 (the base model first writes HTML)."""
    rng = random.Random(seed)
    root.mkdir(parents=True, exist_ok=True)
    traj = root / "trajectories"
    traj.mkdir(exist_ok=True)
    if with_config:
        (root / "config.yaml").write_text(
            "model: tiny-vl\nnum_generations: 8\nlearning_rate: 1.0e-06\nbeta: 0.04\nrewards: [accuracy, format]\n",
            encoding="utf-8",
        )
    if with_images:
        from PIL import Image

        (traj / "images").mkdir(exist_ok=True)
        for p in range(prompts_per_step * 3):
            Image.new("RGB", (48, 48), (40 * p % 255, 120, 200)).save(traj / "images" / f"p{p}.png")
    logged = []
    metrics_lines = []
    for step in range(1, steps + 1):
        progress = step / steps
        acc_p = 0.2 + 0.6 * progress if length_accuracy == "positive" else 0.8 - 0.6 * progress
        words = int(40 + 160 * progress)
        if initial_dip:
            dip_end = 0.15
            words = int(200 - 160 * progress / dip_end) if progress < dip_end else int(40 + 180 * (progress - dip_end))
        refl_p = late_rate if aha_step is not None and step >= aha_step else base_rate
        rows = []
        for g in range(prompts_per_step):
            prompt_id = f"p{(step + g) % (prompts_per_step * 3)}"
            for s in range(group_size):
                correct = rng.random() < acc_p
                reflective = rng.random() < refl_p
                length = max(5, int(rng.gauss(words, 10)))
                text, tokens = _completion(rng, reflective, correct, length, waiting_tail=(s % 3 == 0))
                finished = rng.random() > 0.1
                rewards = {"accuracy": 1.0 if correct else 0.0, "format": 1.0}
                row = {
                    "step": step, "prompt_id": prompt_id, "group_index": g, "sample_index": s,
                    "prompt": PROMPT.format(question=QUESTION), "completion": text, "rewards": rewards,
                    "reward": sum(rewards.values()), "advantage": 0.0, "completion_tokens": tokens,
                    "finished": finished,
                }
                if with_images:
                    row["image"] = f"trajectories/images/{prompt_id}.png"
                rows.append(row)
        if step % trajectory_every == 0 or step == 1:
            logged.append(step)
            with (traj / f"step-{step}.jsonl").open("w", encoding="utf-8") as fh:
                for row in rows:
                    fh.write(json.dumps(row) + "\n")
        accs = [r["rewards"]["accuracy"] for r in rows]
        lengths = [r["completion_tokens"] for r in rows]
        metrics_lines.append({
            "step": step, "loss": 0.01 * rng.random(), "reward": sum(r["reward"] for r in rows) / len(rows),
            "reward_std": 0.5, "rewards/accuracy/mean": sum(accs) / len(accs), "rewards/format/mean": 1.0,
            "kl": 0.001 * step, "completion_length/mean": sum(lengths) / len(lengths),
            "completion_length/max": max(lengths), "clip_ratio": 0.0, "frac_reward_zero_std": 0.1,
            "lr": 1e-6, "step_seconds": 1.0, "tokens_per_second": 100.0,
        })
        if eval_every and step % eval_every == 0:
            # eval written as a separate line for the same step, as the trainer does
            metrics_lines.append({
                "step": step, "eval/synthetic/accuracy": acc_p + rng.uniform(-0.02, 0.02),
                "eval/synthetic/response_length": float(words),
            })
    with (root / "metrics.jsonl").open("w", encoding="utf-8") as fh:
        for line in metrics_lines:
            fh.write(json.dumps(line) + "\n")
    return SyntheticRun(root, logged, aha_step)


if __name__ == "__main__":
    # regenerates the run behind docs/img/example-figure1.png:
    #   python -m tests.analysis.synthetic_run /tmp/example-run && visualthinker report /tmp/example-run
    import sys

    make_run(Path(sys.argv[1]), steps=200, prompts_per_step=2, group_size=8, aha_step=90, base_rate=0.02,
             late_rate=0.6, eval_every=20, initial_dip=True, seed=7)
