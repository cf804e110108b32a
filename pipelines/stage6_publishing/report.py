"""The HTML report SKR publishes: national summary, monthly trends, the 21 län, one page per municipality.

Built from a protected release only, with Jinja2 templates from ``reports/templates/`` and static SVG charts,
into a folder that works offline (open ``index.html`` from disk or from a zip). Labels, symbols and
definitions come from ``schemas/``; the "Om statistiken" text is the workbook's, so the two cannot disagree.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from jinja2 import Environment, FileSystemLoader, select_autoescape

from pipelines.core.atomic import atomic_dir
from pipelines.core.schemas import code_table, publishing_spec, release_spec
from pipelines.core.settings import PROJECT_ROOT
from pipelines.stage6_publishing import charts
from pipelines.stage6_publishing.charts import Point
from pipelines.stage6_publishing.release_tables import Release, formatted, symbols
from pipelines.stage6_publishing.workbook import about_lines

TEMPLATES = PROJECT_ROOT / "reports" / "templates"
STATIC = PROJECT_ROOT / "reports" / "static"
RIKET = "00"
MONTHS_SV = ["jan", "feb", "mar", "apr", "maj", "jun", "jul", "aug", "sep", "okt", "nov", "dec"]


@dataclass
class Figure:
    """A chart with its text alternative and the table of the values it draws."""

    id: str
    caption: str
    alt: str
    file: str = ""
    inline: str = ""
    header: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)


def _environment() -> Environment:
    return Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))


def period_label(period: str, as_of: str) -> str:
    """'2025-03' -> 'mar 2025'; the year of the as-of month is the year to date."""
    if len(period) == 7 and period[4] == "-":
        return f"{MONTHS_SV[int(period[5:]) - 1]} {period[:4]}"
    if period == as_of[:4] and as_of[5:] != "12":
        return f"{period} (jan–{MONTHS_SV[int(as_of[5:]) - 1]})"
    return period


def shown(release: Release, group: str) -> list[dict[str, Any]]:
    """The figures of a summary or comparison whose table the release has: without a population file
    there are no rates per 1,000 children, and the report leaves them out rather than show a gap."""
    return [item for item in publishing_spec()[group] if item["table"] in release.tables]


def _figure_rows(release: Release, items: list[dict[str, Any]], geo: str) -> list[list[str]]:
    last, current = release.years
    rows = []
    for item in items:
        cells = [
            formatted(*release.cell(item["table"], item["where"], geo, year), item["format"])
            for year in (last, current)
        ]
        rows.append([item["label"], *cells])
    return rows


def _points(frame: pd.DataFrame, labels: list[str]) -> list[Point]:
    prel = frame["preliminary"] if "preliminary" in frame else [False] * len(frame)
    return [
        Point(label, None if pd.isna(v) else float(v), str(s or ""), bool(p))
        for label, v, s, p in zip(labels, frame["value"], frame["status"], prel, strict=True)
    ]


def _table_rows(series: dict[str, list[Point]], fmt: str) -> list[list[str]]:
    """One row per label: the label, then each series' value as the report shows it (symbols included)."""
    first = next(iter(series.values()))
    return [
        [p.label, *(formatted(s[i].value, s[i].status, fmt) for s in series.values())]
        for i, p in enumerate(first)
    ]


def _chart_figure(
    folder: Path, fig_id: str, title: str, chart: charts.Chart, header: list[str], rows: list[list[str]]
) -> Figure:
    """Write the chart's SVG to diagram/ and describe it for the template."""
    name = f"diagram/{fig_id}.svg"
    (folder / name).write_text(chart.svg, "utf-8")
    return Figure(fig_id, title, chart.alt, name, header=header, rows=rows)


def national_figures(release: Release, folder: Path) -> list[Figure]:
    as_of = release.manifest["as_of_month"]
    current = release.years[1]
    figures = []
    monthly = release.series("outcomes", {"outcome": "total"}, RIKET, "month")
    points = _points(monthly, [period_label(p, as_of) for p in monthly["period"]])
    title = "Anmälningar per inkomstmånad, riket"
    chart = charts.bars(title, points, "count")
    figures.append(
        _chart_figure(
            folder, "trend", title, chart, ["Månad", "Anmälningar"], _table_rows({"": points}, "count")
        )
    )

    series = {}
    for code in ("investigation_rate", "share_decided_within_deadline"):
        frame = release.series("rates", {"rate": code}, RIKET, "month")
        series[release_spec()["rates"][code]["sv"]] = _points(
            frame, [period_label(p, as_of) for p in frame["period"]]
        )
    title = "Utredning inleds och beslut inom 14 dagar, andel av beslutade, per månad"
    chart = charts.lines(title, series, "percent")
    figures.append(
        _chart_figure(folder, "rates", title, chart, ["Månad", *series], _table_rows(series, "percent"))
    )

    for fig_id, table, dim in (
        ("causes", "causes", "cause_group"),
        ("reporters", "reporters", "reporter_group"),
    ):
        frame = release.tables[table]
        rows_ = frame[(frame.geo_code == RIKET) & (frame.period == current) & (frame[dim] != "total")]
        rows_ = rows_.sort_values("value", ascending=False, na_position="last")
        points = _points(rows_, rows_[f"{dim}_sv"].tolist())
        title = f"{release_spec()['tables'][table]['title_sv']}, riket {period_label(current, as_of)}"
        chart = charts.bars(title, points, "count", horizontal=True)
        figures.append(
            _chart_figure(
                folder, fig_id, title, chart, ["Grupp", "Anmälningar"], _table_rows({"": points}, "count")
            )
        )

    figures.append(_age_sex(release, folder, as_of, current))
    return figures


def _age_sex(release: Release, folder: Path, as_of: str, current: str) -> Figure:
    frame = release.tables["age_sex"]
    frame = frame[(frame.geo_code == RIKET) & (frame.period == current) & (frame.age_band != "total")]
    bands = [b for b in code_table("age_bands").column("code").to_pylist() if b in set(frame.age_band)]
    band_labels = dict(zip(frame.age_band, frame.age_band_sv, strict=False))
    series = {}
    for sex in code_table("legal_sex").column("code").to_pylist():
        part = frame[frame.legal_sex == sex].set_index("age_band").reindex(bands)
        if len(part):
            label = part["legal_sex_sv"].dropna().iloc[0] if part["legal_sex_sv"].notna().any() else sex
            series[label] = _points(part.reset_index(), [band_labels[b] for b in bands])
    title = f"Anmälningar om identifierade barn efter ålder och juridiskt kön, riket {period_label(current, as_of)}"
    chart = charts.grouped(title, [band_labels[b] for b in bands], series, "count")
    return _chart_figure(
        folder, "age_sex", title, chart, ["Åldersgrupp", *series], _table_rows(series, "count")
    )


def county_rows(release: Release) -> tuple[list[str], list[list[str]]]:
    """The 21 län on the comparison figures, current year; riket last."""
    current = release.years[1]
    items = shown(release, "comparison")
    counties = code_table("counties").to_pandas()
    header = ["Län", *(item["label"] for item in items)]
    rows = []
    for code, name in [*zip(counties.county_code, counties.county_name, strict=True), (RIKET, "Riket")]:
        rows.append(
            [
                name,
                *(
                    formatted(*release.cell(i["table"], i["where"], code, current), i["format"])
                    for i in items
                ),
            ]
        )
    return header, rows


def _county_chart(release: Release, folder: Path) -> Figure:
    current, as_of = release.years[1], release.manifest["as_of_month"]
    per_1000 = "population_rates" in release.tables
    table, where, fmt = (
        ("population_rates", {"rate": "reports_per_1000_children"}, "decimal1")
        if per_1000
        else ("outcomes", {"outcome": "total"}, "count")
    )
    counties = code_table("counties").to_pandas()
    points = [
        Point(n, *_value_status(release.cell(table, where, c, current)))
        for c, n in zip(counties.county_code, counties.county_name_short, strict=True)
    ]
    what = "Anmälningar per 1 000 barn 0–17 år" if per_1000 else "Anmälningar"
    title = f"{what} per län, {period_label(current, as_of)}"
    chart = charts.bars(title, points, fmt, horizontal=True)
    return _chart_figure(folder, "lan", title, chart, ["Län", what], _table_rows({"": points}, fmt))


def _value_status(cell: tuple[Any, str]) -> tuple[float | None, str]:
    value, status = cell
    return (None if value is None else float(value)), status


def municipality_page(release: Release, code: str, name: str, county: tuple[str, str]) -> dict[str, Any]:
    last, current = release.years
    as_of = release.manifest["as_of_month"]
    areas = [(code, name), county, (RIKET, "Riket")]
    rows = []
    inline = []
    for item in shown(release, "comparison"):
        cells = {
            geo: [release.cell(item["table"], item["where"], geo, y) for y in (last, current)]
            for geo, _ in areas
        }
        rows.append(
            [item["label"], *(formatted(*cells[g][k], item["format"]) for k in (0, 1) for g, _ in areas)]
        )
        if item.get("chart"):
            points = [Point(n, *_value_status(cells[g][1])) for g, n in areas]
            chart = charts.comparison_svg(
                f"{item['label']}, {period_label(current, as_of)}", points, item["format"]
            )
            inline.append(Figure(item["label"], chart.alt, chart.alt, inline=chart.svg))
    groups = []
    for table, dim in (("causes", "cause_group"), ("reporters", "reporter_group")):
        frame = release.tables[table]
        part = frame[(frame.geo_code == code) & frame.period_type.isin(["year", "year_to_date"])]
        wide = {y: part[part.period == y].set_index(dim) for y in (last, current)}
        labels = part.drop_duplicates(dim).set_index(dim)[f"{dim}_sv"]
        order = {
            c: i
            for i, c in enumerate(
                [
                    "total",
                    *code_table(release_spec()["tables"][table]["dimensions"][dim]["codes"])
                    .column("code")
                    .to_pylist(),
                ]
            )
        }
        labels = labels.iloc[sorted(range(len(labels)), key=lambda i: order.get(labels.index[i], len(order)))]
        groups.append(
            {
                "title": release_spec()["tables"][table]["title_sv"],
                "rows": [
                    [labels[c], *(formatted(*_row_cell(wide[y], c), "count") for y in (last, current))]
                    for c in labels.index
                ],
            }
        )
    return {
        "code": code,
        "name": name,
        "county": county[1],
        "areas": [a[1] for a in areas],
        "rows": rows,
        "charts": inline,
        "groups": groups,
    }


def _row_cell(frame: pd.DataFrame, code: str) -> tuple[Any, str]:
    if code not in frame.index:
        return None, "-"
    value = frame.at[code, "value"]
    return (None if pd.isna(value) else value), str(frame.at[code, "status"] or "")


def build_report(release: Release, target: Path) -> dict[str, int]:
    """Write the report folder (atomically); counts of what it holds, for the asset's metadata."""
    env = _environment()
    spec = publishing_spec()
    last, current = release.years
    as_of = release.manifest["as_of_month"]
    common = {
        "spec": spec["report"],
        "release": release.release,
        "as_of": period_label(as_of, as_of),
        "synthetic": release.synthetic,
        "data_label": release.manifest["data"],
        "years": [period_label(last, as_of), period_label(current, as_of)],
        "symbols": symbols(),
    }
    municipalities = code_table("municipalities").to_pandas()
    counties = code_table("counties").to_pandas()
    county_names = dict(zip(counties.county_code, counties.county_name, strict=True))
    with atomic_dir(target) as tmp:
        (tmp / "diagram").mkdir()
        (tmp / "kommun").mkdir()
        shutil.copy2(STATIC / "style.css", tmp / "style.css")
        figures = [*national_figures(release, tmp), _county_chart(release, tmp)]
        header, rows = county_rows(release)
        listing = [
            {
                "county": county_names[c],
                "municipalities": part[["municipality_code", "municipality_name_short"]].values.tolist(),
            }
            for c, part in municipalities.groupby("county_code", sort=True)
        ]
        index = env.get_template("index.html").render(
            **common,
            root="",
            summary=_figure_rows(release, shown(release, "summary"), RIKET),
            figures=figures,
            county_header=header,
            county_rows=rows,
            listing=listing,
            about=about_lines(release),
        )
        (tmp / "index.html").write_text(index, "utf-8")
        page = env.get_template("kommun.html")
        for code, name, county in municipalities[
            ["municipality_code", "municipality_name_short", "county_code"]
        ].itertuples(index=False):
            context = municipality_page(release, code, name, (county, county_names[county]))
            (tmp / "kommun" / f"{code}.html").write_text(
                page.render(**common, root="../", page=context), "utf-8"
            )
    return {"municipality_pages": len(municipalities), "charts": len(figures), "counties": len(counties)}
