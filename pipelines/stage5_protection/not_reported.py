"""Cells published as missing (``-``) because their area did not report the figure at all, never as 0.

A release table may declare ``missing_unless: <measure>``: a measure of its stage-4 source that says, per
municipality and month of arrival, whether the municipality reported (1) or not (0), such as
``municipalities_reporting`` for the feedback column of contract v2. A published cell is missing when no
municipality of its area (riket: all, län: the county's, kommun: itself) reported in any month of its
period. Whether a municipality delivers a column is a property of its deliveries, not of any child, so
saying so discloses nothing; the counts themselves go through disclosure control like every other table.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipelines.core.settings import Paths
from pipelines.stage5_protection import cells as c


def reporting(home: Paths, name: str, calendar: c.Calendar) -> set[tuple[str, str]] | None:
    """(municipality, month) pairs that reported, or None if the table has no ``missing_unless``."""
    measure = c.tables()[name].get("missing_unless")
    if not measure:
        return None
    src = c.read_statistic(home, c.tables()[name]["source"], calendar.as_of, "month")
    rows = src.loc[src["geo_level"].eq("kommun") & src[measure].fillna(0).gt(0), ["geo_code", "period"]]
    return set(rows.itertuples(index=False, name=None))


def absent(frame: pd.DataFrame, calendar: c.Calendar, reported: set[tuple[str, str]] | None) -> np.ndarray:
    """Per row of ``frame`` (internal codes in c.GEO and c.PERIOD): nobody in the area reported then."""
    if reported is None:
        return np.zeros(len(frame), dtype=bool)
    months = calendar.period_months()
    # Each reporting municipality, month, also reports for its county and for the nation.
    areas = {(area, month) for kommun, month in reported for area in (kommun, kommun[:2], c.RIKET)}
    keys = frame[[c.GEO, c.PERIOD]].drop_duplicates()
    missing = {
        (geo, period)
        for geo, period in keys.itertuples(index=False, name=None)
        if not any((geo, month) in areas for month in months.get(period, [period]))
    }
    return np.fromiter(
        ((g, p) in missing for g, p in zip(frame[c.GEO], frame[c.PERIOD], strict=True)), bool, len(frame)
    )
