"""A period with nothing loaded (the small release loads January–March 2025 only: 2024 has no data) reads as
missing in what is published from the release, never as 0."""

from __future__ import annotations

import re

from pipelines.core.settings import Paths
from pipelines.stage6_publishing import research
from pipelines.stage6_publishing.release_tables import published_folder
from tests.stage6.conftest import RELEASE


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
    summary = page[page.index('data-testid="summary"') :]
    summary = summary[: summary.index("</table>")]
    rows = re.findall(r'<th scope="row">([^<]+)</th><td>([^<]*)</td><td>([^<]*)</td>', summary)
    assert len(rows) >= 5
    for label, last_year, this_year in rows:
        assert last_year == "-", label  # 2024: nothing loaded
        assert this_year not in ("-", "0"), label
