"""From a config to a finished run: load the data through the shared loaders, then train."""

from __future__ import annotations

from typing import Any

from visualthinker.config import TrainConfig
from visualthinker.data.record import Record
from visualthinker.errors import DataError
from visualthinker.runlock import RunDirLock


def load_train_records(config: TrainConfig) -> list[Record]:
    from visualthinker.data import load_records

    records = load_records(config.train_data, split=config.train_split, limit=config.train_limit,
                           seed=config.seed, **config.data_options)
    if not records:
        raise DataError(f"train_data {config.train_data!r} (split {config.train_split!r}) holds no usable records; "
                        f"check it with `visualthinker data validate {config.train_data}`")
    return records


def load_eval_records(config: TrainConfig) -> list[Record]:
    """The periodic-evaluation set: `eval_limit` items drawn with `seed`, stratified over tasks (and CV-Bench
    image sources) by `evaluation.subset`, the same at every step. The synthetic generator's first items are
    already a seeded draw with balanced tasks, so for it `eval_limit` is passed on as the number to generate."""
    if not config.eval_data or not config.eval_every:
        return []
    from visualthinker.data import load_records
    from visualthinker.evaluation.subset import stratified_subset

    if config.eval_data == "synthetic":
        records = load_records(config.eval_data, split=config.eval_split, limit=config.eval_limit,
                               seed=config.seed, **config.eval_options)
    else:
        full = load_records(config.eval_data, split=config.eval_split, seed=config.seed, **config.eval_options)
        records = stratified_subset(full, config.eval_limit, config.seed)
    if not records:
        raise DataError(f"eval_data {config.eval_data!r} (split {config.eval_split!r}) holds no usable records; "
                        f"check it with `visualthinker data validate {config.eval_data}`")
    return records


def train(config: TrainConfig) -> dict[str, Any]:
    """Run GRPO as configured; returns the run summary (also written to output_dir/train_summary.json)."""
    import dataclasses

    from visualthinker.models.builtin import resolve_model_path
    from visualthinker.trainer.loop import GRPOTrainer

    # Lock before loading anything: a second run on the same output_dir refuses at once, not after the model loads.
    with RunDirLock(config.output_dir):
        config = dataclasses.replace(
            config, model_path=resolve_model_path(config.model_path),
            ref_model_path=resolve_model_path(config.ref_model_path) if config.ref_model_path else None,
        )
        trainer = GRPOTrainer(config, load_train_records(config), load_eval_records(config))
        return trainer.train()
