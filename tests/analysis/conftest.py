from __future__ import annotations

from pathlib import Path

import pytest

from tests.analysis.synthetic_run import SyntheticRun, make_run


@pytest.fixture(scope="session")
def aha_run(tmp_path_factory: pytest.TempPathFactory) -> SyntheticRun:
    return make_run(tmp_path_factory.mktemp("runs") / "aha", aha_step=30, seed=0)


@pytest.fixture(scope="session")
def flat_run(tmp_path_factory: pytest.TempPathFactory) -> SyntheticRun:
    # a small nonzero base rate: occasional reflective samples that must not be read as an aha moment
    return make_run(tmp_path_factory.mktemp("runs") / "flat", aha_step=None, base_rate=0.03, seed=1,
                    with_images=False, with_config=False)


@pytest.fixture(scope="session")
def aha_analysis(aha_run: SyntheticRun) -> dict:
    from visualthinker.analysis import analyze_run

    return analyze_run(aha_run.path)


@pytest.fixture(scope="session")
def aha_report(aha_run: SyntheticRun, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from visualthinker.analysis import write_report

    return write_report(aha_run.path, tmp_path_factory.mktemp("report") / "out")
