"""A small protected release built from real pipeline output, for the release and publishing tests."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from pipelines.core.settings import Paths
from pipelines.demo.generator import generate_demo
from pipelines.demo.population import generate_population
from pipelines.stage2_pseudonymise.ingest import load_month
from pipelines.stage2_pseudonymise.keyed_hash import load_key
from pipelines.stage3_register.register import build_entries
from pipelines.stage4_statistics.compute import build_statistics
from pipelines.stage4_statistics.population import build_population, population_file
from pipelines.stage5_protection.release import build_release

MONTHS = ["2025-01", "2025-02", "2025-03"]
# small municipalities in two län, and a big one: small cells, hence suppressed ones, are common
KOMMUNER = ["0114", "0115", "0117", "0180", "2021", "2023", "2026", "2029"]


def small_release_home(mp: pytest.MonkeyPatch, root: Path, seed: int, population: bool = False) -> Paths:
    """Synthetic extracts for KOMMUNER, loaded Jan–Mar 2025 with a fresh key, statistics as of each
    month and the release as of March (asserted to pass its audit). ``mp`` points the environment
    (OROSTAT_HOME, DAGSTER_HOME, the key) at ``root``; the caller undoes it."""
    mp.setenv("OROSTAT_HOME", str(root))
    mp.setenv("DAGSTER_HOME", str(root / "dagster"))
    mp.setenv("OROSTAT_KEY", secrets.token_hex(32))
    mp.delenv("OROSTAT_KEY_FILE", raising=False)
    home = Paths(root)
    generate_demo(home.landing, year=2025, seed=seed, scale=0.3, municipality_codes=KOMMUNER)
    if population:
        generate_population(population_file(home), 2025, seed)  # SCB files cover every municipality
    key = load_key()
    for month in MONTHS:
        load_month(month, key, home)
        build_entries(home, month)
    if population:
        build_population(home)
    build_statistics(home, MONTHS)
    assert build_release(home, MONTHS[-1]).passes
    return home
