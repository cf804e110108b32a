"""`orostat compare` in words and as a chart: the estimate of ``compare.py`` in plain Swedish, with its
uncertainty and what it cannot tell, and an SVG of the municipality against its group month by month."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from pipelines.stage6_publishing import charts
from pipelines.stage6_publishing.charts import Point
from pipelines.stage6_publishing.insight import compare
from pipelines.stage6_publishing.insight.groups import Grouping
from pipelines.stage6_publishing.page_cells import period_label
from pipelines.stage6_publishing.release_tables import NBSP, Release, formatted


@dataclass(frozen=True)
class Comparison:
    municipality: str
    name: str
    indicator: str
    item: dict[str, Any]
    group_name: str
    group_size: int
    frame: pd.DataFrame
    start: str
    result: compare.Estimate


def run(
    releases: dict[str, Release], grouping: Grouping, municipality: str, name: str, indicator: str, start: str
) -> Comparison:
    """The comparison over the monthly releases given (as-of month → release), or ``CompareRefused``
    saying why it cannot be made."""
    item = compare.settings()["indicators"][indicator]
    group = grouping.group_of.get(municipality)
    if group is None:
        raise compare.CompareRefused(f"Kommun {municipality} har ingen jämförelsegrupp ({grouping.source}).")
    members = grouping.members(group)
    values = compare.monthly_values(releases, item)
    if values.empty:
        raise compare.CompareRefused(f"Publiceringarna har inga kommunvärden för måttet {indicator}.")
    frame = compare.panel(values, municipality, members)
    result = compare.did(frame, start)
    return Comparison(
        municipality, name, indicator, item, grouping.names[group], len(members) - 1, frame, start, result
    )


def _difference(value: float, item: dict[str, Any], unit: bool = True) -> str:
    """A signed difference in the indicator's unit: percentage points for shares."""
    number = value * 100 if item["format"] == "percent" else value
    text = formatted(abs(number), "", "decimal1")
    sign = "+" if number > 0 else ("−" if number < 0 else "±")
    return f"{sign}{text}{NBSP}{item['unit_sv']}" if unit else f"{sign}{text}"


def _level(value: float, item: dict[str, Any]) -> str:
    fmt = "decimal1" if item["format"] == "count" else item["format"]
    return formatted(value, "", fmt)


def text(c: Comparison) -> str:
    """The result in plain Swedish, uncertainty and caveats included."""
    r, item = c.result, c.item
    months = list(c.frame.index.astype(str))
    last_before = months[months.index(c.start) - 1]
    lines = [
        f"{c.name} ({c.municipality}): {item['sv'].lower()} per månad, jämfört med {c.group_name.lower()} "
        f"({c.group_size} andra kommuner).",
        f"Före ({months[0]} – {last_before}, {r.months_before} månader med värden): kommunen "
        f"{_level(r.before[0], item)}, gruppen {_level(r.before[1], item)} i genomsnitt.",
        f"Efter ({c.start} – {months[-1]}, {r.months_after} månader med värden): kommunen "
        f"{_level(r.after[0], item)}, gruppen {_level(r.after[1], item)} i genomsnitt.",
        "",
        f"Skattning (skillnad i skillnader): {_difference(r.estimate, item)} jämfört med gruppen, "
        f"{round(r.confidence * 100)}{NBSP}% konfidensintervall {_difference(r.low, item, unit=False)} till "
        f"{_difference(r.high, item)}.",
    ]
    if r.covers_zero:
        lines.append(
            "Intervallet innehåller 0: uppgifterna visar ingen säker skillnad mot gruppen efter startmånaden."
        )
    else:
        direction = "högre" if r.estimate > 0 else "lägre"
        lines.append(
            f"Intervallet innehåller inte 0: efter startmånaden ligger kommunen {direction} i förhållande "
            "till gruppen än före."
        )
    lines += ["", "Att tänka på:", *(f"- {caveat}" for caveat in caveats(c))]
    return "\n".join(lines)


def caveats(c: Comparison) -> list[str]:
    r = c.result
    out = [
        "Beräkningen bygger på de publicerade, skyddade värdena: en månad är skillnaden mellan två "
        "publiceringars värden för året hittills, och varje antal har ett litet slumpmässigt tillägg eller "
        "avdrag. Det gör skattningen osäkrare. Månader med dolda värden (..) är utelämnade; döljs många små "
        "värden kan det också snedvrida skattningen.",
        "Det är en jämförelse, inte ett bevis för orsak: annat som ändrades samtidigt i kommunen (rutiner, "
        "registrering, personal, befolkning) eller i gruppen kan förklara skillnaden.",
        "Metoden förutsätter att kommunen och gruppen hade följt varandra utan förändringen.",
    ]
    if r.diverged_before:
        slope, low, high = r.pre_trend
        out.append(
            f"Varning: redan före startmånaden ändrades skillnaden mot gruppen med {_difference(slope, c.item)} "
            f"per år ({round(r.confidence * 100)}{NBSP}% konfidensintervall {_difference(low, c.item, unit=False)} "
            f"till {_difference(high, c.item, unit=False)}). Kommunen och gruppen följde alltså inte varandra "
            "före förändringen, och skattningen kan till en del spegla den trenden."
        )
    elif r.pre_trend is not None:
        out.append("Före startmånaden följde kommunen och gruppen varandra (ingen säker trend i skillnaden).")
    if r.seasonal:
        out.append("Samma kalendermånader jämförs (månadseffekter), så säsongsvariation tas bort.")
    else:
        out.append(
            "För få månader för att jämföra samma kalendermånader: säsongsvariation som kommunen delar "
            "med gruppen tas bort, kommunens egen gör det inte."
        )
    if r.months_left_out:
        out.append(
            f"{r.months_left_out} månader utan publicerat värde för kommunen eller gruppen är utelämnade."
        )
    out.append(
        f"Intervallet tar hänsyn till att månaderna hänger ihop (EWC-metoden, {r.nu} frihetsgrader); med få månader blir intervallet brett."
    )
    return out


def chart(c: Comparison, chart_id: str = "compare") -> str:
    """The municipality and its group month by month, a dotted line where the 'after' months begin."""
    months = list(c.frame.index.astype(str))
    last = months[-1]
    fmt = "decimal1" if c.item["format"] == "count" else c.item["format"]
    series = {
        c.name: [
            Point(period_label(m, last), _number(v), "" if _number(v) is not None else "..")
            for m, v in zip(months, c.frame.kommun, strict=True)
        ],
        f"Gruppen (medel av {c.group_size} kommuner)": [
            Point(period_label(m, last), _number(v), "" if _number(v) is not None else "-")
            for m, v in zip(months, c.frame.group, strict=True)
        ],
    }
    title = f"{c.item['sv']}, {c.name} och {c.group_name.lower()}, per månad"
    drawn = charts.lines(chart_id, title, series, fmt, mark=(months.index(c.start), f"från {c.start}"))
    return drawn.svg


def _number(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else float(value)
