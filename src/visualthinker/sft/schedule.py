"""Which examples each rank trains on at each optimizer step: a pure function of (seed, step), so a resumed run
takes the same batches without sampler state. With length grouping, each epoch's shuffled order is cut into
windows of several steps and sorted by length inside each window, so a micro-batch (and the micro-batches the
ranks run side by side) holds sequences of similar length and padding stays small; the micro-batches of a window
are then taken in a shuffled order."""

from __future__ import annotations

import torch

WINDOW_STEPS = 8  # optimizer steps per sorting window: the order stays random at a coarser scale


class BatchSchedule:
    def __init__(self, lengths: list[int], seed: int, per_device: int, world_size: int, accumulation: int,
                 group_by_length: bool) -> None:
        self.lengths = lengths
        self.seed = seed
        self.per_device = per_device
        self.world_size = world_size
        self.accumulation = accumulation
        self.group_by_length = group_by_length
        self.per_micro = per_device * world_size  # examples in one micro-batch over all ranks
        self.per_step = self.per_micro * accumulation
        if len(lengths) < self.per_step:
            raise ValueError(f"{len(lengths)} examples are fewer than one optimizer step takes "
                             f"({per_device} per device x {world_size} ranks x {accumulation} accumulation)")
        # A partial last step would change the batch size; its examples come back, reshuffled, next epoch.
        self.steps_per_epoch = len(lengths) // self.per_step
        self._cache: dict[int, list[int]] = {}

    def _epoch_order(self, epoch: int) -> list[int]:
        if epoch not in self._cache:
            gen = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            order = torch.randperm(len(self.lengths), generator=gen).tolist()
            order = order[:self.steps_per_epoch * self.per_step]
            if self.group_by_length:
                order = self._grouped(order, gen)
            self._cache = {epoch: order}
        return self._cache[epoch]

    def _grouped(self, order: list[int], gen: torch.Generator) -> list[int]:
        """Sort each window by length, cut it into micro-batches (all ranks), and shuffle those, so that batches
        hold similar lengths but their order still changes from epoch to epoch."""
        window = self.per_step * WINDOW_STEPS
        out = []
        for start in range(0, len(order), window):
            ranked = sorted(order[start:start + window], key=lambda j: -self.lengths[j])
            micros = [ranked[k:k + self.per_micro] for k in range(0, len(ranked), self.per_micro)]
            for m in torch.randperm(len(micros), generator=gen).tolist():
                out.extend(micros[m])
        return out

    def epoch(self, step: int) -> float:
        return step / self.steps_per_epoch

    def indices(self, step: int, micro: int, rank: int) -> list[int]:
        """Example indices for `rank`'s micro-batch `micro` of optimizer step `step` (0-based)."""
        epoch, step_in_epoch = divmod(step, self.steps_per_epoch)
        start = step_in_epoch * self.per_step + micro * self.per_micro + rank * self.per_device
        return self._epoch_order(epoch)[start:start + self.per_device]
