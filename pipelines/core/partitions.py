"""The monthly partitions every stage shares: one partition per extract month (YYYY-MM)."""

from __future__ import annotations

import warnings

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
