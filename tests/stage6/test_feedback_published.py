"""Återkoppling through protection and publishing, on the small release (seed 11: of its 8 municipalities,
2029 delivers no feedback column). Not delivered is published as missing (-), never 0; nothing published
carries a personnummer."""

from __future__ import annotations

import re

import pandas as pd

from pipelines.core.settings import Paths
from pipelines.stage2_pseudonymise.leak_scan import needles_from_landing, scan
from pipelines.stage5_protection.release import release_folder
from pipelines.stage5_protection.symbols import MISSING
from pipelines.stage6_publishing.release_tables import published_folder
from tests.releases import KOMMUNER
from tests.stage6.conftest import RELEASE

WITHOUT_COLUMN = "2029"


def _landing_has_column(home: Paths, code: str) -> bool:
    path = next(home.landing.glob(f"{code}_{RELEASE}.csv"))
    header = path.read_bytes().splitlines()[0].decode("utf-8-sig", errors="replace")
    return "terkoppling" in header


def _feedback(home: Paths) -> pd.DataFrame:
    return pd.read_parquet(release_folder(home, RELEASE) / "feedback.parquet")


def test_the_fixture_has_municipalities_with_and_without_the_column(published: Paths) -> None:
    assert not _landing_has_column(published, WITHOUT_COLUMN)
    assert _landing_has_column(published, "0180") and _landing_has_column(published, "2021")


def test_a_municipality_without_the_column_is_missing_never_zero(published: Paths) -> None:
    table = _feedback(published)
    current = table[(table.geo_level == "kommun") & (table.period == RELEASE[:4])]
    absent = current[current.geo_code == WITHOUT_COLUMN]
    assert len(absent) > 0
    assert absent["status"].eq(MISSING).all() and absent["value"].isna().all()
    delivering = current[current.geo_code.isin(set(KOMMUNER) - {WITHOUT_COLUMN, "0117"})]
    decided = delivering[delivering.feedback == "decided"]
    assert decided["status"].ne(MISSING).all()
    assert decided["value"].fillna(0).gt(0).any()
    # A missing cell is never written as 0 in the CSV readers download.
    csv = pd.read_csv(release_folder(published, RELEASE) / "feedback.csv", sep=";", dtype=str)
    rows = csv[csv.apply(lambda r: WITHOUT_COLUMN in r.to_numpy(), axis=1)]
    assert len(rows) > 0 and not rows.isin(["0"]).any().any()


def test_national_shares_cover_only_reporting_municipalities(published: Paths) -> None:
    rates = pd.read_parquet(release_folder(published, RELEASE) / "rates.parquet")
    national = rates[(rates.rate == "share_feedback_given") & (rates.geo_level == "riket")]
    march = national[national.period == RELEASE].iloc[0]
    assert march.status == "" and 0 < march.value < 1
    # A county with no municipality in the demo reports nothing: missing, not 0 %.
    county = rates[(rates.rate == "share_feedback_given") & (rates.geo_code == "25")]
    assert county["status"].eq(MISSING).all()


def test_the_report_has_the_feedback_section(published: Paths) -> None:
    report = published_folder(published, RELEASE) / "rapport"
    index = (report / "index.html").read_text("utf-8")
    assert 'id="aterkoppling"' in index and "fig-riket-feedback" in index
    assert re.search(r"i de \d+ av 290 kommuner som lämnar uppgift", index)
    assert 'data-testid="feedback-missing"' in (report / "kommun" / f"{WITHOUT_COLUMN}.html").read_text(
        "utf-8"
    )
    assert "fig-k0180-feedback" in (report / "kommun" / "0180.html").read_text("utf-8")
    about = (report / "om.html").read_text("utf-8")
    assert "14 kap. 1 a § tredje stycket" in about and "socialtjänstlagen (2025:400)" in about


def test_no_personnummer_in_anything_published(published: Paths) -> None:
    """Every delivered number (10 and 12 digits), searched for in every published and released file,
    Parquet columns and metadata included (the pipeline's own leak scan)."""
    needles = needles_from_landing(published.landing)
    assert len(needles.ten) > 100
    for folder in (published_folder(published, RELEASE), release_folder(published, RELEASE)):
        assert any(p.name.startswith("feedback") for p in folder.rglob("*"))
        assert scan(folder, needles) == []
