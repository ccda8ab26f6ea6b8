from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    from visualthinker.models.tiny import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture(scope="session")
def bench_data(tmp_path_factory):
    """CV-Bench, BLINK and VSR fixtures in their real on-disk formats."""
    from tests.data.fixtures import write_blink_fixture, write_cvbench_fixture, write_vsr_fixture

    root = tmp_path_factory.mktemp("benches")
    return {
        "cvbench": write_cvbench_fixture(root / "CV-Bench"),
        "blink": write_blink_fixture(root / "BLINK", subtasks=("Relative_Depth", "Spatial_Relation")),
        "vsr": write_vsr_fixture(root / "vsr_random"),
    }
