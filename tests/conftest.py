"""Shared fixtures: an isolated OROSTAT_HOME and a fresh random key per test."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from pipelines.core.settings import Paths, paths


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Paths:
    monkeypatch.setenv("OROSTAT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home" / "dagster"))
    found = paths()
    found.landing.mkdir(parents=True)
    return found


@pytest.fixture
def key(monkeypatch: pytest.MonkeyPatch):
    from pipelines.stage2_pseudonymise.keyed_hash import load_key

    monkeypatch.delenv("OROSTAT_KEY_FILE", raising=False)
    monkeypatch.setenv("OROSTAT_KEY", secrets.token_hex(32))
    return load_key()
