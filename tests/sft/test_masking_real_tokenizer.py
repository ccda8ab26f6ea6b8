"""SFT inputs and labels token by token under the real Qwen2-VL-2B tokenizer and image processor: the original's
chat rendering, completion-only and all-token labels, and no loss on padding or vision tokens."""

import pytest
import torch
from PIL import Image

from tests.trainer.conftest import REAL_QWEN2_VL_2B
from visualthinker.data.record import Record
from visualthinker.models import get_adapter
from visualthinker.models.tiny import build_reduced_real_model
from visualthinker.prompts import sat_question
from visualthinker.sft.collate import IGNORE, collate
from visualthinker.sft.config import load_sft_config
from visualthinker.sft.data import build_examples

pytestmark = pytest.mark.skipif(not (REAL_QWEN2_VL_2B / "vocab.json").exists(),
                                reason="../shared/models/qwen2-vl-2b is not beside the checkout")

VISION = {151652, 151653, 151655}  # <|vision_start|>, <|vision_end|>, <|image_pad|>
SYSTEM = "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    model_dir = build_reduced_real_model(REAL_QWEN2_VL_2B, tmp_path_factory.mktemp("real") / "m")
    adapter = get_adapter(str(model_dir))
    processor = adapter.load_processor(str(model_dir), 3136, 401408)
    assert adapter.ensure_chat_template(processor)  # the base checkpoint's template has no roles
    return adapter, processor, model_dir


def _records() -> list[Record]:
    specs = [("Is the lamp to the left or right of the sofa?", ["right", "left"], (640, 480)),
             ("How many chairs are in the room?", ["3", "2", "4"], (300, 200))]
    return [Record(id=f"s{i}", images=[Image.new("RGB", size, (40 * i, 90, 20))], question=q, choices=c,
                   answer=c[1], prompt=sat_question(q, c), task="t", source="test")
            for i, (q, c, size) in enumerate(specs)]


def _examples(real, model_dir, *overrides):
    adapter, processor, _ = real
    config = load_sft_config(None, [f"model_path={model_dir}", *overrides])
    examples, skipped = build_examples(_records(), config, adapter, processor)
    assert skipped == 0
    return examples


def test_chat_rendering_is_the_original_sft_text(real):
    adapter, processor, model_dir = real
    examples = _examples(real, model_dir, "completion_suffix=\"<|im_end|>\\n\"")
    q = sat_question("Is the lamp to the left or right of the sofa?", ["right", "left"])
    assert examples[0].prompt == (SYSTEM + "<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|><image>"
                                  + q + "<|im_end|>\n<|im_start|>assistant\n")
    assert examples[0].completion == "left<|im_end|>\n"
    assert "User:  Answer" not in examples[0].prompt and "<image> Answer in natural language." in examples[0].prompt


@pytest.mark.parametrize("loss_on", ["completion", "all"])
def test_labels_token_by_token(real, loss_on):
    adapter, processor, model_dir = real
    examples = _examples(real, model_dir, f"loss_on={loss_on}")
    batch = collate(examples, adapter, processor, loss_on, 401408, 3136)
    ids, labels, mask = batch["input_ids"], batch["labels"], batch["attention_mask"]
    assert ids.shape[0] == 2 and ids.shape[1] == max(e.length for e in examples)
    tok = processor.tokenizer
    im_start, im_end = tok.convert_tokens_to_ids("<|im_start|>"), tok.convert_tokens_to_ids("<|im_end|>")
    grids = batch["image_grid_thw"].prod(-1) // 4
    for row, example in enumerate(examples):
        n = int(mask[row].sum())
        assert n == example.length  # the length used for grouping is exact, image tokens included
        assert mask[row, :n].all() and not mask[row, n:].any()  # right padding
        row_ids, row_labels = ids[row, :n].tolist(), labels[row, :n].tolist()
        assert row_ids.count(151655) == int(grids[row])
        completion = tok(example.completion, add_special_tokens=False)["input_ids"]
        assert row_ids[-len(completion):] == completion and tok.decode(completion) == example.record.answer + "<|im_end|>"
        prompt_len = n - len(completion)
        # tokenising prompt and completion apart gives the same ids as the original's whole-text tokenisation
        whole = adapter.encode(processor, [example.prompt + example.completion],
                               [example.record.load_images(401408, 3136)])
        assert whole["input_ids"][0][whole["attention_mask"][0].bool()].tolist() == row_ids
        # the prompt ends with the assistant header, as generation sees it
        assert tok.decode(row_ids[:prompt_len]).endswith("<|im_start|>assistant\n")
        for pos, (token, label) in enumerate(zip(row_ids, row_labels, strict=True)):
            if token in VISION:
                assert label == IGNORE, pos
            elif pos >= prompt_len or loss_on == "all":
                assert label == token, pos
            else:
                assert label == IGNORE, pos
        assert (labels[row, n:] == IGNORE).all()  # padding is never a target
        if loss_on == "completion":
            assert [t for t in row_labels if t != IGNORE] == completion
        else:  # the original: system turn, role tokens and question text are targets too
            kept = [t for t in row_labels if t != IGNORE]
            assert kept[0] == im_start and kept.count(im_end) == 3 and len(kept) == n - row_ids.count(151655) - 2
    assert labels[1, int(mask[1].sum()):].numel() > 0  # the shorter row really is padded
    # vision tokens only inside the prompt; no label anywhere is a vision token
    assert not torch.isin(labels, torch.tensor(sorted(VISION))).any()


def test_pixel_values_follow_the_rows(real):
    adapter, processor, model_dir = real
    examples = _examples(real, model_dir)
    batch = collate(examples, adapter, processor, "completion", 401408, 3136)
    grid = batch["image_grid_thw"]
    assert grid.tolist() == [[1, 34, 46], [1, 14, 22]]  # 640x480 and 300x200 resized to multiples of 28
    assert batch["pixel_values"].shape[0] == int(grid.prod(-1).sum())


def test_a_too_long_example_is_refused_by_name(real):
    from visualthinker.errors import DataError

    adapter, processor, model_dir = real
    with pytest.raises(DataError, match="record 's0' is .* tokens .* max_seq_length=200"):
        _examples(real, model_dir, "max_seq_length=200")
