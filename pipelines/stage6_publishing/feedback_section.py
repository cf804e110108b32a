"""The report's "Återkoppling" section: how often professional reporters were told the outcome, from the
protected release tables ``feedback`` (every area) and ``feedback_reporters`` (riket and län by reporter
group; release.yaml).

Shares are computed from published cells with the rule of the release's rates (stage 5 ``derived.rates``):
hidden (..) where the count given or decided is hidden or 1..threshold, missing (-) where the area does
not report feedback, not applicable (.) where nothing was decided. A municipality that does not deliver
the feedback column shows "-" (uppgift saknas), never 0 %; riket and län say how many municipalities
their figures cover.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from pipelines.core.schemas import code_table, release_spec
from pipelines.stage5_protection.symbols import MISSING, NOT_APPLICABLE, SUPPRESSED
from pipelines.stage6_publishing import charts
from pipelines.stage6_publishing.charts import Point
from pipelines.stage6_publishing.page_cells import cell
from pipelines.stage6_publishing.release_tables import Release

TABLE = "feedback"
BY_GROUP = "feedback_reporters"
DIM = "reporter_group"


def share(given: tuple[Any, str], decided: tuple[Any, str], threshold: int) -> tuple[float | None, str]:
    """(share, status) from two published cells (value, status), as the release's rates are derived."""
    (g, g_status), (d, d_status) = given, decided
    if MISSING in (g_status, d_status):
        return None, MISSING
    if SUPPRESSED in (g_status, d_status) or any(v is not None and 1 <= v <= threshold for v in (g, d)):
        return None, SUPPRESSED
    if not d:
        return None, NOT_APPLICABLE
    return round(float(g) / float(d), 4), ""


def section(release: Release, geo: str, name: str, prefix: str) -> dict[str, Any] | None:
    """Figure and table of the current year for area ``geo``, or None if the release has no such table."""
    areas = release.tables.get(TABLE)
    if areas is None or not (areas.geo_code == geo).any():
        return None
    current = release.years[1]
    by_group = release.tables.get(BY_GROUP)
    frame = by_group if by_group is not None and (by_group.geo_code == geo).any() else areas
    here = frame[(frame.geo_code == geo) & (frame.period == current)]
    threshold = int(release_spec()["rules"]["threshold"])
    labels = dict(zip(here[DIM], here[f"{DIM}_sv"], strict=False)) if DIM in here else {}
    groups = ["total", *_groups()] if DIM in here else ["total"]
    rows, points = [], []
    for group in groups:
        cells = {c: _cell(here, group, c) for c in ("decided", "given", "within_14")}
        value, status = share(cells["given"], cells["decided"], threshold)
        within, within_status = share(cells["within_14"], cells["decided"], threshold)
        label = "Samtliga yrkesverksamma" if group == "total" else labels.get(group, group)
        rows.append(
            [
                label,
                cell(*cells["decided"], "count"),
                cell(*cells["given"], "count"),
                cell(value, status, "percent"),
                cell(within, within_status, "percent"),
            ]
        )
        if group != "total" or len(groups) == 1:
            points.append(Point(label, value, status))
    title = f"Andel beslutade anmälningar med återkoppling till anmälaren, {name} {current[:4]}"
    chart = charts.hbars(f"{prefix}-feedback", title, points, "percent")
    note = " ".join(str(release_spec()["tables"][TABLE].get("note_sv", "")).split())
    header = ["Anmälare", "Beslutade", "Återkoppling given", "Andel", "Andel inom 14 dagar"]
    return {
        # the keys of page_cells.Figure, for the report's _figure.html
        "figure": {
            "id": f"{prefix}-feedback",
            "caption": title,
            "alt": chart.alt,
            "inline": chart.svg,
            "header": header,
            "rows": rows,
            "note": note,
        },
        "coverage": _coverage(areas, geo, current),
        "missing": _total_status(here) == MISSING,
    }


def _total_status(here: pd.DataFrame) -> str:
    return _cell(here, "total", "decided")[1]


def _groups() -> list[str]:
    where = release_spec()["tables"][BY_GROUP]["dimensions"][DIM].get("codes_where") or {}
    rows = code_table("reporter_groups").to_pylist()
    return [r["code"] for r in rows if all(r[k] == v for k, v in where.items())]


def _cell(frame: pd.DataFrame, group: str, category: str) -> tuple[Any, str]:
    chosen = frame["feedback"] == category
    if DIM in frame:
        chosen &= frame[DIM] == group
    row = frame[chosen]
    if row.empty:
        return None, MISSING
    value = row["value"].iloc[0]
    return (None if pd.isna(value) else int(value)), str(row["status"].iloc[0] or "")


def _coverage(frame: pd.DataFrame, geo: str, period: str) -> tuple[int, int] | None:
    """(municipalities that report feedback, municipalities) in the area, for riket and län."""
    kommun = frame[
        (frame.geo_level == "kommun") & (frame.period == period) & (frame["feedback"] == "decided")
    ]
    if geo != "00":
        if len(geo) != 2:
            return None
        kommun = kommun[kommun.geo_code.str[:2] == geo]
    return int(kommun["status"].ne(MISSING).sum()), len(kommun)
