"""Both model families through the trainer, and the instruct chat template."""

import json

import pytest

from tests.trainer.conftest import make_records
from tests.trainer.test_train_run import _config
from visualthinker.errors import ModelError
from visualthinker.models import get_adapter
from visualthinker.models.tiny import build_tiny_model
from visualthinker.prompts import PromptSpec
from visualthinker.trainer.loop import GRPOTrainer

QWEN_CHAT = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% for content in message['content'] %}{% if content['type'] == 'image' %}"
    "<|vision_start|><|image_pad|><|vision_end|>{% else %}{{ content['text'] }}{% endif %}{% endfor %}"
    "<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def test_qwen2_5_vl_family_trains(tmp_path):
    model_dir = build_tiny_model(tmp_path / "q25", family="qwen2_5_vl")
    assert get_adapter(str(model_dir)).family == "qwen2_5_vl"
    out = tmp_path / "run"
    GRPOTrainer(_config(model_dir, out, "max_steps=1", "rewards=[tests.trainer.conftest:index_reward]"),
                make_records(2)).train()
    row = json.loads((out / "metrics.jsonl").read_text().splitlines()[0])
    assert row["grad_norm"] > 0


def test_instruct_template_uses_the_chat_template(tiny_model_dir, tmp_path):
    adapter = get_adapter(str(tiny_model_dir))
    processor = adapter.load_processor(str(tiny_model_dir))
    with pytest.raises(ModelError, match="instruct"):  # the flat base template has no roles
        adapter.render_prompt(processor, PromptSpec(template="instruct"), "Q?", 1)
    processor.chat_template = QWEN_CHAT
    text = adapter.render_prompt(processor, PromptSpec(template="instruct", literal_image_tag=False), "Is it left?", 1)
    assert text.startswith("<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>Is it left?  Output the")
    assert text.endswith("<answer> </answer> tags.<|im_end|>\n<|im_start|>assistant\n")
    assert not PromptSpec(template="instruct").prefills_think


def test_instruct_text_keeps_the_literal_image_tag_as_the_original():
    from visualthinker.prompts import sat_question

    # grpo.py formatted "{Question}  Output ..." with the SAT question "<image> Answer in natural language. ..."
    question = sat_question("Is the cup left of the box?", ["yes", "no"])
    expected = ("<image> Answer in natural language. Is the cup left of the box? Choose between the following "
                "options: yes or no  Output the thinking process in <think> </think> and final answer (option) in "
                "<answer> </answer> tags.")
    assert PromptSpec(template="instruct").text(question) == expected
    assert PromptSpec(template="instruct", literal_image_tag=False).text(question) == expected.removeprefix("<image>")


def test_direct_template():
    text = PromptSpec(template="direct", literal_image_tag=False).text("Q?")
    assert text.endswith("User: Q? \nAssistant: ") and "<think>" not in text


def test_answer_template_writes_the_answer_tag_and_scoring_reads_after_it():
    from visualthinker.evaluation.runner import periodic_eval_spec
    from visualthinker.rewards.functions import accuracy_reward, format_reward

    spec = PromptSpec(template="answer", literal_image_tag=False)
    assert spec.text("Q?").endswith("User: Q? \nAssistant: <answer>") and "<think>" not in spec.text("Q?")
    assert spec.raw_text and not spec.prefills_think
    scored = [spec.scored_text(c) for c in (" 3 </answer>", " 4 </answer>", " 3")]
    assert scored[0] == "<answer> 3 </answer>"
    assert format_reward(scored, prefills_think=[False] * 3, require_answer=True, answer_only=True) == [1.0, 1.0, 0.0]
    assert accuracy_reward(scored, [["3", "4"]] * 3, ["3"] * 3, [None] * 3) == [1.0, 0.0, 0.0]
    assert PromptSpec(template="base").scored_text(" x") == " x"  # the format reward prepends "<think>" itself
    assert periodic_eval_spec(spec) == spec
