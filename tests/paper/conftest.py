"""The paper configs against the reduced real Qwen2-VL-2B: the real config (sizes shrunk), generation_config.json,
tokenizer and processor settings, random weights. Built once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.trainer.conftest import REAL_QWEN2_VL_2B
from visualthinker.models.tiny import build_reduced_real_model

PAPER_CONFIGS = sorted((Path(__file__).resolve().parents[2] / "configs" / "paper").glob("grpo-*.yaml"))
needs_real_files = pytest.mark.skipif(not (REAL_QWEN2_VL_2B / "generation_config.json").exists(),
                                      reason="../shared/models/qwen2-vl-2b is not beside the checkout")


@pytest.fixture(scope="session")
def reduced_real_dir(tmp_path_factory) -> Path:
    return build_reduced_real_model(REAL_QWEN2_VL_2B, tmp_path_factory.mktemp("reduced-real") / "qwen2-vl-2b")


@pytest.fixture
def fresh_accelerate_state():
    """accelerate keeps one process-wide state; these tests switch mixed_precision, so each starts clean."""
    from accelerate.state import AcceleratorState

    AcceleratorState._reset_state(reset_partial_state=True)
    yield
    AcceleratorState._reset_state(reset_partial_state=True)


# An instruct-style chat template (roles, default system prompt) for the instruct paper configs: ../shared holds
# the base checkpoint's files only, whose flat template has no roles.
INSTRUCT_STYLE_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and message['role'] != 'system' %}<|im_start|>system\n"
    "You are a helpful assistant.<|im_end|>\n{% endif %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif content['type'] == 'text' %}{{ content['text'] }}{% endif %}{% endfor %}{% endif %}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


@pytest.fixture(scope="session")
def reduced_real_instruct_dir(reduced_real_dir, tmp_path_factory) -> Path:
    """The same reduced model with an instruct-style chat template (weights linked, not copied)."""
    import json

    out = tmp_path_factory.mktemp("reduced-real-instruct") / "qwen2-vl-2b"
    out.mkdir()
    for f in reduced_real_dir.iterdir():
        (out / f.name).symlink_to(f)
    (out / "chat_template.jinja").unlink()
    (out / "chat_template.jinja").write_text(INSTRUCT_STYLE_TEMPLATE)
    assert "chat_template" not in json.loads((out / "tokenizer_config.json").read_text())
    return out
