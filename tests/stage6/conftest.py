"""A small protected release (8 municipalities, Jan–Mar, with a synthetic SCB population) published through
the stage 6 Dagster assets, built once per worker and read by the publishing tests."""

from __future__ import annotations

import secrets

import pytest
from dagster import materialize

from pipelines.core.settings import Paths
from pipelines.demo.generator import generate_demo, generate_population
from pipelines.stage2_pseudonymise.ingest import load_month
from pipelines.stage2_pseudonymise.keyed_hash import load_key
from pipelines.stage3_register.register import build_entries
from pipelines.stage4_statistics.compute import build_statistics
from pipelines.stage4_statistics.population import build_population, population_file
from pipelines.stage5_protection.release import build_release
from pipelines.stage6_publishing.assets import (
    data_dictionary,
    published_report,
    published_workbook,
    research_database,
)
from pipelines.stage6_publishing.release_tables import published_folder

MONTHS = ["2025-01", "2025-02", "2025-03"]
RELEASE = MONTHS[-1]
# small municipalities in two län, and a big one: small cells, hence suppressed ones, are common
KOMMUNER = ["0114", "0115", "0117", "0180", "2021", "2023", "2026", "2029"]


@pytest.fixture(scope="session")
def published(tmp_path_factory: pytest.TempPathFactory) -> Paths:
    mp = pytest.MonkeyPatch()
    root = tmp_path_factory.mktemp("published")
    mp.setenv("OROSTAT_HOME", str(root))
    mp.setenv("DAGSTER_HOME", str(root / "dagster"))
    mp.setenv("OROSTAT_KEY", secrets.token_hex(32))
    mp.delenv("OROSTAT_KEY_FILE", raising=False)
    home = Paths(root)
    generate_demo(home.landing, year=2025, seed=11, scale=0.3, municipality_codes=KOMMUNER)
    generate_population(population_file(home), 2025, 11)  # SCB files cover every municipality
    key = load_key()
    for month in MONTHS:
        load_month(month, key, home)
        build_entries(home, month)
    build_population(home)
    build_statistics(home, MONTHS)
    assert build_release(home, RELEASE).passes
    assets = [research_database, data_dictionary, published_workbook, published_report]
    assert materialize(assets, partition_key=RELEASE).success
    assert published_folder(home, RELEASE).exists()
    mp.undo()  # tests name the home explicitly: a session-wide OROSTAT_HOME would leak into other modules
    return home
