"""The report's pages on the small release: one per geography, captions on every table, symbols and
preliminary figures explained to screen readers, links that lead to files the release publishes, dates
from the release schedule, earlier years from earlier December releases, data quality only when published."""

from __future__ import annotations

import calendar
import json
import re
import shutil
from pathlib import Path
from urllib.parse import urlsplit

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipelines.core.schemas import code_table, publishing_spec, release_spec
from pipelines.core.settings import Paths, settings
from pipelines.stage5_protection.release import release_folder
from pipelines.stage6_publishing.history import History
from pipelines.stage6_publishing.release_tables import Release, formatted, published_folder, symbols
from pipelines.stage6_publishing.report import build_report, next_month, release_date
from tests.stage6.conftest import RELEASE
from tests.stage6.html_tables import by_testid, tables

SAMPLE = ["index.html", "om.html", "lan/01.html", "lan/20.html", "kommun/0114.html", "kommun/2029.html"]


def _report(published: Paths) -> Path:
    return published_folder(published, RELEASE) / "rapport"


def test_every_geography_has_its_page(published: Paths) -> None:
    report = _report(published)
    counties = code_table("counties").column("county_code").to_pylist()
    municipalities = code_table("municipalities").column("municipality_code").to_pylist()
    assert sorted(p.stem for p in (report / "lan").glob("*.html")) == sorted(counties)
    assert sorted(p.stem for p in (report / "kommun").glob("*.html")) == sorted(municipalities)
    index = (report / "index.html").read_text("utf-8")
    for code in municipalities:
        assert f'href="kommun/{code}.html"' in index  # the list by name reaches every municipality
    for code in counties:
        assert f'href="lan/{code}.html"' in index


@pytest.mark.parametrize("name", SAMPLE)
def test_every_table_has_a_caption_and_every_symbol_its_explanation(published: Paths, name: str) -> None:
    html = (_report(published) / name).read_text("utf-8")
    found = tables(html)
    assert found
    explained = symbols()
    seen = 0
    for table in found:
        assert table.caption.strip(), f"{name}: a table without a caption"
        for shown, spoken in zip(table.rows, table.spoken, strict=True):
            for text, said in zip(shown, spoken, strict=True):
                if text in explained:
                    seen += 1
                    assert said == explained[text], (name, text, said)  # read out, not '..'
    if name.startswith("kommun"):
        assert seen > 0  # municipality pages always hold a missing 2024 and a county's withheld figure


def _targets(page: Path) -> list[tuple[str, Path]]:
    html = page.read_text("utf-8")
    links = re.findall(r'<a href="([^"]+)"(?: [^>]*)?data-kind="([a-z]+)"', html)
    return [
        (kind, (page.parent / urlsplit(href).path).resolve()) for href, kind in links if "://" not in href
    ]


@pytest.mark.parametrize("name", SAMPLE)
def test_every_page_links_to_the_workbook_csv_database_dictionary_and_method(
    published: Paths, name: str
) -> None:
    page = _report(published) / name
    targets = _targets(page)
    assert {k for k, _ in targets} >= {"workbook", "csv", "database", "dictionary", "method"}
    for kind, target in targets:
        assert target.is_file(), (kind, target)
    html = page.read_text("utf-8")
    licence = publishing_spec()["report"]["licence"]
    assert f'href="{licence["url"]}" rel="license"' in html
    published_on = release_date(RELEASE)
    assert f'datetime="{published_on.isoformat()}"' in html
    assert f'datetime="{release_date(next_month(RELEASE)).isoformat()}"' in html
    assert f"publicering {RELEASE}" in by_citation(html)


def by_citation(html: str) -> str:
    return re.search(r'<q data-testid="citation">([^<]+)</q>', html).group(1)


def test_the_method_page_lists_every_csv_file_of_the_release(published: Paths) -> None:
    page = _report(published) / "om.html"
    csv = [t for k, t in _targets(page) if k == "csv" and t.suffix == ".csv"]
    assert len(csv) == len(Release(release_folder(published, RELEASE)).tables)
    html = page.read_text("utf-8")
    for section in publishing_spec()["report"]["method"]:
        assert f"<h2>{section['heading']}</h2>" in html
    assert "<h2>Röjandekontroll</h2>" in html


@given(st.integers(2000, 2100), st.integers(1, 12))
def test_a_release_is_published_on_the_schedule_s_day_of_the_next_month(year: int, month: int) -> None:
    as_of = f"{year}-{month:02d}"
    day = release_date(as_of)
    assert (day.year * 12 + day.month) - (year * 12 + month) == 1
    assert day.day == min(
        settings()["release"]["schedule_day_of_month"], calendar.monthrange(day.year, day.month)[1]
    )
    assert release_date(next_month(as_of)) > day


def _national_total(published: Paths, period: str) -> str:
    outcomes = pd.read_parquet(release_folder(published, RELEASE) / "outcomes.parquet")
    row = outcomes.query(f"geo_code == '00' and period == '{period}' and outcome == 'total'").iloc[0]
    return formatted(row["value"], row["status"] or "", "count")


def test_the_national_page_shows_key_figures_and_monthly_trends(published: Paths) -> None:
    html = (_report(published) / "index.html").read_text("utf-8")
    first_card = re.search(r'<span class="card-value">([^<]+)', html).group(1)  # a marker may follow
    assert first_card == _national_total(published, "2025")
    assert "från 2024" not in html  # a year to date is not compared with a whole year
    months = next(t for t in tables(html) if t.caption.startswith("Anmälningar per inkomstmånad"))
    assert [r[1] for r in months.rows[1:]][-3:] == [
        _national_total(published, m) for m in ("2025-01", "2025-02", "2025-03")
    ]


def _county_bars(published: Paths, code: str) -> list[tuple[str, float]]:
    html = (_report(published) / "lan" / f"{code}.html").read_text("utf-8")
    figure = html[html.index('id="fig-lan') :]
    table = tables(figure)[0]
    return [(row[0], row[1]) for row in table.rows[1:]]


def test_a_county_page_sorts_its_municipalities_with_the_national_line(published: Paths) -> None:
    rows = _county_bars(published, "20")
    areas = [(n, v) for n, v in rows if n not in ("Riket", "Dalarnas län")]
    numbers = [float(v.replace("\u00a0", "").replace(",", ".")) for _, v in areas if v[0].isdigit()]
    assert numbers == sorted(numbers, reverse=True) and len(numbers) >= 2
    assert [n for n, _ in rows][-2:] == ["Riket", "Dalarnas län"]
    html = (_report(published) / "lan" / "20.html").read_text("utf-8")
    assert re.search(r">Riket [0-9\u00a0,]+ ?%?</text>", html)  # the reference line is labelled


def test_a_municipality_page_shows_its_years_outcomes_causes_reporters_and_county_children(
    published: Paths,
) -> None:
    html = (_report(published) / "kommun" / "2029.html").read_text("utf-8")
    for testid in ("comparison", "years", "outcomes", "causes", "reporters", "county-children"):
        table = by_testid(html, testid)
        assert table.caption and len(table.rows) > 1
    assert by_testid(html, "years").rows[0] == ["Mått", "2024", "2025 (jan–mar)"]
    assert "Dalarnas län" in by_testid(html, "county-children").caption


def _copy_release(published: Paths, root: Path, name: str) -> Path:
    folder = root / "5_protected" / f"release={name}"
    shutil.copytree(release_folder(published, RELEASE), folder)
    return folder


def _shift_years(folder: Path, mapping: dict[str, str], as_of: str) -> None:
    """Make a copied release look like one as of another month (its periods renamed)."""
    for path in folder.glob("*.parquet"):
        frame = pd.read_parquet(path)
        if "period" in frame:
            year = frame["period"].str[:4]
            frame = frame[year.isin(mapping)]
            frame["period"] = frame["period"].str[:4].map(mapping) + frame["period"].str[4:]
            frame.to_parquet(path)
    manifest = json.loads((folder / "manifest.json").read_text("utf-8"))
    (folder / "manifest.json").write_text(
        json.dumps(manifest | {"release": as_of, "as_of_month": as_of}), "utf-8"
    )


def test_earlier_years_come_from_the_december_release_of_the_year_after(
    published: Paths, tmp_path: Path
) -> None:
    current = _copy_release(published, tmp_path, RELEASE)
    earlier = _copy_release(published, tmp_path, "2024-12")
    _shift_years(earlier, {"2025": "2023", "2024": "2024"}, "2024-12")  # 2023 holds data, as 2025 does
    history = History(Release(current))
    assert history.years == ["2023", "2024", "2025"]
    assert history.source("2023").release == "2024-12"
    assert (
        history.cell("outcomes", {"outcome": "total"}, "00", "2023")[0]
        == Release(current).cell("outcomes", {"outcome": "total"}, "00", "2025")[0]
    )
    build_report(Release(current), tmp_path / "rapport")
    html = (tmp_path / "rapport" / "kommun" / "2029.html").read_text("utf-8")
    assert by_testid(html, "years").rows[0] == ["Mått", "2023", "2024", "2025 (jan–mar)"]
    assert "2024-12 (2023)" in html  # the page says where 2023 comes from


def test_a_year_without_data_in_an_earlier_release_ends_the_history(published: Paths, tmp_path: Path) -> None:
    current = _copy_release(published, tmp_path, RELEASE)
    earlier = _copy_release(published, tmp_path, "2024-12")
    _shift_years(
        earlier, {"2024": "2023", "2025": "2024"}, "2024-12"
    )  # 2023 = the small release's empty 2024
    assert History(Release(current)).years == ["2024", "2025"]


def test_preliminary_figures_are_marked_only_where_the_release_says_so(
    published: Paths, tmp_path: Path
) -> None:
    folder = _copy_release(published, tmp_path, RELEASE)
    for path in folder.glob("*.parquet"):  # a release in which nothing is preliminary
        frame = pd.read_parquet(path)
        if "preliminary" in frame:
            frame.assign(preliminary=False).to_parquet(path)
    build_report(Release(folder), tmp_path / "plain")
    plain = (tmp_path / "plain" / "index.html").read_text("utf-8")
    assert 'class="prel"' not in plain and "-p0)" not in plain.split("<svg")[1].split("</defs>")[1]
    outcomes = pd.read_parquet(folder / "outcomes.parquet")
    outcomes["preliminary"] = outcomes["period"] == "2025-03"
    outcomes.to_parquet(folder / "outcomes.parquet")
    build_report(Release(folder), tmp_path / "rapport")
    html = (tmp_path / "rapport" / "index.html").read_text("utf-8")
    months = next(t for t in tables(html) if t.caption.startswith("Anmälningar per inkomstmånad"))
    spoken = {row[0]: row[1] for row in months.spoken[1:]}
    marker = publishing_spec()["report"]["preliminary"]["sv"]
    assert marker in spoken["mar 2025"] and marker not in spoken["feb 2025"]
    assert 'fill="url(#riket-month-p0)"' in html  # the bar is hatched


def test_the_release_s_own_preliminary_flags_reach_the_page(published: Paths) -> None:
    """The as-of month is always preliminary (stage 5): its row is marked, an earlier month's is not."""
    html = (_report(published) / "index.html").read_text("utf-8")
    months = next(t for t in tables(html) if t.caption.startswith("Anmälningar per inkomstmånad"))
    labels = [row[0] for row in months.rows]
    assert (labels.index("mar 2025"), 1) in months.marked
    assert (labels.index("jan 2025"), 1) not in months.marked or (
        labels.index("feb 2025"),
        1,
    ) in months.marked


def test_data_quality_is_shown_only_when_the_release_publishes_it(published: Paths, tmp_path: Path) -> None:
    measures = release_spec()["data_quality"]["measures"]
    for name, level in (("index.html", "riket"), ("lan/01.html", "lan")):
        html = (_report(published) / name).read_text("utf-8")
        table = tables(html[html.index('data-testid="data-quality"') :])[0]
        periods = [r[0] for r in table.rows[1:]]
        assert table.caption and periods == sorted(periods, reverse=True) and RELEASE in periods
        declared = [m["sv"] for m in measures.values() if level in m["levels"]]
        assert table.rows[0][1:] == declared  # one column per measure the area has, in declared order
    # the test release has no municipality rows (no delivery monitoring): give 0114 two months of flags
    folder = _copy_release(published, tmp_path, RELEASE)
    quality = pd.read_parquet(folder / "data_quality.parquet")
    template = quality[quality["geo_level"] == "lan"].iloc[0]
    flags = [("2025-02", "delivered", 1.0), ("2025-02", "complete", 0.0), ("2025-03", "delivered", 0.0)]
    rows = [
        template.to_dict()
        | {
            "geo_level": "kommun",
            "geo_code": "0114",
            "period": period,
            "measure": measure,
            "measure_sv": measures[measure]["sv"],
            "unit": "kommuner",
            "value": value,
            "status": "",
        }
        for period, measure, value in flags
    ]
    pd.concat([quality, pd.DataFrame(rows)], ignore_index=True).to_parquet(folder / "data_quality.parquet")
    build_report(Release(folder), tmp_path / "rapport")
    html = (tmp_path / "rapport" / "kommun" / "0114.html").read_text("utf-8")
    table = tables(html[html.index('data-testid="data-quality"') :])[0]
    shown = {row[0]: dict(zip(table.rows[0][1:], row[1:], strict=True)) for row in table.rows[1:]}
    delivered, complete = measures["delivered"]["sv"], measures["complete"]["sv"]
    assert shown["2025-02"][delivered] == "ja" and shown["2025-02"][complete] == "nej"
    assert (
        shown["2025-03"][delivered] == "nej" and shown["2025-03"][complete] == "-"
    )  # a municipality: flags only
    assert 'data-testid="data-quality"' not in (tmp_path / "rapport" / "kommun" / "0115.html").read_text(
        "utf-8"
    )
    (folder / "data_quality.parquet").unlink()
    build_report(Release(folder), tmp_path / "without")
    for name in ("index.html", "lan/01.html", "kommun/0114.html"):
        assert 'data-testid="data-quality"' not in (tmp_path / "without" / name).read_text("utf-8")


def test_a_damaged_earlier_release_ends_the_history_instead_of_failing_the_report(
    published: Paths, tmp_path: Path
) -> None:
    current = _copy_release(published, tmp_path, RELEASE)
    earlier = _copy_release(published, tmp_path, "2024-12")
    (earlier / "outcomes.parquet").write_bytes(b"PAR1 cut short")
    assert History(Release(current)).years == ["2024", "2025"]
    assert build_report(Release(current), tmp_path / "rapport")["years"] == 2
