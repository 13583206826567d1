"""Data and cache folders follow the environment variables."""

from __future__ import annotations

from pathlib import Path

import pytest

from c2f_utils import paths


def test_env_variables_and_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("C2F_DATA_DIR", str(tmp_path / "d"))
    monkeypatch.setenv("C2F_CACHE_DIR", str(tmp_path / "c"))
    assert paths.data_dir() == tmp_path / "d" and paths.cache_dir() == tmp_path / "c"
    assert paths.data_dir(tmp_path / "x") == tmp_path / "x"
    monkeypatch.delenv("C2F_DATA_DIR")
    assert paths.data_dir().name == "data"
