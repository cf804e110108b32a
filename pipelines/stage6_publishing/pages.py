"""What each page of the report shows: riket, a län, a kommun; contexts for the templates.

Figures come from a protected release (and, for earlier years, the December release of the year after:
``history.py``). Which figures a summary or comparison shows is ``schemas/publishing.yaml``; titles and
categories are ``release.yaml``'s. A value is a ``Cell``: its text (Swedish digits or a symbol) and whether it
is preliminary; the template marks symbols and preliminary values up for screen readers (``Cell.__html__``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape
from typing import Any

import pandas as pd

from pipelines.core.schemas import code_table, publishing_spec, release_spec
from pipelines.stage6_publishing import charts, feedback_section
from pipelines.stage6_publishing.charts import Point, Reference
from pipelines.stage6_publishing.history import History
from pipelines.stage6_publishing.release_tables import NBSP, Release, formatted, symbols

RIKET = "00"
MONTHS_SV = ["jan", "feb", "mar", "apr", "maj", "jun", "jul", "aug", "sep", "okt", "nov", "dec"]


@dataclass(frozen=True)
class Cell:
    """A figure as a table shows it. Symbols get their explanation as text a screen reader reads (and a
    tooltip); a preliminary figure gets a marker 'p' explained the same way."""

    text: str
    preliminary: bool = False

    def __str__(self) -> str:
        return self.text

    def __html__(self) -> str:
        explained = symbols()
        html = escape(self.text)
        if self.text in explained:
            note = escape(explained[self.text])
            html = (
                f'<abbr class="sym" title="{note}"><span aria-hidden="true">{html}</span>'
                f'<span class="vh">{note}</span></abbr>'
            )
        if self.preliminary:
            spec = publishing_spec()["report"]["preliminary"]
            note = escape(spec["sv"])
            html += (
                f'<sup class="prel"><abbr title="{note}"><span aria-hidden="true">{escape(spec["marker"])}'
                f'</span><span class="vh"> ({note})</span></abbr></sup>'
            )
        return html


@dataclass(frozen=True)
class Link:
    """A row header that leads to the area's own page."""

    text: str
    href: str

    def __str__(self) -> str:
        return self.text

    def __html__(self) -> str:
        return f'<a href="{escape(self.href)}">{escape(self.text)}</a>'


def cell(value: Any, status: str, fmt: str, preliminary: bool = False) -> Cell:
    return Cell(formatted(value, status, fmt), preliminary and not status)


@dataclass
class Figure:
    """A chart (inline SVG) with its caption, text alternative and the table of the values it draws."""

    id: str
    caption: str
    alt: str
    inline: str
    header: list[str] = field(default_factory=list)
    rows: list[list[Any]] = field(default_factory=list)
    note: str = ""


def period_label(period: str, as_of: str) -> str:
    """'2025-03' -> 'mar 2025', '2025-Q1' -> 'kv1 2025'; the as-of year is the year to date."""
    if len(period) == 7 and period[5] == "Q":
        return f"kv{period[6]} {period[:4]}"
    if len(period) == 7 and period[4] == "-":
        return f"{MONTHS_SV[int(period[5:]) - 1]} {period[:4]}"
    if period == as_of[:4] and as_of[5:] != "12":
        return f"{period} (jan–{MONTHS_SV[int(as_of[5:]) - 1]})"
    return period


def shown(release: Release, group: str) -> list[dict[str, Any]]:
    """The figures of a summary or comparison whose table the release has: without a population file
    there are no rates per 1,000 children, and the report leaves them out rather than show a gap."""
    return [item for item in publishing_spec()[group] if item["table"] in release.tables]


def _number(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def _points(frame: pd.DataFrame, as_of: str) -> list[Point]:
    return [
        Point(period_label(p, as_of), _number(v), str(s or ""), bool(f))
        for p, v, s, f in zip(
            frame["period"], frame["value"], frame["status"], frame["preliminary"], strict=True
        )
    ]


def _table_rows(series: dict[str, list[Point]], fmt: str) -> list[list[Any]]:
    """One row per label: the label, then each series' value as the report shows it (symbols included)."""
    first = next(iter(series.values()))
    return [
        [p.label, *(cell(s[i].value, s[i].status, fmt, s[i].preliminary) for s in series.values())]
        for i, p in enumerate(first)
    ]


def change(item: dict[str, Any], now: tuple[Any, str, bool], before: tuple[Any, str, bool]) -> str:
    """The change from the year before in words: percent for counts, percentage points for shares."""
    if now[1] or before[1] or now[0] is None or before[0] is None:
        return ""
    a, b = float(now[0]), float(before[0])
    if item["format"] == "percent":
        return _signed((a - b) * 100, " procentenheter")
    if b == 0:
        return ""
    return _signed((a - b) / b * 100, " %")


def _signed(number: float, unit: str) -> str:
    """'+4,4 %', '−0,2 procentenheter', or 'oförändrat' where the change rounds to zero."""
    shown = formatted(abs(number), "", "decimal1")
    if shown == formatted(0, "", "decimal1"):
        return "oförändrat"
    return f"{'+' if number > 0 else '−'}{shown}{unit.replace(' ', NBSP)}"


def key_figures(history: History, items: list[dict[str, Any]], geo: str) -> list[dict[str, Any]]:
    """DfE-style key figures: this year's value, last year's, and the change where the two are whole years
    (a year to date is not compared with a whole year)."""
    release = history.release
    last, current = release.years
    as_of = release.manifest["as_of_month"]
    whole = as_of.endswith("-12")
    cards = []
    for item in items:
        now = history.cell(item["table"], item["where"], geo, current)
        before = history.cell(item["table"], item["where"], geo, last)
        cards.append(
            {
                "label": item["label"],
                "value": cell(*now[:2], item["format"], now[2]),
                "period": period_label(current, as_of),
                "previous": cell(*before[:2], item["format"], before[2]),
                "previous_period": last,
                "change": change(item, now, before) if whole else "",
            }
        )
    return cards


def year_rows(history: History, items: list[dict[str, Any]], geo: str) -> list[list[Any]]:
    """One row per figure, one column per year shown."""
    return [
        [
            item["label"],
            *(
                cell(
                    *history.cell(item["table"], item["where"], geo, y)[:2],
                    item["format"],
                    history.cell(item["table"], item["where"], geo, y)[2],
                )
                for y in history.years
            ),
        ]
        for item in items
    ]


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


def national(history: History, counties: pd.DataFrame) -> dict[str, Any]:
    release = history.release
    as_of = release.manifest["as_of_month"]
    item = _comparison_chart_item(release)
    areas = list(zip(counties.county_code, counties.county_name_short, strict=True))
    title = f"{item['label']} per län, {period_label(release.years[1], as_of)}"
    lan_figure = ranked_figure("riket-lan", title, areas, item, history, [(RIKET, "Riket")])
    return {
        "geo": RIKET,
        "cards": key_figures(history, shown(release, "summary"), RIKET),
        "year_rows": year_rows(history, shown(release, "summary"), RIKET),
        "trends": trend_figures(history, RIKET, "riket", "riket"),
        "distributions": distribution_figures(release, RIKET, "riket", "riket"),
        "feedback": feedback_section.section(release, RIKET, "riket", "riket", cell),
        "lan_figure": lan_figure,
        "county_header": ["Län", *(i["label"] for i in shown(release, "comparison"))],
        "county_rows": area_rows(
            history,
            [*areas, (RIKET, "Riket")],
            shown(release, "comparison"),
            {RIKET: "index.html", **{c: f"lan/{c}.html" for c, _ in areas}},
        ),
    }


def area_rows(
    history: History, areas: list[tuple[str, str]], items: list[dict[str, Any]], href: dict[str, str]
) -> list[list[Any]]:
    """One row per area (its name linking to its page), one column per figure, the current year."""
    current = history.release.years[1]
    rows = []
    for code, name in areas:
        values = [history.cell(i["table"], i["where"], code, current) for i in items]
        rows.append(
            [
                Link(name, href[code]),
                *(cell(v, s, i["format"], p) for (v, s, p), i in zip(values, items, strict=True)),
            ]
        )
    return rows


def county(history: History, code: str, name: str, municipalities: pd.DataFrame) -> dict[str, Any]:
    release = history.release
    as_of = release.manifest["as_of_month"]
    current = period_label(release.years[1], as_of)
    areas = list(zip(municipalities.municipality_code, municipalities.municipality_name_short, strict=True))
    ranked = [
        ranked_figure(
            f"lan{code}-{i}",
            f"{item['label']}, kommunerna i {name}, {current}",
            areas,
            item,
            history,
            [(RIKET, "Riket"), (code, name)],
        )
        for i, item in enumerate(shown(release, "comparison"))
        if item.get("chart")
    ]
    return {
        "geo": code,
        "code": code,
        "name": name,
        "cards": key_figures(history, shown(release, "summary"), code),
        "year_rows": year_rows(history, shown(release, "summary"), code),
        "trends": trend_figures(history, code, name, f"lan{code}"),
        "distributions": distribution_figures(release, code, name, f"lan{code}"),
        "feedback": feedback_section.section(release, code, name, f"lan{code}", cell),
        "ranked": ranked,
        "municipality_header": ["Kommun", *(i["label"] for i in shown(release, "comparison"))],
        "municipality_rows": area_rows(
            history, areas, shown(release, "comparison"), {c: f"../kommun/{c}.html" for c, _ in areas}
        ),
    }


def municipality(history: History, code: str, name: str, county: tuple[str, str]) -> dict[str, Any]:
    release = history.release
    last, current = release.years
    as_of = release.manifest["as_of_month"]
    areas = [(code, name), county, (RIKET, "Riket")]
    items = shown(release, "comparison")
    rows, inline = [], []
    for item in items:
        found = {
            g: [history.cell(item["table"], item["where"], g, y) for y in (last, current)] for g, _ in areas
        }
        rows.append(
            [
                item["label"],
                *(cell(*found[g][k][:2], item["format"], found[g][k][2]) for k in (0, 1) for g, _ in areas),
            ]
        )
        if item.get("chart"):
            points = [Point(n, *_value_status(found[g][1])) for g, n in areas]
            fig_id = f"k{code}-{len(inline)}"
            title = f"{item['label']}, {period_label(current, as_of)}"
            chart = charts.hbars(fig_id, title, points, item["format"], highlight=name)
            inline.append(
                Figure(
                    fig_id,
                    title,
                    chart.alt,
                    chart.svg,
                    ["Område", item["label"]],
                    [[p.label, cell(p.value, p.status, item["format"], p.preliminary)] for p in points],
                )
            )
    yearly = [
        Point(period_label(y, as_of), *_value_status(history.cell("outcomes", {"outcome": "total"}, code, y)))
        for y in history.years
    ]
    title = f"Anmälningar per år, {name}"
    chart = charts.columns(f"k{code}-year", title, yearly, "count")
    trend = Figure(
        f"k{code}-year",
        title,
        chart.alt,
        chart.svg,
        ["År", "Anmälningar"],
        _table_rows({"": yearly}, "count"),
    )
    return {
        "geo": code,
        "code": code,
        "name": name,
        "county": county[1],
        "county_code": county[0],
        "areas": [a[1] for a in areas],
        "rows": rows,
        "charts": inline,
        "trend": trend,
        "year_rows": year_rows(history, items, code),
        "groups": category_tables(history, code),
        "feedback": feedback_section.section(release, code, name, f"k{code}", cell),
        "county_children": year_rows(history, _children_items(release), county[0]),
    }


def _children_items(release: Release) -> list[dict[str, Any]]:
    """Distinct children and children reported again: published for län and riket only."""
    items = [i for i in shown(release, "summary") if i["table"] in {"children", "rereported"}]
    items += [
        i
        for i in shown(release, "summary")
        if i["where"].get("rate") in {"reports_per_child", "share_reported_again"}
    ]
    return items


def category_tables(history: History, code: str) -> list[dict[str, Any]]:
    """Outcomes, causes and reporters of one area over every year shown, in the code lists' order."""
    tables = []
    spec = release_spec()["tables"]
    for table, dim in (("outcomes", "outcome"), ("causes", "cause_group"), ("reporters", "reporter_group")):
        dimension = spec[table]["dimensions"][dim]
        if "categories" in dimension:
            order = [(c, v["sv"]) for c, v in dimension["categories"].items()]
        else:
            codes = code_table(dimension["codes"])
            order = list(
                zip(codes.column("code").to_pylist(), codes.column("label_sv").to_pylist(), strict=True)
            )
            if dimension.get("total"):
                order = [("total", "Samtliga anmälningar"), *order]
        rows = [
            [
                label,
                *(
                    cell(
                        *history.cell(table, {dim: c}, code, y)[:2],
                        "count",
                        history.cell(table, {dim: c}, code, y)[2],
                    )
                    for y in history.years
                ),
            ]
            for c, label in order
        ]
        note = " ".join(str(spec[table].get("note_sv", "")).split())
        tables.append({"id": table, "title": spec[table]["title_sv"], "rows": rows, "note": note})
    return tables
