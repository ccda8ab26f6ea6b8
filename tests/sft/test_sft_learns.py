"""SFT on the tiny model: the loss falls and the greedy answers move to the targets."""

import json

from tests.sft.conftest import sft_config
from tests.trainer.conftest import make_records
from visualthinker.evaluation.runner import ModelResponder
from visualthinker.models import get_adapter
from visualthinker.prompts import PromptSpec
from visualthinker.sft.loop import SFTTrainer


def _greedy_answers(model_dir, records) -> list[str]:
    adapter = get_adapter(str(model_dir))
    model = adapter.load_model(str(model_dir)).eval()
    processor = adapter.load_processor(str(model_dir), 3136, 12544)
    responder = ModelResponder(model, adapter, processor, PromptSpec("direct"), max_new_tokens=4)
    return [r.text.strip() for r in responder(records)]


def test_loss_falls_and_greedy_answers_reach_the_targets(tiny_model_dir, tmp_path):
    records = make_records(4)
    targets = [r.answer for r in records]
    assert _greedy_answers(tiny_model_dir, records) != targets  # a random model does not know them
    out = tmp_path / "sft"
    # full batches: the same 4 examples every step, so the run does not hinge on the batch order
    config = sft_config(tiny_model_dir, out, "template=direct", "learning_rate=5e-3", "lr_scheduler=constant",
                        "max_steps=40", "per_device_batch_size=4", "gradient_accumulation_steps=1", "save_every=0")
    SFTTrainer(config, records).train()
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == list(range(1, 41))
    first, last = rows[0]["loss"], sum(r["loss"] for r in rows[-3:]) / 3
    assert last < 0.01 * first, (first, last)
    # the completion is the answer text and <|im_end|>, at which greedy decoding stops
    assert _greedy_answers(out / "final", records) == targets
