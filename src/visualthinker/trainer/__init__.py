"""The GRPO trainer (accelerate loop), its rollouts, checkpoints and run logs."""

from visualthinker.trainer.loop import GRPOTrainer

__all__ = ["GRPOTrainer"]
