from pathlib import Path

import pytest

from visualthinker.data.record import Record
from visualthinker.models.tiny import build_tiny_model

REAL_QWEN2_VL_2B = Path(__file__).resolve().parents[2].parent / "shared" / "models" / "qwen2-vl-2b"


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model", seed=0)


@pytest.fixture(scope="session", params=["qwen2_vl", "qwen2_5_vl"])
def family_setup(request, tmp_path_factory):
    """(adapter, processor, fp32 model in eval mode) of a tiny model of each Qwen-VL family."""
    from visualthinker.models import get_adapter

    model_dir = build_tiny_model(tmp_path_factory.mktemp(request.param) / "m", family=request.param, seed=1)
    adapter = get_adapter(str(model_dir))
    return adapter, adapter.load_processor(str(model_dir)), adapter.load_model(str(model_dir)).eval()


def make_records(n: int = 4) -> list[Record]:
    """Records with images of different sizes and colours and questions of different lengths."""
    from PIL import Image

    from visualthinker.prompts import sat_question

    colours = [(255, 0, 0), (0, 0, 255), (0, 200, 0), (250, 250, 0)]
    sizes = [(112, 112), (84, 56), (56, 98), (70, 70)]
    out = []
    for i in range(n):
        choices = ["left", "right"] if i % 2 == 0 else ["1", "2", "3"]
        question = "Is the red circle left or right of the blue square?" if i % 2 == 0 else "How many circles?"
        out.append(Record(id=f"r{i}", images=[Image.new("RGB", sizes[i % 4], colours[i % 4])], question=question,
                          choices=choices, answer=choices[i % len(choices)], prompt=sat_question(question, choices),
                          task="relation" if i % 2 == 0 else "count", source="test"))
    return out


def index_reward(completions: list[str], **_) -> list[float]:
    """A plug-in reward with variance inside every group (a random tiny model earns no real reward)."""
    return [float(i % 3 == 1) for i in range(len(completions))]
