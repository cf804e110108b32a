"""A small protected release (8 municipalities, Jan–Mar, with a synthetic SCB population) published through
the stage 6 Dagster assets, built once per worker and read by the publishing tests."""

from __future__ import annotations

import pytest
from dagster import materialize

from pipelines.core.settings import Paths
from pipelines.stage6_publishing.assets import (
    data_dictionary,
    published_report,
    published_workbook,
    research_database,
)
from pipelines.stage6_publishing.release_tables import published_folder
from tests.releases import MONTHS, small_release_home

RELEASE = MONTHS[-1]


@pytest.fixture(scope="session")
def published(tmp_path_factory: pytest.TempPathFactory) -> Paths:
    mp = pytest.MonkeyPatch()
    home = small_release_home(mp, tmp_path_factory.mktemp("published"), seed=11, population=True)
    assets = [research_database, data_dictionary, published_workbook, published_report]
    assert materialize(assets, partition_key=RELEASE).success
    assert published_folder(home, RELEASE).exists()
    mp.undo()  # tests name the home explicitly: a session-wide OROSTAT_HOME would leak into other modules
    return home
