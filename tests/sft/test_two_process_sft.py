"""SFT in two CPU processes (gloo) through torchrun, the code path of multi-GPU DDP: the ranks train on different
examples and end with identical weights."""

import json
import os
from pathlib import Path

import pytest

from tests.torchrun import run_two_processes
from visualthinker.data import load_records
from visualthinker.models import get_adapter
from visualthinker.sft.config import load_sft_config
from visualthinker.sft.data import build_examples
from visualthinker.sft.schedule import BatchSchedule

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_two_process_sft_keeps_ranks_in_sync(tiny_model_dir, tmp_path):
    out = tmp_path / "ddp"
    overrides = [f"model_path={tiny_model_dir}", f"output_dir={out}", "dtype=float32", "mixed_precision='no'",
                 "attn_implementation=null", "train_data=synthetic", "data_options={n: 16}", "max_steps=2",
                 "save_every=1", "report_to=[]", "progress_bar=false", "max_pixels=12544", "per_device_batch_size=2"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO)])}
    config_path = REPO / "configs" / "paper" / "sft-qwen2vl-2b-base-sat.yaml"
    run_two_processes(["visualthinker", "sft", str(config_path), *overrides], env, tmp_path, timeout=240)
    summary = json.loads((out / "train_summary.json").read_text())
    assert summary["num_processes"] == 2
    assert summary["ranks_in_sync"], summary["parameter_checksums"]
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2] and rows[0]["grad_norm"] > 0
    # the tokens counted at step 1 are those of the examples the schedule gives rank 0 and rank 1, all different
    config = load_sft_config(config_path, overrides)
    adapter = get_adapter(str(tiny_model_dir))
    processor = adapter.load_processor(str(tiny_model_dir), config.min_pixels, config.max_pixels)
    adapter.ensure_chat_template(processor)
    examples, _ = build_examples(load_records("synthetic", split="train", n=16, seed=config.seed), config, adapter,
                                 processor)
    schedule = BatchSchedule([e.length for e in examples], config.seed, 2, 2, 2, True)
    taken = [i for micro in range(2) for rank in range(2) for i in schedule.indices(0, micro, rank)]
    assert len(set(taken)) == 8
    assert rows[0]["tokens"] == sum(examples[i].length for i in taken)
