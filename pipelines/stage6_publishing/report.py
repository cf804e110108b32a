"""The HTML report SKR publishes: riket, 21 län, 290 kommuner, "Om statistiken", a list to search by name.

Built from a protected release (earlier years from earlier December releases, ``history.py``), with Jinja2
templates from ``reports/templates/`` and inline SVG charts, into a folder that works offline (open
``index.html`` from disk or from a zip; the search needs no server and the list works without JavaScript).
Every page links to the workbook, the CSV files, the research database and the data dictionary, and says
when it was published, what extract it is as of, when the next release comes, the licence and how to cite.
Labels, symbols and texts come from ``schemas/``; what each page shows is ``pages.py``.
"""

from __future__ import annotations

import calendar
import shutil
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
from jinja2 import Environment, FileSystemLoader, select_autoescape

from pipelines.core.atomic import atomic_dir
from pipelines.core.schemas import code_table, publishing_spec, release_spec
from pipelines.core.settings import PROJECT_ROOT, settings
from pipelines.stage6_publishing import page_cells, pages
from pipelines.stage6_publishing.history import History
from pipelines.stage6_publishing.insight import group_section, signal_section
from pipelines.stage6_publishing.page_cells import period_label
from pipelines.stage6_publishing.pages import RIKET
from pipelines.stage6_publishing.release_tables import Release, symbols, table_order
from pipelines.stage6_publishing.workbook import disclosure_text, methodology_text

TEMPLATES = PROJECT_ROOT / "reports" / "templates"
STATIC = PROJECT_ROOT / "reports" / "static"
DATA_QUALITY = "data_quality"  # a release table stage 5 may add: deliveries, quarantine, late decisions


def _environment() -> Environment:
    return Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))


def release_date(month: str) -> date:
    """The scheduled publication date of the release as of ``month``: the schedule's day of the month after
    (settings.yaml release.schedule_day_of_month), when that month's extracts have arrived."""
    year, number = int(month[:4]), int(month[5:])
    year, number = (year + 1, 1) if number == 12 else (year, number + 1)
    day = min(int(settings()["release"]["schedule_day_of_month"]), calendar.monthrange(year, number)[1])
    return date(year, number, day)


def next_month(month: str) -> str:
    year, number = int(month[:4]), int(month[5:])
    return f"{year + 1}-01" if number == 12 else f"{year}-{number + 1:02d}"


def _swedish_date(day: date) -> str:
    months = [
        "januari", "februari", "mars", "april", "maj", "juni",
        "juli", "augusti", "september", "oktober", "november", "december",
    ]  # fmt: skip
    return f"{day.day} {months[day.month - 1]} {day.year}"


def downloads(release: Release) -> dict[str, Any]:
    """Paths of the release's other outputs, relative to the published release folder (a page adds its
    own way up). Named from publishing.yaml, as the assets that write them name them."""
    spec = publishing_spec()
    tables = spec["research"]["tables_folder"]
    return {
        "workbook": spec["workbook"]["file"].format(release=release.release),
        "database": spec["research"]["database"],
        "dictionary": f"{spec['research']['dictionary']}.html",
        "csv": [
            {"name": name, "title": _title(name), "file": f"{tables}/{name}.csv"}
            for name in table_order()
            if name in release.tables
        ],
    }


def _title(name: str) -> str:
    spec = release_spec()["tables"].get(name) or publishing_spec()["derived_tables"][name]
    return spec["title_sv"]


def about(release: Release) -> dict[str, Any]:
    """Publication facts shown on every page: dates, licence, citation."""
    spec = publishing_spec()["report"]
    as_of = release.manifest["as_of_month"]
    published = release_date(as_of)
    citation = " ".join(
        spec["citation"]
        .format(
            publisher=spec["publisher"],
            title=spec["title"],
            release=release.release,
            as_of=period_label(as_of, as_of),
            published=published.isoformat(),
            published_year=published.year,
        )
        .split()
    )
    return {
        "published": _swedish_date(published),
        "published_iso": published.isoformat(),
        "next": _swedish_date(release_date(next_month(as_of))),
        "next_iso": release_date(next_month(as_of)).isoformat(),
        "next_release": period_label(next_month(as_of), next_month(as_of)),
        "licence": spec["licence"],
        "citation": citation,
    }


def _rule(section: dict[str, Any]) -> str:
    """The methodology rule a section of "Om statistiken" names (``methodology:``), its figures filled in."""
    return methodology_text(section["methodology"]) if "methodology" in section else ""


def method_sections(release: Release) -> list[dict[str, Any]]:
    """ "Om statistiken": the texts of publishing.yaml, the disclosure control of the release's method and
    the definitions of every table and rate (release.yaml)."""
    spec = release_spec()
    sections = [
        {"heading": s["heading"], "text": " ".join([*s["text"].split(), *_rule(s).split()])}
        for s in publishing_spec()["report"]["method"]
    ]
    sections.append({"heading": "Röjandekontroll", "text": disclosure_text(release.manifest)})
    sections.append(group_section.method_section())
    definitions = []
    for table in spec["tables"].values():
        note = " ".join(str(table.get("note_sv", "")).split())
        definitions.append((table["title_sv"], f"Enhet: {table['unit']}. {note}".strip()))
    for group in ("rates", "population_rates", "percentiles"):
        for item in spec[group].values():
            definitions.append((item["sv"], f"Enhet: {item['unit']}."))
    return [*sections, {"heading": "Definitioner", "definitions": definitions}]


def data_quality(release: Release, geo: str) -> dict[str, Any] | None:
    """The release's data-quality figures for one area (stage 5's ``data_quality`` table: one row per
    extract month, area and measure), the 13 newest months first, one column per measure in the order
    release.yaml declares them; None without such a table or rows, and the page then shows nothing."""
    path = release.folder / f"{DATA_QUALITY}.parquet"
    if not path.exists():
        return None
    frame = _quality_frame(release, path)
    rows = frame[frame["geo_code"].astype(str) == geo]
    if rows.empty:
        return None
    measures = [m for m in release_spec()["data_quality"]["measures"] if m in set(rows["measure"])]
    declared = release_spec()["data_quality"]["measures"]
    periods = sorted(set(rows["period"]), reverse=True)[:13]
    by_key = {(r.period, r.measure): r for r in rows.itertuples(index=False)}
    body = []
    for period in periods:
        line: list[Any] = [period]
        for measure in measures:
            found = by_key.get((period, measure))
            line.append(_quality_cell(found, declared[measure]))
        body.append(line)
    return {"header": ["Uttagsmånad", *(declared[m]["sv"] for m in measures)], "rows": body}


def _quality_frame(release: Release, path: Path) -> pd.DataFrame:
    cache = release._indexes
    if DATA_QUALITY not in cache:
        cache[DATA_QUALITY] = pd.read_parquet(path)
    return cache[DATA_QUALITY]


def _quality_cell(row: Any, measure: dict[str, Any]) -> page_cells.Cell:
    """A measure as the box shows it: a share as a percentage, a municipality's 1/0 flag as ja/nej."""
    if row is None:
        return page_cells.cell(None, "", "count")
    status, value = str(row.status or ""), row.value
    preliminary = bool(getattr(row, "preliminary", False))
    if not status and row.geo_level == "kommun" and measure["unit"] == "kommuner" and not pd.isna(value):
        return page_cells.Cell("ja" if value else "nej", preliminary)
    fmt = "percent" if measure["unit"] == "andel" else "count"
    return page_cells.cell(None if pd.isna(value) else value, status, fmt, preliminary)


def build_report(release: Release, target: Path) -> dict[str, int]:
    """Write the report folder (atomically); counts of what it holds, for the asset's metadata."""
    env = _environment()
    history = History(release)
    insight = group_section.report_insight(release)
    as_of = release.manifest["as_of_month"]
    municipalities = code_table("municipalities").to_pandas()
    counties = code_table("counties").to_pandas()
    county_names = dict(zip(counties.county_code, counties.county_name, strict=True))
    common = {
        "spec": publishing_spec()["report"],
        "release": release.release,
        "as_of": period_label(as_of, as_of),
        "synthetic": release.synthetic,
        "data_label": release.manifest["data"],
        "years": [period_label(y, as_of) for y in release.years],
        "history_years": [period_label(y, as_of) for y in history.years],
        "earlier_sources": {y: r.release for y, r in history.earlier.items()},
        "symbols": symbols(),
        "downloads": downloads(release),
        "about": about(release),
        "signals": signal_section.contexts(history),  # issue 22: the "Signaler" section
    }
    listing = [
        {
            "code": c,
            "county": county_names[c],
            "municipalities": part[["municipality_code", "municipality_name_short"]].values.tolist(),
        }
        for c, part in municipalities.groupby("county_code", sort=True)
    ]
    with atomic_dir(target) as tmp:
        for folder in ("kommun", "lan"):
            (tmp / folder).mkdir()
        for name in ("style.css", "sok.js"):
            shutil.copy2(STATIC / name, tmp / name)

        def write(name: str, template: str, root: str, **context: Any) -> None:
            page = env.get_template(template).render(**common, root=root, **context)
            (tmp / name).write_text(page, "utf-8")

        write(
            "index.html", "index.html", "", page=pages.national(history, counties), listing=listing,
            quality=data_quality(release, RIKET),
        )  # fmt: skip
        write("om.html", "om.html", "", sections=method_sections(release))
        for code, part in municipalities.groupby("county_code", sort=True):
            context = pages.county(history, code, county_names[code], part)
            write(f"lan/{code}.html", "lan.html", "../", page=context, quality=data_quality(release, code))
        for code, name, county in municipalities[
            ["municipality_code", "municipality_name_short", "county_code"]
        ].itertuples(index=False):
            context = pages.municipality(history, code, name, (county, county_names[county]))
            context["comparison_group"] = insight and group_section.section(insight, code)
            write(
                f"kommun/{code}.html", "kommun.html", "../", page=context, quality=data_quality(release, code)
            )
    return {
        "municipality_pages": len(municipalities),
        "county_pages": len(counties),
        "years": len(history.years),
    }
