"""Numerical guards for the training loop: a non-finite reward (naming the reward function), advantage, loss or
gradient norm stops the run before the optimizer touches the weights, and weights are checked before every save,
so a NaN never reaches a checkpoint. Every rank raises together (a flag is all-reduced), so a fault on one rank
never leaves the others waiting in a collective."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any

import torch

from visualthinker.errors import TrainingError

logger = logging.getLogger("visualthinker.trainer")


def reward_tensor(name: str, values: Any, count: int) -> torch.Tensor:
    """A reward function's output as a float tensor: one finite-or-not float per completion, or a clear error."""
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().reshape(-1).tolist()
    elif not isinstance(values, (list, tuple)) and callable(getattr(values, "tolist", None)):
        values = values.tolist()  # a numpy array
        values = values if isinstance(values, list) else [values]
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        raise TrainingError(f"reward {name!r} returned a {type(values).__name__}; a reward must return a list "
                            f"with one float per completion ({count} here)")
    if len(values) != count:
        raise TrainingError(f"reward {name!r} returned {len(values)} values for {count} completions; "
                            "return one float per completion")
    out = []
    for i, v in enumerate(values):
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            try:
                v = float(v)  # numpy and 0-d tensor scalars
            except (TypeError, ValueError):
                raise TrainingError(f"reward {name!r} returned {v!r} for completion {i}; a reward must return one "
                                    "float per completion") from None
        out.append(float(v))
    return torch.tensor(out, dtype=torch.float32)


def _nonfinite(values: torch.Tensor) -> str | None:
    bad = ~torch.isfinite(values.detach().float())
    if not bool(bad.any()):
        return None
    example = values.detach().float()[bad].reshape(-1)[0].item()
    return f"{int(bad.sum())} of {values.numel()} values are not finite (e.g. {example})"


def agree(accelerator: Any, problem: str | None, step: int) -> None:
    """Raise on every rank if any rank found a problem (one all-reduce when there are several ranks)."""
    if accelerator is not None and accelerator.num_processes > 1:
        flag = torch.tensor([1.0 if problem else 0.0], device=accelerator.device)
        if accelerator.reduce(flag, reduction="sum").item() > 0 and problem is None:
            problem = f"step {step}: another rank found a non-finite value (see its error); stopped"
    if problem:
        raise TrainingError(problem)


def rollout_problem(step: int, reward_values: dict[str, torch.Tensor], total: torch.Tensor,
                    advantages: torch.Tensor) -> str | None:
    """The first non-finite quantity of one rollout, named, or None. `step` is 1-based as in metrics.jsonl."""
    for name, values in reward_values.items():
        bad = _nonfinite(values)
        if bad:
            return (f"step {step}: reward {name!r} returned non-finite values ({bad}); the run stopped before "
                    "updating the weights. Make the reward function return finite floats")
    bad = _nonfinite(total)
    if bad:
        return (f"step {step}: the weighted sum of the rewards is not finite ({bad}); lower reward_weights or "
                "the rewards' scale")
    bad = _nonfinite(advantages)
    if bad:
        return (f"step {step}: the advantages are not finite ({bad}); check advantage_eps (> 0) and the rewards' "
                "scale")
    return None


def check_rollouts(accelerator: Any, step: int, experiences: Sequence[Any]) -> None:
    problem = None
    for exp in experiences:
        problem = problem or rollout_problem(step, exp.reward_values, exp.rewards, exp.advantages)
    agree(accelerator, problem, step)


def update_problem(step: int, losses: Sequence[torch.Tensor], grad_norm: float | None,
                   overflow_skips_step: bool, updated_in_backward: bool = False) -> str | None:
    """A non-finite loss, or gradient norm (unless an fp16 loss scaler will skip the step, as it is built to).

    Under DeepSpeed the optimizer step runs inside `backward`, so the check comes after the update: the message
    says so (nothing of that step is saved: the weights are checked before every checkpoint)."""
    stopped = ("the run stopped (DeepSpeed had already applied this step's update; no checkpoint of it is saved)"
               if updated_in_backward else "the run stopped before updating the weights")
    for loss in losses:
        if not bool(torch.isfinite(loss.detach()).all()):
            return (f"step {step}: the loss is {loss.item()}; {stopped}. "
                    "Lower learning_rate, check the rewards and advantage_eps, or resume from the last checkpoint")
    if grad_norm is not None and not math.isfinite(grad_norm) and not overflow_skips_step:
        return (f"step {step}: the gradient norm is {grad_norm}; {stopped}. "
                "Lower learning_rate or max_grad_norm, or use float32 / bf16 instead of fp16")
    return None


def check_update(accelerator: Any, step: int, losses: Sequence[torch.Tensor], grad_norm: float | None) -> None:
    overflow_skips_step = getattr(accelerator, "scaler", None) is not None
    state = getattr(accelerator, "state", None)
    updated_in_backward = getattr(getattr(state, "distributed_type", None), "name", "") == "DEEPSPEED"
    agree(accelerator, update_problem(step, losses, grad_norm, overflow_skips_step, updated_in_backward), step)


def _local(param: torch.Tensor) -> torch.Tensor:
    """The part of a (possibly sharded) parameter this rank holds: DTensor (FSDP2) or DeepSpeed ZeRO-3 shard."""
    shard = getattr(param, "ds_tensor", None)
    if shard is not None:
        return shard
    to_local = getattr(param, "to_local", None)
    return to_local() if callable(to_local) else param


def nonfinite_weights(model: torch.nn.Module) -> list[str]:
    """Names of the parameters (this rank's shards) holding a NaN or an infinity."""
    names = []
    for name, param in model.named_parameters():
        data = _local(param).detach()
        if data.numel() and not bool(torch.isfinite(data).all()):
            names.append(name)
    return names


def check_weights(accelerator: Any, model: torch.nn.Module, step: int, what: str) -> None:
    """Refuse to save non-finite weights: nothing is written, so the last good checkpoint stays the last one."""
    bad = nonfinite_weights(model)
    problem = None
    if bad:
        shown = ", ".join(bad[:3]) + (f" and {len(bad) - 3} more" if len(bad) > 3 else "")
        problem = (f"step {step}: the weights hold non-finite values ({shown}); {what} was not saved. "
                   "Resume from the last checkpoint with a lower learning_rate")
    agree(accelerator, problem, step)
