from tests.trainer.conftest import tiny_model_dir  # noqa: F401 (a pytest fixture shared with the trainer tests)
from visualthinker.sft.config import load_sft_config

# Shrinking settings shared by the SFT tests: tiny images, no trackers, no progress bar.
SMALL = ["report_to=[]", "progress_bar=false", "min_pixels=3136", "max_pixels=12544"]


def sft_config(model_dir, out, *extra):
    return load_sft_config(None, [f"model_path={model_dir}", f"output_dir={out}", *SMALL, *extra])
