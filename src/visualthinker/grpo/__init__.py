"""The GRPO objective as pure tensor functions."""

from visualthinker.grpo.objective import (
    LOSS_AGGREGATIONS,
    LossOutput,
    completion_mask_from_stops,
    group_advantages,
    grpo_loss,
    kl_k3,
    token_logprobs,
)

__all__ = [
    "LOSS_AGGREGATIONS",
    "LossOutput",
    "completion_mask_from_stops",
    "group_advantages",
    "grpo_loss",
    "kl_k3",
    "token_logprobs",
]
