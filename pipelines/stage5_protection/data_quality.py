"""The release table ``data_quality``: deliveries x/290, quarantine and late decisions per extract month.

Read from stage 4's delivery monitoring (``4_statistics/deliveries/as_of_month=M``, one row per
municipality and extract month) for every month the release covers, and published as ``release.yaml``'s
``data_quality`` declares: counts of rows and reports only at riket and län, rounded; flags per municipality.
A month without monitoring (nothing loaded) is missing (``-``), never 0.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from pipelines.core.files import STATISTICS_FILE
from pipelines.core.schemas import code_table, release_spec
from pipelines.core.settings import Paths
from pipelines.stage5_protection import cells as c
from pipelines.stage5_protection.symbols import MISSING, NOT_APPLICABLE

TABLE = "data_quality"
MONITORING = "deliveries"  # stage 4's table (schemas/deliveries.yaml)
COUNTED = ["rows_in", "quarantined", "late_decisions", "undecided_over_deadline"]


def spec() -> dict[str, Any]:
    return release_spec()[TABLE]


def _monitoring(home: Paths, months: list[str]) -> pd.DataFrame:
    frames = []
    for month in months:
        path = home.statistics / MONITORING / f"as_of_month={month}" / STATISTICS_FILE
        if path.exists():
            frames.append(pd.read_parquet(path))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _per_municipality(rows: pd.DataFrame) -> pd.DataFrame:
    """The flags: delivered, and complete (delivered, nothing rejected, little quarantined)."""
    limit = float(spec()["incomplete_share"])
    complete = rows["delivered"] & rows["files_rejected"].eq(0) & rows["rejection_rate"].fillna(0).le(limit)
    return rows.assign(delivered=rows["delivered"].astype(int), complete=complete.astype(int), expected=1)


def _sums(rows: pd.DataFrame) -> pd.DataFrame:
    """Riket and län: municipalities and rows summed (rows rounded later)."""
    measures = ["expected", "delivered", "complete", *COUNTED]
    lan = rows.groupby(["as_of_month", "county_code"], as_index=False)[measures].sum()
    riket = rows.groupby("as_of_month", as_index=False)[measures].sum().assign(county_code=c.RIKET)
    return pd.concat(
        [riket.assign(geo_level="riket"), lan.assign(geo_level="lan")], ignore_index=True
    ).rename(columns={"county_code": "geo_code"})


def _long(wide: pd.DataFrame, level: str) -> pd.DataFrame:
    """One row per measure the level publishes; rounded counts; shares from the rounded counts."""
    step = int(spec()["rounding"])
    out = []
    for measure, m in spec()["measures"].items():
        if level not in m["levels"]:
            continue
        if "share" in m:
            num, den = (wide[p].astype(float).div(step).round().mul(step) for p in m["share"])
            value = (num / den.where(den > 0)).round(4)
            status = np.where(den.eq(0), NOT_APPLICABLE, "")
        else:
            value = wide[measure].astype(float)
            if m.get("rounded"):
                value = value.div(step).round().mul(step)  # half to even: 5 -> 0, 15 -> 20
            status = np.full(len(wide), "", dtype=object)
        out.append(
            wide[["as_of_month", "geo_level", "geo_code"]].assign(
                measure=measure, measure_sv=m["sv"], unit=m["unit"], value=value, status=status
            )
        )
    return pd.concat(out, ignore_index=True)


def table(home: Paths, calendar: c.Calendar) -> pd.DataFrame:
    """``data_quality`` of the release as of ``calendar.as_of``."""
    months = calendar.months()
    rows = _monitoring(home, months)
    names = c.geo_names()
    levels = spec()["measures"]
    if rows.empty:
        found = pd.DataFrame()
    else:
        flags = _per_municipality(rows)
        kommun = flags.rename(columns={"municipality_code": "geo_code"}).assign(geo_level="kommun")
        found = pd.concat([_long(_sums(flags), "riket"), _long(kommun, "kommun")], ignore_index=True)
    # months without monitoring: every riket and län measure missing
    absent = [m for m in months if rows.empty or m not in set(rows["as_of_month"])]
    geos = [(c.RIKET, "riket"), *((g, "lan") for g in code_table("counties").to_pandas()["county_code"])]
    missing = pd.DataFrame(
        [
            (month, geo, level, measure, m["sv"], m["unit"], np.nan, MISSING)
            for month in absent
            for geo, level in geos
            for measure, m in levels.items()
            if level in m["levels"]
        ],
        columns=["as_of_month", "geo_code", "geo_level", "measure", "measure_sv", "unit", "value", "status"],
    )
    both = pd.concat([found, missing], ignore_index=True).rename(columns={"as_of_month": "period"})
    out = pd.DataFrame(
        {
            "release": calendar.as_of,
            "as_of_month": calendar.as_of,
            "period_type": "month",
            "period": both["period"],
            "geo_level": both["geo_level"],
            "geo_code": both["geo_code"],
            "geo_name": both["geo_code"].map(names),
            "measure": both["measure"],
            "measure_sv": both["measure_sv"],
            "unit": both["unit"],
            "value": both["value"].astype("Float64"),
            "status": both["status"].astype(str),
        }
    )
    # extract-month facts: preliminary for the as-of month (a re-delivery can still change it); the
    # undecided count of outcomes belongs to months of arrival, so it is not given here
    out["preliminary"] = out["period"].eq(calendar.as_of).astype(bool)
    out["undecided"] = pd.array([pd.NA] * len(out), dtype="Int64")
    order = {lv: i for i, lv in enumerate(["riket", "lan", "kommun"])}
    out = out.assign(_lv=out["geo_level"].map(order))
    out = out.sort_values(["period", "_lv", "geo_code", "measure"]).drop(columns="_lv")
    return out.reset_index(drop=True)
