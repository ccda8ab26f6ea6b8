"""With the real Qwen2-VL-2B tokenizer, chat template and image-processor settings (no weights): the prompt token
ids, image grids and weight names a real run sees."""

import json

import pytest
import torch
from PIL import Image

from tests.trainer.conftest import REAL_QWEN2_VL_2B
from visualthinker.models import get_adapter
from visualthinker.models.tiny import build_reduced_real_model
from visualthinker.prompts import BASE_TEMPLATE, PromptSpec, sat_question

pytestmark = pytest.mark.skipif(not (REAL_QWEN2_VL_2B / "vocab.json").exists(),
                                reason="../shared/models/qwen2-vl-2b is not beside the checkout")


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    model_dir = build_reduced_real_model(REAL_QWEN2_VL_2B, tmp_path_factory.mktemp("real") / "m", max_pixels=401408)
    adapter = get_adapter(str(model_dir))
    return adapter, adapter.load_processor(str(model_dir), 3136, 401408), model_dir


def test_special_token_ids_of_the_real_tokenizer(real):
    adapter, processor, _ = real
    assert adapter.stop_token_ids(processor) == [151645, 151643]  # <|im_end|>, <|endoftext|>
    assert adapter.never_sample_ids(processor) == [151652, 151653, 151654, 151655, 151656]
    assert adapter.pad_token_id(processor) == 151643


def test_base_prompt_token_ids(real):
    adapter, processor, _ = real
    question = sat_question("Is the lamp to the left or right of the sofa?", ["right", "left"])
    text = adapter.render_prompt(processor, PromptSpec(), question, 1)
    # the flat base chat template of the checkpoint renders exactly the same string
    flat = processor.apply_chat_template([{"type": "image"}, {"type": "text", "text": PromptSpec().text(question)}],
                                         tokenize=False)
    assert text == flat
    assert "User:  Answer in natural language." in text  # the paper's double space
    image = Image.new("RGB", (640, 480), (120, 30, 30))
    batch = adapter.encode(processor, [text], [[image]])
    ids = batch["input_ids"][0].tolist()
    grid = batch["image_grid_thw"][0].tolist()
    n_image = grid[0] * grid[1] * grid[2] // 4  # 2x2 patch merge
    assert grid == [1, 34, 46]  # 640x480 resized to multiples of 28 within max_pixels
    assert ids[0] == 151652 and ids[1: 1 + n_image] == [151655] * n_image and ids[1 + n_image] == 151653
    tokenizer = processor.tokenizer
    rest = ids[2 + n_image:]
    assert rest == tokenizer("<image>" + BASE_TEMPLATE.format(question=question))["input_ids"]
    assert tokenizer.decode(rest) == "<image>" + BASE_TEMPLATE.format(question=question)
    # the prompt ends on "<think>" as plain text tokens, never a special token
    assert rest[-3:] == [13708, 766, 29]  # "<think>" is three ordinary tokens ("<th", "ink", ">") in Qwen2
    assert all(i < 151643 for i in rest)


def test_paper_max_pixels_bound_the_visual_tokens(real):
    adapter, processor, _ = real
    batch = adapter.encode(processor, ["<|vision_start|><|image_pad|><|vision_end|>x"],
                           [[Image.new("RGB", (2000, 1500))]])
    assert int(batch["image_grid_thw"][0].prod()) // 4 <= 512


def test_model_class_expects_the_real_checkpoint_weight_names(real):
    """The 729 names of the real checkpoint load into our model class (via transformers' key mapping)."""
    from transformers import Qwen2VLConfig, Qwen2VLForConditionalGeneration

    names = set(json.loads((REAL_QWEN2_VL_2B / "model.safetensors.index.json").read_text())["weight_map"])
    assert len(names) == 729
    config = Qwen2VLConfig.from_pretrained(REAL_QWEN2_VL_2B)
    with torch.device("meta"):
        model = Qwen2VLForConditionalGeneration(config)
    _, _, model_dir = real
    # our saved checkpoints use the same legacy names as the real one (one layer here)
    from safetensors import safe_open

    with safe_open(str(model_dir / "model.safetensors"), "pt") as f:
        saved = set(f.keys())
    real_layer0 = {n for n in names if ".layers.0." in n or ".blocks.0." in n or not any(
        x in n for x in (".layers.", ".blocks."))}
    assert real_layer0 - {"lm_head.weight"} <= saved
    expected = {k for k in model.state_dict()}
    assert len(expected) == len(names) + (1 if "lm_head.weight" not in names else 0)
