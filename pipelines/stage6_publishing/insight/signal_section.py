"""The report's "Signaler" section: a table of the signals and small charts of observed against expected.

The national page lists every signal (riket and the counties, each county linking to its page); a county
page shows its own, and only when it has any. Charts follow ``charts.py``: inline SVG in the same
coordinate system, text alternatives, the values in a table under the chart; the prediction interval is a
band, the expected value a dashed line, the observed a line whose signal months are marked.
"""

from __future__ import annotations

from html import escape
from typing import Any

import pandas as pd

from pipelines.stage6_publishing import charts
from pipelines.stage6_publishing.charts import WIDTH, Chart, Point
from pipelines.stage6_publishing.history import History
from pipelines.stage6_publishing.insight import signals
from pipelines.stage6_publishing.page_cells import Figure, Link, cell, period_label
from pipelines.stage6_publishing.pages import RIKET

HEADER = ["Månad", "Område", "Serie", "Antal", "Väntat", "Prognosintervall", "Bedömning"]


def contexts(history: History) -> dict[str, dict[str, Any]]:
    """Page context per area code: riket always, a county when it has signals."""
    found = signals.compute(history)
    as_of = history.release.manifest["as_of_month"]
    flagged = found[found["signal"]]
    out = {RIKET: _context(found, flagged, RIKET, as_of, national=True)}
    for geo in sorted(set(flagged.loc[flagged["geo_level"] == "lan", "geo_code"])):
        out[geo] = _context(found, flagged[flagged["geo_code"] == geo], geo, as_of, national=False)
    return out


def _context(found: pd.DataFrame, flagged: pd.DataFrame, geo: str, as_of: str, national: bool) -> dict:
    conf = signals.spec()
    level = f"{float(conf['interval_level']):.0%}".replace("%", "\u00a0%")
    intro = (
        f"En signal är en månad då antalet anmälningar från en anmälargrupp eller i en orsaksgrupp ligger "
        f"utanför ett {level} prognosintervall: vad samma månader tidigare år och trenden ger. Beräknat ur "
        f"de publicerade, skyddade talen för riket och länen (kommuner publiceras inte per månad). Bedöms "
        f"inte: serier med färre än {conf['min_years']} tidigare år av samma månad (för kort tidsserie), "
        f"månader som inte visas eller är preliminära, och väntade antal under {conf['min_expected']}. "
        f"Alla bedömda månader finns i {conf['csv']}."
    )
    rows = [_row(r, as_of, national) for r in flagged.sort_values(["period", "geo_code"]).itertuples()]
    keys = list(dict.fromkeys(zip(flagged["geo_code"], flagged["table"], flagged["code"], strict=True)))
    figures = [
        _figure(found, key, as_of, f"sig{geo}-{k}") for k, key in enumerate(keys[: conf["max_charts"]])
    ]
    return {"intro": intro, "header": HEADER, "rows": rows, "figures": figures, "count": len(rows)}


def _row(r: Any, as_of: str, national: bool) -> list[Any]:
    area = r.geo_name
    if national and r.geo_level == "lan":
        area = Link(r.geo_name, f"lan/{r.geo_code}.html")
    return [
        period_label(r.period, as_of),
        area,
        r.series_sv,
        cell(r.observed, "", "count"),
        cell(r.expected, "", "count"),
        _interval(r.lower, r.upper),
        r.status_sv,
    ]


def _figure(found: pd.DataFrame, key: tuple[str, str, str], as_of: str, fig_id: str) -> Figure:
    geo, table, code = key
    part = found[(found["geo_code"] == geo) & (found["table"] == table) & (found["code"] == code)]
    name = part["geo_name"].iloc[0]
    title = f"{part['series_sv'].iloc[0]}, {name}: antal och väntat per månad"
    chart = band(fig_id, title, part, as_of)
    header = ["Månad", "Antal", "Väntat", "Prognosintervall", "Bedömning"]
    rows = [
        [
            period_label(r.period, as_of),
            cell(r.observed, "" if pd.notna(r.observed) else "..", "count"),
            cell(r.expected, "" if pd.notna(r.expected) else "-", "count"),
            _interval(r.lower, r.upper),
            r.status_sv,
        ]
        for r in part.itertuples()
    ]
    note = "Skuggat: prognosintervallet. Streckat: väntat antal. Ring: signal."
    return Figure(fig_id, title, chart.alt, chart.svg, header, rows, note=note)


def band(chart_id: str, title: str, part: pd.DataFrame, as_of: str) -> Chart:
    """Observed per month (solid), expected (dashed) and the interval (a band); signals ringed."""
    labels = [period_label(p, as_of) for p in part["period"]]
    observed = [Point(lab, _num(v), "" if _num(v) is not None else "..") for lab, v in zip(labels, part["observed"], strict=True)]  # fmt: skip
    signal_labels = [lab for lab, s in zip(labels, part["signal"], strict=True) if s]
    alt = charts.describe(title, observed, "count")
    if signal_labels:
        alt += f" Signal: {', '.join(signal_labels)}."
    top_y, left, right, base_y = 12.0, 58.0, WIDTH - 8.0, 162.0
    values = [v for v in (*part["observed"], *part["upper"]) if _num(v) is not None]
    top = charts._axis_top([float(v) for v in values], "count")
    slot = (right - left) / max(len(labels) - 1, 1)

    def x(i: int) -> float:
        return left + i * slot

    def y(v: float) -> float:
        return base_y - (base_y - top_y) * v / top

    parts = charts._open(chart_id, base_y + 26, title, alt)
    parts += charts._y_axis(left, right, top_y, base_y, top, "count")
    colour, expected_colour = charts.palette()[0], charts.palette()[1]
    idx = [i for i, v in enumerate(part["lower"]) if _num(v) is not None]
    if idx:
        upper = [f"{x(i):.1f},{y(float(part['upper'].iloc[i])):.1f}" for i in idx]
        lower = [f"{x(i):.1f},{y(float(part['lower'].iloc[i])):.1f}" for i in reversed(idx)]
        parts.append(f'<polygon points="{" ".join(upper + lower)}" fill="{expected_colour}" opacity="0.2"/>')
        path = " ".join(f"{x(i):.1f},{y(float(part['expected'].iloc[i])):.1f}" for i in idx)
        parts.append(
            f'<polyline points="{path}" fill="none" stroke="{expected_colour}" stroke-width="2" '
            'stroke-dasharray="6 3"/>'
        )
    xy = [(x(i), None if p.shown is None else y(p.shown)) for i, p in enumerate(observed)]
    for segment in charts._segments(xy):
        path = " ".join(f"{a:.1f},{b:.1f}" for a, b in segment)
        parts.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
    for (a, b), p, s in zip(xy, observed, part["signal"], strict=True):
        if b is None:
            continue
        parts.append(charts._marker(0, a, b, colour, False))
        if s:
            parts.append(
                f'<circle cx="{a:.1f}" cy="{b:.1f}" r="8" fill="none" stroke="#000" stroke-width="2">'
                f"<title>{escape(p.label)}: signal</title></circle>"
            )
    parts.append(f'<line x1="{left}" x2="{right}" y1="{base_y}" y2="{base_y}" stroke="#333"/>')
    parts += charts._x_labels(labels, x, base_y + 16, right - left)
    parts.append("</svg>")
    return Chart("".join(parts), alt)


def _interval(lower: Any, upper: Any) -> str:
    """The whole counts inside the prediction interval, Swedish digits; '-' where there is none."""
    if _num(lower) is None:
        return "-"
    low, high = signals.counts_inside(float(lower), float(upper))
    return f"{cell(low, '', 'count')}–{cell(high, '', 'count')}"


def _num(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else float(value)
