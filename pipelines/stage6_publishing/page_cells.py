"""The pieces every page is made of: a value as a ``Cell`` (Swedish digits or a symbol, and whether it is
preliminary, marked up for screen readers by ``Cell.__html__``), a ``Link``, a ``Figure`` (chart and its
table), period labels in Swedish and the change from one period to the next in words.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape
from typing import Any

import pandas as pd

from pipelines.core.schemas import publishing_spec
from pipelines.stage6_publishing.charts import Point
from pipelines.stage6_publishing.release_tables import NBSP, Release, formatted, symbols

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
