"""Preliminary figures: which published figures will still change, and how many reports are undecided.

A figure is *preliminary* (column ``preliminary``) when its period includes the as-of month (reports of
its last days have not had their 14 days, and late registrations still come in) or when more than
``preliminary.max_undecided_share`` (schemas/release.yaml) of the reports in its period and area were still
undecided at the extract (the published ``undecided`` count of ``outcomes`` over its ``total``; a hidden
count taken at its largest possible value): their decisions will change it. Decided from published figures alone, so the
flag reveals nothing the release does not already show. Every table with a period and an area carries
the flag and the count (``undecided``: the published count, null where hidden or missing).
"""

from __future__ import annotations

import pandas as pd

from pipelines.core.schemas import release_spec
from pipelines.stage5_protection import cells as c
from pipelines.stage5_protection.symbols import SUPPRESSED

PRELIMINARY = "preliminary"
UNDECIDED = "undecided"
KEYS = ["period_type", "period", "geo_code"]
# The outcomes table and category whose published count says how many reports are undecided.
SOURCE, DIMENSION, CATEGORY, TOTAL = "outcomes", "outcome", "undecided", "total"


def includes_as_of(period_type: pd.Series, period: pd.Series, calendar: c.Calendar) -> pd.Series:
    """Whether each period (as published: 2025-03, 2025-Q1, 2025) includes the as-of month."""
    as_of = calendar.as_of
    wanted = {"month": as_of, "quarter": c.quarter_of(as_of), "year": as_of[:4], "year_to_date": as_of[:4]}
    return period.astype(str).eq(period_type.map(wanted).astype(str))


def flags(outcomes: pd.DataFrame, calendar: c.Calendar) -> pd.DataFrame:
    """Per published (period type, period, area): ``undecided`` and ``preliminary``."""
    rows = outcomes.loc[outcomes[DIMENSION].eq(CATEGORY), [*KEYS, "value", "status"]]
    totals = outcomes.loc[outcomes[DIMENSION].eq(TOTAL), [*KEYS, "value"]].rename(columns={"value": TOTAL})
    rows = rows.merge(totals, on=KEYS, how="left")
    undecided = rows["value"].astype("Int64")
    current = includes_as_of(rows["period_type"], rows["period"], calendar)
    return (
        rows[KEYS]
        .assign(**{UNDECIDED: undecided, PRELIMINARY: (current | _open(rows)).astype(bool)})
        .reset_index(drop=True)
    )


def _open(rows: pd.DataFrame) -> pd.Series:
    """Whether more than the spec's share of the reports were undecided (a hidden count at its largest)."""
    spec = release_spec()
    largest_hidden = int(spec["rules"]["threshold"])
    undecided = rows["value"].astype("Float64").mask(rows["status"].eq(SUPPRESSED), largest_hidden)
    share = undecided / rows[TOTAL].astype("Float64")
    limit = float(spec["preliminary"]["max_undecided_share"])
    # no total (hidden or missing) with undecided reports: nothing says they are few
    unknown = rows[TOTAL].isna() & undecided.gt(0).fillna(False)
    return (share.gt(limit).fillna(False) | unknown).astype(bool)


def mark(frame: pd.DataFrame, marks: pd.DataFrame, calendar: c.Calendar) -> pd.DataFrame:
    """``frame`` with ``preliminary`` and ``undecided`` (last), by its period and area. A period that
    ``outcomes`` does not publish (none today) is preliminary only if it includes the as-of month."""
    if not set(KEYS) <= set(frame.columns):
        return frame
    out = frame.drop(columns=[PRELIMINARY, UNDECIDED], errors="ignore").merge(marks, on=KEYS, how="left")
    unknown = out[PRELIMINARY].isna()
    out[PRELIMINARY] = out[PRELIMINARY].astype("boolean").fillna(False).astype(bool)
    out.loc[unknown, PRELIMINARY] = includes_as_of(
        out.loc[unknown, "period_type"], out.loc[unknown, "period"], calendar
    ).to_numpy()
    out[UNDECIDED] = out[UNDECIDED].astype("Int64")
    return out[[*(c for c in out.columns if c not in (PRELIMINARY, UNDECIDED)), PRELIMINARY, UNDECIDED]]
