"""Without a population file a release has no rates per 1,000 children; the report leaves them out."""

from __future__ import annotations

import shutil

import pytest

from pipelines.core.settings import Paths
from pipelines.stage5_protection.release import release_folder
from pipelines.stage6_publishing.release_tables import Release, published_folder
from pipelines.stage6_publishing.report import build_report
from tests.stage6.conftest import RELEASE

pytestmark = pytest.mark.slow
PER_1000 = "per 1 000 barn 0–17 år"


def test_rates_per_1000_are_omitted_not_shown_as_gaps(published: Paths, tmp_path) -> None:
    with_population = (published_folder(published, RELEASE) / "rapport" / "index.html").read_text("utf-8")
    assert with_population.count(PER_1000) >= 3  # summary, county chart and county table
    folder = tmp_path / "release"
    shutil.copytree(release_folder(published, RELEASE), folder)
    for path in folder.glob("population_rates.*"):
        path.unlink()
    build_report(Release(folder), tmp_path / "rapport")
    index = (tmp_path / "rapport" / "index.html").read_text("utf-8")
    summary = index.split('data-testid="summary"')[1].split("</table>")[0]
    counties = index.split('data-testid="counties"')[1].split("</table>")[0]
    assert PER_1000 not in summary and PER_1000 not in counties
    assert "Anmälningar per län" in index  # the county chart falls back to counts
    page = (tmp_path / "rapport" / "kommun" / "0114.html").read_text("utf-8")
    assert PER_1000 not in page and "Andel beslutade inom 14 dagar" in page
