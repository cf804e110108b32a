"""A period with nothing loaded (the small release loads January–March 2025 only: 2024 has no data) reads as
missing in what is published from the release, never as 0."""

from __future__ import annotations

from pipelines.core.settings import Paths
from pipelines.stage6_publishing import research
from pipelines.stage6_publishing.release_tables import published_folder
from tests.stage6.conftest import RELEASE
from tests.stage6.html_tables import by_testid


def test_the_research_database_has_no_value_for_a_year_without_data(published: Paths) -> None:
    folder = published_folder(published, RELEASE)
    sql = (
        "SELECT count(*) FILTER (WHERE value IS NOT NULL) AS shown, count(*) FILTER (WHERE status = '-') AS missing "
        "FROM outcomes WHERE period LIKE '2024%'"
    )
    row = research.query(folder, sql).to_pylist()[0]
    assert row["shown"] == 0 and row["missing"] > 0


def test_the_report_s_key_figures_show_the_year_without_data_as_missing(published: Paths) -> None:
    page = (published_folder(published, RELEASE) / "rapport" / "index.html").read_text("utf-8")
    summary = by_testid(page, "summary")
    assert summary.rows[0] == ["Mått", "2024", "2025 (jan–mar)"]
    rows = summary.rows[1:]
    assert len(rows) >= 5
    for label, last_year, this_year in rows:
        assert last_year == "-", label  # 2024: nothing loaded
        assert this_year not in ("-", "0"), label
