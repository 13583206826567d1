"""Shared fixtures: isolated cache folders, the optional real-data folder and fake copies of the real data."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_data import FakeData, write_fake_data

REPO = Path(__file__).resolve().parent.parent


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist, each worker takes its share of the cores (PyTorch, BLAS, and the
    kernels and processes it starts), unless OMP_NUM_THREADS was set by the caller
    (``python3 tasks.py test`` sets 1): two workers with default threads on two cores run
    about ten times slower."""
    workers = os.environ.get("PYTEST_XDIST_WORKER_COUNT")
    if workers and not os.environ.get("OMP_NUM_THREADS"):
        from c2f_utils.sweep import pin_threads, threads_per_process

        pin_threads(threads_per_process(int(workers)))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests marked ``slow`` run first (in collection order otherwise): pytest-xdist hands
    tests out in order, so that a minute-long test found last would leave the other worker idle
    at the end of the run."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Every test gets its own C2F_CACHE_DIR so that no test reads another's results; it is
    removed when the test ends (runs, checkpoints and decoded datasets would otherwise
    accumulate over the session)."""
    cache = tmp_path_factory.mktemp("c2f-cache")
    monkeypatch.setenv("C2F_CACHE_DIR", str(cache))
    yield cache
    shutil.rmtree(cache, ignore_errors=True)


def _shared_data() -> Path | None:
    env = os.environ.get("C2F_DATA_DIR")
    for candidate in (Path(env) if env else None, REPO.parent / "shared" / "data"):
        if candidate is not None and candidate.is_dir():
            return candidate
    return None


SHARED_DATA = _shared_data()


@pytest.fixture
def shared_data() -> Path:
    """The real-data folder ($C2F_DATA_DIR or ../shared/data); skips when absent."""
    if SHARED_DATA is None:
        pytest.skip("no real-data folder: set C2F_DATA_DIR or place the shared data beside the checkout")
    return SHARED_DATA


@pytest.fixture(scope="session")
def fake_data(tmp_path_factory: pytest.TempPathFactory) -> FakeData:
    """Tiny fake copies of every real dataset in its public on-disk format (tests/fake_data.py), and what they hold."""
    return write_fake_data(tmp_path_factory.mktemp("fake-data"))


@pytest.fixture(scope="session")
def fake_data_dir(fake_data: FakeData) -> Path:
    """A data folder (``data_dir=`` / ``C2F_DATA_DIR``) holding fake copies of every real dataset; read-only by use."""
    return fake_data.root
