"""The comparison group on a municipality page: the group's name and median, rank and quartile among the
municipalities and rank within the group, all from the release's published values; the method page says
how the groups are made."""

from __future__ import annotations

from pipelines.core.settings import Paths
from pipelines.stage5_protection.release import release_folder
from pipelines.stage6_publishing.insight import groups
from pipelines.stage6_publishing.insight.ranks import published_values, rank
from pipelines.stage6_publishing.release_tables import Release, published_folder
from tests.releases import KOMMUNER
from tests.stage6.conftest import RELEASE
from tests.stage6.html_tables import by_testid


def _page(published: Paths, name: str) -> str:
    return (published_folder(published, RELEASE) / "rapport" / name).read_text("utf-8")


def _row(html: str, label: str, year: str) -> list[str]:
    table = by_testid(html, "comparison-group")
    return next(r for r in table.rows if r[0] == label and r[1].startswith(year))


def test_a_municipality_page_shows_its_group_rank_and_quartile(published: Paths) -> None:
    html = _page(published, "kommun/0114.html")
    found = groups.grouping(published, int(RELEASE[:4]))
    assert found is not None
    name = found.name_of("0114")
    assert name is not None and name in html
    table = by_testid(html, "comparison-group")
    assert table.caption.startswith("Upplands Väsby jämförd med")
    assert table.rows[0] == [
        "Mått", "Period", "Kommunen", "Gruppens median", "Rang bland kommunerna", "Kvartil", "Rang i gruppen"
    ]  # fmt: skip
    # only indicators with published municipal values: percentiles are hidden for every municipality
    assert not any(r[0].startswith("Median antal dagar") for r in table.rows[1:])


def test_ranks_on_the_pages_are_those_of_the_published_values(published: Paths) -> None:
    release = Release(release_folder(published, RELEASE))
    label, year = "Andel beslutade som ledde till utredning", RELEASE[:4]
    values = published_values(release.tables["rates"], {"rate": "investigation_rate"}, year)
    ranks = rank(values)
    loaded = [c for c in KOMMUNER if c in values.index]
    shown = [c for c in loaded if values.notna()[c]]
    assert shown, "the fixture publishes some municipal investigation rates"
    for code in loaded:
        row = _row(_page(published, f"kommun/{code}.html"), label, year)
        if code in shown:
            assert row[4] == f"{int(ranks.at[code, 'rank'])} av {int(values.notna().sum())}"
            assert row[5] == str(int(ranks.at[code, "quartile"]))
        else:
            assert row[2] == row[4] == row[5] == row[6] == ".."


def test_the_method_page_explains_the_groups(published: Paths) -> None:
    html = _page(published, "om.html")
    assert "Jämförelsegrupper" in html and "medianen av de publicerade värdena" in html
