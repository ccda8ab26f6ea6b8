"""builtin:reduced-qwen2-vl-2b: where the real files come from, and the error when they are missing."""

from __future__ import annotations

import pytest

from tests.trainer.conftest import REAL_QWEN2_VL_2B
from visualthinker.errors import ModelError
from visualthinker.models.builtin import REAL_QWEN2_VL_2B_ENV, real_qwen2_vl_2b_dir, resolve_model_path


def test_missing_real_files_name_the_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("VISUALTHINKER_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv(REAL_QWEN2_VL_2B_ENV, str(tmp_path / "nowhere"))
    with pytest.raises(ModelError, match=REAL_QWEN2_VL_2B_ENV):
        resolve_model_path("builtin:reduced-qwen2-vl-2b")
    assert not (tmp_path / "cache" / "models" / "reduced-qwen2-vl-2b").exists()


@pytest.mark.skipif(not (REAL_QWEN2_VL_2B / "generation_config.json").exists(),
                    reason="../shared/models/qwen2-vl-2b is not beside the checkout")
def test_default_real_dir_is_beside_the_checkout(monkeypatch):
    monkeypatch.delenv(REAL_QWEN2_VL_2B_ENV, raising=False)
    assert real_qwen2_vl_2b_dir().resolve() == REAL_QWEN2_VL_2B.resolve()
