"""What each page of the report shows: riket, a län, a kommun; contexts for the templates.

Figures come from a protected release (and, for earlier years, the December release of the year after:
``history.py``). Which figures a summary or comparison shows is ``schemas/publishing.yaml``; titles and
categories are ``release.yaml``'s. A value is a ``Cell``: its text (Swedish digits or a symbol) and whether it
is preliminary; the template marks symbols and preliminary values up for screen readers (``Cell.__html__``).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from pipelines.core.schemas import code_table, release_spec
from pipelines.stage6_publishing import charts, feedback_section
from pipelines.stage6_publishing.charts import Point
from pipelines.stage6_publishing.history import History
from pipelines.stage6_publishing.page_cells import (
    Figure,
    Link,
    _table_rows,
    cell,
    change,
    period_label,
    shown,
)
from pipelines.stage6_publishing.page_figures import (
    _comparison_chart_item,
    _value_status,
    distribution_figures,
    ranked_figure,
    trend_figures,
)
from pipelines.stage6_publishing.release_tables import Release

RIKET = "00"


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
        "feedback": feedback_section.section(release, RIKET, "riket", "riket"),
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
        "feedback": feedback_section.section(release, code, name, f"lan{code}"),
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
        "feedback": feedback_section.section(release, code, name, f"k{code}"),
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
