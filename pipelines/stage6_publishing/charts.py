"""Inline SVG charts for the report, each with a text alternative; no plotting library.

Every chart is drawn in a fixed coordinate system (``viewBox`` WIDTH units wide) and scaled by the page to
its column (``style.css``: full width on a phone, at most 34rem on a desktop). So a label of FONT units is
≈ 11 px on a 390 px phone and ≈ 16 px on a desktop: legible on both, never the 5 px a fixed-width image
shrunk into a phone gave. Text stays text (searchable, read by screen readers through ``<title>``/``<desc>``).

A hidden or missing value draws no bar or point; its symbol is written where the bar would be, so a chart
never shows more than the tables. A preliminary value (a figure that will still change) is drawn hatched
and lighter, with a hollow marker on a line. Axes of shares start at 0 %; every axis starts at 0. Colours
are Okabe-Ito (schemas/publishing.yaml). Output is byte-stable for the same release (ids from the caller).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from pipelines.core.schemas import publishing_spec
from pipelines.stage6_publishing.release_tables import formatted

WIDTH = 400
FONT = 12
ROW = 20  # height of one horizontal bar's row
LABEL_CHARS_WIDTH = 0.56  # average glyph width as a share of the font size (sans-serif), for layout only
HALO = ' paint-order="stroke" stroke="#fff" stroke-width="3"'  # a value stays legible over a reference line
TABLE_NOTE = " Värdena finns i tabellen under diagrammet."


@dataclass
class Point:
    label: str
    value: float | None  # None where not published
    status: str  # "" or the symbol
    preliminary: bool = False  # the figure will still change (reports not yet decided)

    @property
    def shown(self) -> float | None:
        """The value where it is published, else None."""
        return self.value if self.value is not None and not self.status else None


@dataclass
class Chart:
    svg: str
    alt: str


@dataclass
class Reference:
    """A vertical line across horizontal bars, e.g. the national value."""

    label: str
    value: float | None


def palette() -> list[str]:
    return publishing_spec()["palette"]


def _nice_top(top: float) -> float:
    """The smallest 1/2/2.5/5 × 10^k at or above ``top`` (an axis end a reader can read)."""
    if top <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(top))
    for step in (1, 2, 2.5, 5, 10):
        if step * power >= top:
            return step * power
    return 10 * power


def _ticks(top: float, fmt: str) -> list[float]:
    """0, a half and the top (percent axes: up to 100 % at most)."""
    return [0.0, top / 2, top]


def _axis_top(values: Sequence[float], fmt: str) -> float:
    top = _nice_top(max(values, default=0.0))
    return min(top, 1.0) if fmt == "percent" and max(values, default=0) <= 1 else top


def _text_width(text: str, size: float = FONT) -> float:
    return len(text) * size * LABEL_CHARS_WIDTH


def _open(chart_id: str, height: float, title: str, alt: str) -> list[str]:
    return [
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height:.0f}" '
        f'role="img" aria-labelledby="{chart_id}-t {chart_id}-d" font-size="{FONT}" '
        f'font-family="system-ui, sans-serif">',
        f'<title id="{chart_id}-t">{escape(title)}</title><desc id="{chart_id}-d">{escape(alt)}</desc>',
        _patterns(chart_id),
    ]


def _patterns(chart_id: str) -> str:
    """Hatching for preliminary bars, one per colour used."""
    parts = ["<defs>"]
    for i, colour in enumerate(palette()[:4]):
        parts.append(
            f'<pattern id="{chart_id}-p{i}" width="6" height="6" patternUnits="userSpaceOnUse" '
            f'patternTransform="rotate(45)"><rect width="6" height="6" fill="{colour}" opacity="0.35"/>'
            f'<line x1="0" y1="0" x2="0" y2="6" stroke="{colour}" stroke-width="3"/></pattern>'
        )
    parts.append("</defs>")
    return "".join(parts)


def _fill(chart_id: str, colour_index: int, preliminary: bool) -> str:
    return f"url(#{chart_id}-p{colour_index})" if preliminary else palette()[colour_index]


def _text(x: float, y: float, text: str, anchor: str = "start", size: int = FONT, extra: str = "") -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}"{extra}>{escape(text)}</text>'


def _highlights(title: str, points: Sequence[Point], fmt: str) -> str:
    """The highest and lowest published value and which labels are not shown, in words."""
    shown = [p for p in points if p.shown is not None]
    text = f"{title}."
    if shown:
        high = max(shown, key=lambda p: p.value)
        low = min(shown, key=lambda p: p.value)
        text += (
            f" Högst {high.label}: {formatted(high.value, '', fmt)};"
            f" lägst {low.label}: {formatted(low.value, '', fmt)}."
        )
    hidden = [p.label for p in points if p not in shown]
    if hidden:
        text += f" Visas inte (sekretess eller saknas): {', '.join(hidden)}."
    preliminary = [p.label for p in points if p.preliminary]
    if preliminary:
        text += f" Preliminärt: {', '.join(preliminary)}."
    return text


def describe(title: str, points: Sequence[Point], fmt: str) -> str:
    return _highlights(title, points, fmt) + TABLE_NOTE


def describe_series(title: str, series: dict[str, Sequence[Point]], fmt: str) -> str:
    return " ".join([f"{title}.", *(_highlights(n, p, fmt) for n, p in series.items())]) + TABLE_NOTE


def _x_labels(labels: Sequence[str], x_of, y: float, room: float) -> list[str]:
    """As many labels under a time axis as fit in ``room`` without touching, evenly spaced (the table
    under the chart has every one)."""
    widest = max((_text_width(label) for label in labels), default=0) + FONT
    step = max(1, math.ceil(len(labels) * widest / room))
    return [_text(x_of(i), y, label, "middle") for i, label in enumerate(labels) if i % step == 0]


def _y_axis(left: float, right: float, top_y: float, base_y: float, top: float, fmt: str) -> list[str]:
    parts = []
    for tick in _ticks(top, fmt):
        y = base_y - (base_y - top_y) * tick / top
        parts.append(f'<line x1="{left}" x2="{right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>')
        parts.append(_text(left - 4, y + 4, formatted(tick, "", _tick_format(fmt)), "end"))
    return parts


def _tick_format(fmt: str) -> str:
    return "percent0" if fmt == "percent" and "percent0" in publishing_spec()["formats"] else fmt


def columns(chart_id: str, title: str, points: Sequence[Point], fmt: str) -> Chart:
    """Vertical bars over periods (e.g. reports per month); the axis starts at 0."""
    alt = describe(title, points, fmt)
    height, top_y, base_y, left, right = 190.0, 12.0, 160.0, 58.0, WIDTH - 6.0
    top = _axis_top([p.shown or 0 for p in points], fmt)
    slot = (right - left) / max(len(points), 1)
    parts = _open(chart_id, height, title, alt)
    parts += _y_axis(left, right, top_y, base_y, top, fmt)
    for i, p in enumerate(points):
        x = left + i * slot + slot * 0.1
        if p.shown is None:
            parts.append(_text(x + slot * 0.4, base_y - 3, p.status or "-", "middle"))
            continue
        h = (base_y - top_y) * p.shown / top
        parts.append(
            f'<rect x="{x:.1f}" y="{base_y - h:.1f}" width="{slot * 0.8:.1f}" height="{h:.1f}" '
            f'fill="{_fill(chart_id, 0, p.preliminary)}"><title>{escape(p.label)}: '
            f"{escape(formatted(p.value, '', fmt))}{' (preliminär)' if p.preliminary else ''}</title></rect>"
        )
    parts.append(f'<line x1="{left}" x2="{right}" y1="{base_y}" y2="{base_y}" stroke="#333"/>')
    parts += _x_labels(
        [p.label for p in points], lambda i: left + (i + 0.5) * slot, base_y + 16, right - left
    )
    parts.append("</svg>")
    return Chart("".join(parts), alt)


def lines(
    chart_id: str,
    title: str,
    series: dict[str, Sequence[Point]],
    fmt: str,
    mark: tuple[int, str] | None = None,
) -> Chart:
    """Several series over the same periods; a gap where a value is hidden; markers and dashes tell the
    lines apart without colour; a preliminary point is hollow. The axis starts at 0 (shares: 0 %).
    ``mark``: (index of a period, label): a vertical dotted line before that period (a change starts)."""
    alt = describe_series(title, series, fmt)
    legend_h = 18 * len(series)
    top_y, left, right = 12.0 + legend_h, 58.0, WIDTH - 8.0
    base_y = top_y + 150
    height = base_y + 26
    values = [p.shown for pts in series.values() for p in pts if p.shown is not None]
    top = _axis_top(values, fmt)
    first = next(iter(series.values()), [])
    slot = (right - left) / max(len(first) - 1, 1)
    parts = _open(chart_id, height, title, alt)
    dashes = ["", ' stroke-dasharray="6 3"', ' stroke-dasharray="2 3"', ' stroke-dasharray="8 3 2 3"']
    for k, name in enumerate(series):
        y = 12 + 18 * k
        parts.append(
            f'<line x1="0" x2="22" y1="{y - 4}" y2="{y - 4}" stroke="{palette()[k]}" stroke-width="2.5"'
            f"{dashes[k % 4]}/>"
        )
        parts.append(_marker(k, 11, y - 4, palette()[k], False))
        parts.append(_text(28, y, name))
    parts += _y_axis(left, right, top_y, base_y, top, fmt)
    for k, points in enumerate(series.values()):
        colour = palette()[k]
        xy = [
            (left + i * slot, None if p.shown is None else base_y - (base_y - top_y) * p.shown / top)
            for i, p in enumerate(points)
        ]
        for segment in _segments(xy):
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in segment)
            parts.append(
                f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"{dashes[k % 4]}/>'
            )
        for (x, y), p in zip(xy, points, strict=True):
            if y is not None:
                parts.append(_marker(k, x, y, colour, p.preliminary))
    parts.append(f'<line x1="{left}" x2="{right}" y1="{base_y}" y2="{base_y}" stroke="#333"/>')
    if mark is not None:
        x = left + (mark[0] - 0.5) * slot
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top_y}" y2="{base_y}" stroke="#333" stroke-dasharray="2 2"/>'
        )
        parts.append(_text(x + 3, top_y + 10, mark[1], extra=HALO))
    parts += _x_labels([p.label for p in first], lambda i: left + i * slot, base_y + 16, right - left)
    parts.append("</svg>")
    return Chart("".join(parts), alt)


def _segments(xy: list[tuple[float, float | None]]) -> list[list[tuple[float, float]]]:
    """Runs of consecutive published points (a hidden value breaks the line)."""
    runs: list[list[tuple[float, float]]] = [[]]
    for x, y in xy:
        if y is None:
            runs.append([])
        else:
            runs[-1].append((x, y))
    return [r for r in runs if len(r) > 1]


def _marker(k: int, x: float, y: float, colour: str, hollow: bool) -> str:
    fill = "#fff" if hollow else colour
    common = f'fill="{fill}" stroke="{colour}" stroke-width="1.5"'
    shape = k % 3
    if shape == 0:
        return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" {common}/>'
    if shape == 1:
        return f'<rect x="{x - 3.5:.1f}" y="{y - 3.5:.1f}" width="7" height="7" {common}/>'
    return f'<path d="M{x:.1f},{y - 4.5:.1f} L{x + 4.5:.1f},{y + 3.5:.1f} L{x - 4.5:.1f},{y + 3.5:.1f} Z" {common}/>'


def hbars(
    chart_id: str,
    title: str,
    points: Sequence[Point],
    fmt: str,
    references: Sequence[Reference] = (),
    highlight: str | None = None,
) -> Chart:
    """Horizontal bars in the order given (sort before), with vertical reference lines (e.g. riket) and one
    bar highlighted (e.g. the page's own municipality). The axis starts at 0."""
    alt = describe(title, points, fmt)
    for ref in references:
        if ref.value is not None:
            alt = alt.replace(TABLE_NOTE, f" {ref.label}: {formatted(ref.value, '', fmt)}.{TABLE_NOTE}")
    label_w = min(max((_text_width(p.label) for p in points), default=40) + 6, WIDTH * 0.42)
    value_w = 52.0
    left, right = label_w, WIDTH - value_w
    ref_h = 16 * len(references)
    top_y = 4.0 + ref_h
    height = top_y + ROW * len(points) + 6
    values = [p.shown or 0 for p in points] + [r.value or 0 for r in references]
    top = _axis_top(values, fmt)
    scale = (right - left) / top
    parts = _open(chart_id, height, title, alt)
    # reference lines first: the bars and their values (with a white halo) are drawn over them
    for k, ref in enumerate(references):
        if ref.value is None:
            continue
        x = left + ref.value * scale
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top_y - 2 - 16 * (len(references) - 1 - k):.1f}" '
            f'y2="{height - 2:.1f}" stroke="#000" stroke-width="1.5" stroke-dasharray="{"4 3" if k else ""}"/>'
        )
        label = f"{ref.label} {formatted(ref.value, '', fmt)}"
        anchor = "end" if x + _text_width(label) > WIDTH else "start"
        parts.append(_text(x + (3 if anchor == "start" else -3), 12 + 16 * k, label, anchor))
    for i, p in enumerate(points):
        y = top_y + i * ROW
        weight = ' font-weight="bold"' if p.label == highlight else ""
        parts.append(_text(label_w - 4, y + 14, _clip(p.label, label_w), "end", extra=weight))
        if p.shown is None:
            parts.append(_text(left + 3, y + 14, p.status or "-"))
            continue
        w = p.shown * scale
        colour = 3 if p.label == highlight else 0
        parts.append(
            f'<rect x="{left}" y="{y + 3}" width="{w:.1f}" height="{ROW - 6}" '
            f'fill="{_fill(chart_id, colour, p.preliminary)}"/>'
        )
        parts.append(_text(left + w + 3, y + 14, formatted(p.value, "", fmt), extra=weight + HALO))
    parts.append(f'<line x1="{left}" x2="{left}" y1="{top_y}" y2="{height - 2}" stroke="#333"/>')
    parts.append("</svg>")
    return Chart("".join(parts), alt)


def _clip(label: str, width: float) -> str:
    """A label cut to the room it has (the full text is in the table)."""
    room = int(width / (FONT * LABEL_CHARS_WIDTH))
    return label if len(label) <= room else label[: max(room - 1, 1)] + "…"


def grouped(
    chart_id: str, title: str, groups: Sequence[str], series: dict[str, Sequence[Point]], fmt: str
) -> Chart:
    """Horizontal bars in groups (e.g. age bands), one colour per series (e.g. sex), the second hatched
    so the two differ in greyscale too; a legend above."""
    alt = describe_series(title, series, fmt)
    label_w = min(max((_text_width(g) for g in groups), default=40) + 8, WIDTH * 0.35)
    left, right = label_w, WIDTH - 52.0
    bar = 14
    group_h = bar * len(series) + 10
    top_y = 6.0 + 18 * len(series)
    height = top_y + group_h * len(groups) + 4
    values = [p.shown or 0 for pts in series.values() for p in pts]
    top = _axis_top(values, fmt)
    parts = _open(chart_id, height, title, alt)
    hatched = [False, True, False, True]
    for k, name in enumerate(series):
        y = 4 + 18 * k
        parts.append(
            f'<rect x="0" y="{y}" width="14" height="12" fill="{_fill(chart_id, k, hatched[k % 4])}" '
            f'stroke="{palette()[k]}"/>'
        )
        parts.append(_text(20, y + 11, name))
    for g, group in enumerate(groups):
        y0 = top_y + g * group_h
        parts.append(_text(label_w - 4, y0 + group_h / 2 + 2, _clip(group, label_w), "end"))
        for k, points in enumerate(series.values()):
            p = points[g]
            y = y0 + k * bar + 4
            if p.shown is None:
                parts.append(
                    _text(
                        left + 3,
                        y + 11,
                        p.status or "-",
                    )
                )
                continue
            w = (right - left) * p.shown / top
            parts.append(
                f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{bar - 2}" '
                f'fill="{_fill(chart_id, k, hatched[k % 4] or p.preliminary)}" stroke="{palette()[k]}"/>'
            )
            parts.append(
                _text(
                    left + w + 3,
                    y + 11,
                    formatted(p.value, "", fmt),
                )
            )
    parts.append(f'<line x1="{left}" x2="{left}" y1="{top_y}" y2="{height - 2}" stroke="#333"/>')
    parts.append("</svg>")
    return Chart("".join(parts), alt)
