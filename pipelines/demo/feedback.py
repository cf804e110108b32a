"""Synthetic feedback dates (återkoppling, contract v2's optional ``feedback_date``) for the demo rows.

Social services tell a professional reporter whether an investigation was opened, not opened or is
already ongoing. Per municipality (profiles drawn once per seed over all 290, so a municipality's files do
not depend on which others were asked for): the share of its decided reports from professional reporters
that get feedback (times its reporter group's factor: schools hear back less often than the police), and
how many days after the decision it typically comes. A row shows the date only if
it is on or before its extract month's last day (a later feedback is not yet known to that extract), and
only in files of a municipality that delivers the column at all (none before settings' ``delivered_from``,
and ``not_delivering_share`` of them never). Planted invalid rows get none, so each keeps exactly its own
defect.
"""

from __future__ import annotations

import numpy as np

from pipelines.demo.reference import _read_csv
from pipelines.demo.variation import synthetic

NONE = -1  # no date (as the other day columns: days since 1970-01-01, -1 = empty)


def add_feedback(
    seed: int,
    frame: dict[str, np.ndarray],
    muni_codes: list[str],
    codes: dict[str, list[str]],
    invalid: dict[str, np.ndarray],
) -> None:
    """Add ``feedback`` (day or -1) and ``feedback_delivered`` (the row's file has the column) to ``frame``."""
    spec = synthetic()["feedback"]
    profile = np.random.default_rng([seed, 9, 0])
    n = len(muni_codes)
    share = profile.uniform(spec["share_min"], spec["share_max"], n)
    mean_days = profile.uniform(spec["mean_days_min"], spec["mean_days_max"], n)
    never = profile.random(n) < spec["not_delivering_share"]
    year, month = map(int, spec["delivered_from"].split("-"))
    frame["feedback_delivered"] = ~never[frame["muni"]] & (frame["period"] >= year * 12 + month - 1)
    # Per report, not per row: the arrival-month and decision-month rows of a report agree.
    draws = np.random.default_rng([seed, 9, 1]).random((int(frame["report"].max(initial=-1)) + 1, 2))
    factor = _group_factor(codes, spec.get("group_factor", {}))[frame["reporter"]]
    given = draws[frame["report"], 0] < np.minimum(share[frame["muni"]] * factor, 0.98)
    delay = np.floor(-mean_days[frame["muni"]] * np.log1p(-draws[frame["report"], 1])).astype(np.int64)
    day = frame["decision"] + delay
    planted = np.zeros(len(day), dtype=bool)
    for rows in invalid.values():
        planted[rows] = True
    shown = (
        frame["feedback_delivered"]
        & _professional(codes)[frame["reporter"]]
        & (frame["decision"] >= 0)
        & given
        & (day <= _month_end(frame["period"]))
        & ~planted
    )
    frame["feedback"] = np.where(shown, day, NONE)


def _professional(codes: dict[str, list[str]]) -> np.ndarray:
    """Per reporter code (in ``codes['reporter']`` order): counted in a professional reporter group."""
    professional = {g["code"] for g in _read_csv("codes/reporter_groups.csv") if g["professional"] == "true"}
    group = {r["code"]: r["group"] for r in _read_csv("codes/reporters.csv")}
    return np.array([group[c] in professional for c in codes["reporter"]], dtype=bool)


def _group_factor(codes: dict[str, list[str]], factors: dict[str, float]) -> np.ndarray:
    """Per reporter code (in ``codes['reporter']`` order): its group's factor on the municipality's share."""
    group = {r["code"]: r["group"] for r in _read_csv("codes/reporters.csv")}
    return np.array([float(factors.get(group[c], 1.0)) for c in codes["reporter"]])


def _month_end(period: np.ndarray) -> np.ndarray:
    """The last day (days since 1970-01-01) of each absolute month (year * 12 + month - 1)."""
    months = (period - 1970 * 12).astype("datetime64[M]")
    return ((months + 1).astype("datetime64[D]") - np.timedelta64(1, "D")).astype(np.int64)
