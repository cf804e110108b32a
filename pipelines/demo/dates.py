"""Date arithmetic on numpy arrays of days since 1970.

Part of the demo generator; how it works and why: pipelines/demo/generator.py."""

from __future__ import annotations

import datetime as dt

import numpy as np


def _days(value: str | dt.date) -> int:
    return int(np.datetime64(value, "D").astype(np.int64))


def _ymd(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    d = days.astype("datetime64[D]")
    months = d.astype("datetime64[M]").astype(np.int64)
    year = months // 12 + 1970
    month = months % 12 + 1
    day = (d - d.astype("datetime64[M]").astype("datetime64[D]")).astype(np.int64) + 1
    return year, month, day


def _from_ymd(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Days since 1970 of (year, month, day); day 29 Feb in a common year rolls to 1 March."""
    first = ((year - 1970) * 12 + month - 1).astype("datetime64[M]").astype("datetime64[D]")
    return first.astype(np.int64) + day - 1


def _age(birth: np.ndarray, on: np.ndarray) -> np.ndarray:
    by, bm, bd = _ymd(birth)
    oy, om, od = _ymd(on)
    return oy - by - ((om * 100 + od) < (bm * 100 + bd))


def _absolute_month(days: np.ndarray) -> np.ndarray:
    """year * 12 + month - 1 of each day number: months of several years in one sortable integer."""
    year, month, _ = _ymd(days)
    return year * 12 + month - 1
