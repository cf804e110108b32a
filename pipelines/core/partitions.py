"""The monthly partitions every stage shares: one partition per extract month (YYYY-MM)."""

from __future__ import annotations

import warnings
from datetime import date, timedelta

from dagster import AssetExecutionContext, BetaWarning, MonthlyPartitionsDefinition

from pipelines.core.settings import settings

# BackfillPolicy.single_run() is beta in this Dagster release; it is what makes a year one run, not twelve.
warnings.filterwarnings("ignore", category=BetaWarning)

monthly = MonthlyPartitionsDefinition(
    start_date=settings()["partitions"]["first_month"], fmt="%Y-%m", end_offset=0
)


def months_of(context: AssetExecutionContext) -> list[str]:
    """The extract months this run covers: one for a single partition, many for a single-run backfill."""
    return list(context.partition_keys)


def months_between(first: str, last: str) -> list[str]:
    """Inclusive list of YYYY-MM keys."""
    y, m = map(int, first.split("-"))
    end = tuple(map(int, last.split("-")))
    out = []
    while (y, m) <= end:
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def month_bounds(month: str) -> tuple[date, date, date]:
    """(first day, last day, earliest date received a delivery may carry) of an extract month."""
    start = date.fromisoformat(f"{month}-01")
    end = (start.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    back = settings()["extract"]["lookback_months"]
    y, m = divmod(start.year * 12 + start.month - 1 - back, 12)
    return start, end, date(y, m + 1, 1)
