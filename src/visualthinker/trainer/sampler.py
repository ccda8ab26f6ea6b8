"""Which prompts each rank takes at each step: a deterministic function of (seed, step), so that resuming needs
no sampler state and the ranks never share a prompt (a group is never split across ranks)."""

from __future__ import annotations

import torch


class PromptSchedule:
    def __init__(self, num_records: int, seed: int, prompts_per_micro_batch: int, world_size: int, rank: int) -> None:
        if num_records == 0:
            raise ValueError("the training set is empty")
        self.num_records = num_records
        self.seed = seed
        self.per_micro = prompts_per_micro_batch
        self.world_size = world_size
        self.rank = rank
        self._epochs: dict[int, list[int]] = {}

    def _order(self, epoch: int) -> list[int]:
        if epoch not in self._epochs:
            gen = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            self._epochs = {epoch: torch.randperm(self.num_records, generator=gen).tolist()}
        return self._epochs[epoch]

    def indices(self, step: int, micro: int, micro_per_step: int) -> list[int]:
        """Record indices for this rank's micro-batch `micro` of optimizer step `step` (0-based)."""
        start = ((step * micro_per_step + micro) * self.world_size + self.rank) * self.per_micro
        out = []
        for position in range(start, start + self.per_micro):
            epoch, offset = divmod(position, self.num_records)
            out.append(self._order(epoch)[offset])
        return out
