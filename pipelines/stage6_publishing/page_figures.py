"""The charts of a page, each with its table: trends by month, quarter and year over all loaded years,
distributions (outcomes, causes, reporters, age × sex) and areas ranked by value with the national line.
"""

from __future__ import annotations

from typing import Any

from pipelines.core.schemas import code_table, release_spec
from pipelines.stage6_publishing import charts
from pipelines.stage6_publishing.charts import Point, Reference
from pipelines.stage6_publishing.history import History
from pipelines.stage6_publishing.page_cells import (
    Figure,
    _number,
    _points,
    _table_rows,
    cell,
    period_label,
    shown,
)
from pipelines.stage6_publishing.release_tables import Release


def trend_figures(history: History, geo: str, name: str, prefix: str) -> list[Figure]:
    """Reports per month, quarter and year over every year shown; shares per month (axis from 0 %)."""
    as_of = history.release.manifest["as_of_month"]
    figures = []
    for period_type, word in (("month", "månad"), ("quarter", "kvartal")):
        frame = history.series("outcomes", {"outcome": "total"}, geo, period_type)
        points = _points(frame, as_of)
        title = f"Anmälningar per inkomst{word}, {name}"
        chart = charts.columns(f"{prefix}-{period_type}", title, points, "count")
        header = [word.capitalize(), "Anmälningar"]
        figures.append(
            Figure(
                f"{prefix}-{period_type}",
                title,
                chart.alt,
                chart.svg,
                header,
                _table_rows({"": points}, "count"),
            )
        )
    yearly = [
        Point(period_label(y, as_of), *_value_status(history.cell("outcomes", {"outcome": "total"}, geo, y)))
        for y in history.years
    ]
    title = f"Anmälningar per år, {name}"
    chart = charts.columns(f"{prefix}-year", title, yearly, "count")
    figures.append(
        Figure(
            f"{prefix}-year",
            title,
            chart.alt,
            chart.svg,
            ["År", "Anmälningar"],
            _table_rows({"": yearly}, "count"),
        )
    )
    series = {}
    for code in ("investigation_rate", "share_decided_within_deadline"):
        frame = history.series("rates", {"rate": code}, geo, "month")
        if len(frame):
            series[release_spec()["rates"][code]["sv"]] = _points(frame, as_of)
    if series:
        title = f"Andel av beslutade anmälningar per inkomstmånad, {name}"
        chart = charts.lines(f"{prefix}-rates", title, series, "percent")
        figures.append(
            Figure(
                f"{prefix}-rates",
                title,
                chart.alt,
                chart.svg,
                ["Månad", *series],
                _table_rows(series, "percent"),
                note="Axeln börjar på 0 %.",
            )
        )
    return figures


def _value_status(found: tuple[Any, str, bool]) -> tuple[float | None, str, bool]:
    value, status, preliminary = found
    return _number(value), status, preliminary


def distribution_figures(release: Release, geo: str, name: str, prefix: str) -> list[Figure]:
    """Causes and reporters of the current year, largest first; age × sex where the release has it."""
    as_of = release.manifest["as_of_month"]
    current = release.years[1]
    figures = []
    for table, dim in (("causes", "cause_group"), ("reporters", "reporter_group")):
        frame = release.tables[table]
        rows = frame[(frame.geo_code == geo) & (frame.period == current) & (frame[dim] != "total")]
        rows = rows.sort_values("value", ascending=False, na_position="last")
        points = [
            Point(label, _number(v), str(s or ""))
            for label, v, s in zip(rows[f"{dim}_sv"], rows["value"], rows["status"], strict=True)
        ]
        title = f"{release_spec()['tables'][table]['title_sv']}, {name} {period_label(current, as_of)}"
        chart = charts.hbars(f"{prefix}-{table}", title, points, "count")
        note = " ".join(str(release_spec()["tables"][table].get("note_sv", "")).split())
        figures.append(
            Figure(
                f"{prefix}-{table}",
                title,
                chart.alt,
                chart.svg,
                ["Grupp", "Anmälningar"],
                _table_rows({"": points}, "count"),
                note,
            )
        )
    if "age_sex" in release.tables and (release.tables["age_sex"].geo_code == geo).any():
        figures.append(_age_sex(release, geo, name, prefix))
    return figures


def _age_sex(release: Release, geo: str, name: str, prefix: str) -> Figure:
    as_of, current = release.manifest["as_of_month"], release.years[1]
    frame = release.tables["age_sex"]
    frame = frame[(frame.geo_code == geo) & (frame.period == current) & (frame.age_band != "total")]
    bands = [b for b in code_table("age_bands").column("code").to_pylist() if b in set(frame.age_band)]
    band_labels = dict(zip(frame.age_band, frame.age_band_sv, strict=False))
    series = {}
    for sex in code_table("legal_sex").column("code").to_pylist():
        part = frame[frame.legal_sex == sex].set_index("age_band").reindex(bands)
        if len(part) and part["legal_sex_sv"].notna().any():
            series[part["legal_sex_sv"].dropna().iloc[0]] = [
                Point(band_labels[b], _number(v), str(s or ""))
                for b, v, s in zip(bands, part["value"], part["status"].fillna("-"), strict=True)
            ]
    title = f"Anmälningar om identifierade barn efter ålder och juridiskt kön, {name} {period_label(current, as_of)}"
    chart = charts.grouped(f"{prefix}-age_sex", title, [band_labels[b] for b in bands], series, "count")
    return Figure(
        f"{prefix}-age_sex",
        title,
        chart.alt,
        chart.svg,
        ["Åldersgrupp", *series],
        _table_rows(series, "count"),
    )


def ranked_figure(
    fig_id: str,
    title: str,
    areas: list[tuple[str, str]],
    item: dict[str, Any],
    history: History,
    references: list[tuple[str, str]],
    highlight: str | None = None,
) -> Figure:
    """Areas side by side, sorted by value (hidden last), with reference lines (riket, the county)."""
    current = history.release.years[1]
    points = [
        Point(n, *_value_status(history.cell(item["table"], item["where"], c, current))) for c, n in areas
    ]
    points.sort(key=lambda p: (p.shown is None, -(p.shown or 0)))
    refs = [
        Reference(n, _value_status(history.cell(item["table"], item["where"], c, current))[0])
        for c, n in references
    ]
    chart = charts.hbars(fig_id, title, points, item["format"], refs, highlight)
    rows = [[p.label, cell(p.value, p.status, item["format"], p.preliminary)] for p in points]
    rows += [[r.label, cell(r.value, "", item["format"])] for r in refs]
    note = "Sorterat efter värde; linjerna visar " + " och ".join(n for _, n in references) + "."
    return Figure(fig_id, title, chart.alt, chart.svg, ["Område", item["label"]], rows, note)


def _comparison_chart_item(release: Release) -> dict[str, Any]:
    """The figure areas are ranked on: reports per 1,000 children, else reports."""
    items = shown(release, "comparison")
    return next((i for i in items if i["table"] == "population_rates"), items[0])
