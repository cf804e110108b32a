"""Static SVG charts for the report (matplotlib), each with a text alternative.

A suppressed or missing value draws no bar or point; its symbol is written where the bar would be, so a
chart never shows more than the tables. Colours are Okabe-Ito (schemas/publishing.yaml); text stays text in
the SVG (searchable, scalable) and the files are byte-stable for the same release.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

import matplotlib
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from pipelines.core.schemas import publishing_spec
from pipelines.stage6_publishing.release_tables import formatted

# matplotlib's object API without pyplot: no backend, no display, no global figure registry to leak.
matplotlib.rcParams.update(
    {
        "svg.fonttype": "none",
        "svg.hashsalt": "orostat",
        "font.family": "sans-serif",
        "font.size": 9,
        "axes.spines.top": False,
        "axes.spines.right": False,
    }
)


@dataclass
class Point:
    label: str
    value: float | None  # None where not published
    status: str  # "" or the symbol
    preliminary: bool = False  # the release's ``preliminary`` column: drawn lighter and hatched

    @property
    def shown(self) -> float | None:
        """The value where it is published, else None."""
        return self.value if self.value is not None and not self.status else None


@dataclass
class Chart:
    svg: str
    alt: str


def palette() -> list[str]:
    return publishing_spec()["palette"]


def _figure(width: float, height: float):
    fig = Figure(figsize=(width, height))
    return fig, fig.subplots()


def _svg(fig: Figure) -> str:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None}, bbox_inches="tight")
    return buffer.getvalue()


def _axis_formatter(fmt: str) -> FuncFormatter:
    return FuncFormatter(lambda x, _pos: formatted(x, "", fmt))


TABLE_NOTE = " Värdena finns i tabellen under diagrammet."


def _describe(title: str, points: Sequence[Point], fmt: str) -> str:
    return _highlights(title, points, fmt) + TABLE_NOTE


def _describe_series(title: str, series: dict[str, Sequence[Point]], fmt: str) -> str:
    return " ".join([f"{title}.", *(_highlights(n, p, fmt) for n, p in series.items())]) + TABLE_NOTE


def _highlights(title: str, points: Sequence[Point], fmt: str) -> str:
    """The highest and lowest published value and which labels are not shown, in words."""
    shown = [p for p in points if p.shown is not None]
    text = f"{title}."
    if shown:
        high = max(shown, key=lambda p: p.value)
        low = min(shown, key=lambda p: p.value)
        text += f" Högst {high.label}: {formatted(high.value, '', fmt)}; lägst {low.label}: {formatted(low.value, '', fmt)}."
    hidden = [p.label for p in points if p not in shown]
    if hidden:
        text += f" Visas inte (sekretess eller saknas): {', '.join(hidden)}."
    return text


def bars(title: str, points: Sequence[Point], fmt: str, horizontal: bool = False) -> Chart:
    """One series of bars; a hidden value gets its symbol instead of a bar."""
    height = 0.32 * len(points) + 0.8 if horizontal else 2.8
    fig, ax = _figure(7.2, height)
    positions = range(len(points))
    values = [p.shown or 0 for p in points]
    draw = ax.barh if horizontal else ax.bar
    bars_drawn = draw(positions, values, color=palette()[0])
    _mark_preliminary(bars_drawn, points)
    for i, p in enumerate(points):
        if p.shown is None:
            xy = (0, i) if horizontal else (i, 0)
            ax.annotate(
                p.status or "-",
                xy,
                ha="left" if horizontal else "center",
                va="center" if horizontal else "bottom",
            )
    labels = [p.label for p in points]
    if horizontal:
        ax.set_yticks(list(positions), labels)
        ax.invert_yaxis()
        ax.xaxis.set_major_formatter(_axis_formatter(fmt))
    else:
        ax.set_xticks(list(positions), labels, rotation=90 if len(points) > 8 else 0)
        ax.yaxis.set_major_formatter(_axis_formatter(fmt))
    _share_axis(ax, fmt, horizontal)
    ax.set_title(title, loc="left")
    return Chart(_svg(fig), _describe(title, points, fmt) + _preliminary_note(points))


PRELIMINARY_ALPHA = 0.4  # a preliminary bar: lighter, hatched (not by colour alone)


def _mark_preliminary(drawn, points: Sequence[Point]) -> None:
    for patch, point in zip(drawn, points, strict=True):
        if point.preliminary:
            patch.set_alpha(PRELIMINARY_ALPHA)
            patch.set_hatch("///")


def _share_axis(ax, fmt: str, horizontal: bool = False) -> None:
    """A chart of shares starts at 0 %: a cut axis makes 90 % against 97 % look like a doubling."""
    if fmt == "percent" and horizontal:
        ax.set_xlim(left=0)
    elif fmt == "percent":
        ax.set_ylim(bottom=0)


def _preliminary_note(points: Sequence[Point]) -> str:
    labels = [p.label for p in points if p.preliminary]
    return f" Preliminärt (kan ändras, ljusare): {', '.join(labels)}." if labels else ""


def lines(title: str, series: dict[str, Sequence[Point]], fmt: str) -> Chart:
    """Several series over the same periods; gaps where a value is hidden. Markers tell the lines apart."""
    fig, ax = _figure(7.2, 2.8)
    markers = ["o", "s", "^", "D"]
    for i, (name, points) in enumerate(series.items()):
        ys = [float("nan") if p.shown is None else p.shown for p in points]
        ax.plot([p.label for p in points], ys, marker=markers[i % 4], color=palette()[i], label=name)
        late = [(p.label, y) for p, y in zip(points, ys, strict=True) if p.preliminary]
        if late:  # preliminary periods: open markers over the line
            ax.plot(
                *zip(*late, strict=True),
                linestyle="none",
                marker=markers[i % 4],
                color="white",
                markeredgecolor=palette()[i],
                zorder=3,
            )
    _share_axis(ax, fmt)
    ax.yaxis.set_major_formatter(_axis_formatter(fmt))
    ax.tick_params(axis="x", rotation=90)
    ax.legend(frameon=False, loc="upper left", bbox_to_anchor=(0, -0.32))  # below: never over the data
    ax.set_title(title, loc="left")
    note = _preliminary_note(next(iter(series.values()), []))
    return Chart(_svg(fig), _describe_series(title, series, fmt) + note)


def grouped(title: str, groups: Sequence[str], series: dict[str, Sequence[Point]], fmt: str) -> Chart:
    """Horizontal bars in groups (e.g. age bands), one colour per series (e.g. sex), hatched for greyscale."""
    fig, ax = _figure(7.2, 0.5 * len(groups) + 0.8)
    width = 0.8 / max(len(series), 1)
    hatches = ["", "//", "..", "xx"]
    for i, (name, points) in enumerate(series.items()):
        ys = [p.shown or 0 for p in points]
        offsets = [g + i * width for g in range(len(groups))]
        ax.barh(
            offsets, ys, height=width, color=palette()[i], hatch=hatches[i % 4], label=name, edgecolor="white"
        )
        for y, p in zip(offsets, points, strict=True):
            if p.shown is None:
                ax.annotate(p.status or "-", (0, y), va="center")
    ax.set_yticks([g + width * (len(series) - 1) / 2 for g in range(len(groups))], list(groups))
    ax.invert_yaxis()
    ax.xaxis.set_major_formatter(_axis_formatter(fmt))
    ax.legend(frameon=False)
    ax.set_title(title, loc="left")
    note = _preliminary_note(next(iter(series.values()), []))
    return Chart(_svg(fig), _describe_series(title, series, fmt) + note)


def comparison_svg(title: str, points: Sequence[Point], fmt: str) -> Chart:
    """A small inline SVG of three bars (municipality, county, country): 290 pages need it fast."""
    width, row, label_w = 420, 22, 150
    shown = [p.shown for p in points if p.shown is not None]
    top = max(shown) if shown else 1.0
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{row * len(points) + 6}" '
        f'role="img" aria-label="{escape(_describe(title, points, fmt))}"><title>{escape(title)}</title>'
    ]
    for i, p in enumerate(points):
        y = i * row + 3
        parts.append(f'<text x="0" y="{y + 14}" font-size="12">{escape(p.label)}</text>')
        if p.shown is None:
            parts.append(f'<text x="{label_w}" y="{y + 14}" font-size="12">{escape(p.status or "-")}</text>')
            continue
        bar = (width - label_w - 70) * (p.value / top if top else 0)
        colour = palette()[i % len(palette())]
        parts.append(
            f'<rect x="{label_w}" y="{y + 2}" width="{bar:.1f}" height="{row - 6}" fill="{colour}"/>'
        )
        parts.append(
            f'<text x="{label_w + bar + 4:.1f}" y="{y + 14}" font-size="12">{escape(formatted(p.value, "", fmt))}</text>'
        )
    parts.append("</svg>")
    return Chart("".join(parts), _describe(title, points, fmt))
