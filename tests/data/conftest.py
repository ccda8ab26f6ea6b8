"""Shared fixture folders, built once per session (they are read-only for the tests that use them)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.data.fixtures import (
    write_blink_fixture,
    write_cvbench_fixture,
    write_sat_fixture,
    write_vsr_fixture,
)


@pytest.fixture(scope="session")
def sat_pandas(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_sat_fixture(tmp_path_factory.mktemp("sat_pandas"), style="pandas")


@pytest.fixture(scope="session")
def sat_datasets(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_sat_fixture(tmp_path_factory.mktemp("sat_datasets"), style="datasets")


@pytest.fixture(scope="session")
def cvbench_split(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_cvbench_fixture(tmp_path_factory.mktemp("cvbench_split"), layout="split")


@pytest.fixture(scope="session")
def cvbench_single(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_cvbench_fixture(tmp_path_factory.mktemp("cvbench_single"), layout="single")


@pytest.fixture(scope="session")
def blink_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_blink_fixture(tmp_path_factory.mktemp("blink"))


@pytest.fixture(scope="session")
def vsr_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_vsr_fixture(tmp_path_factory.mktemp("vsr"))
