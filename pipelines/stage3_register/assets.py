"""Dagster asset for stage 3: the report register as of each extract month."""

from dagster import (
    AssetCheckResult,
    AssetCheckSpec,
    AssetExecutionContext,
    BackfillPolicy,
    MaterializeResult,
    asset,
)

from pipelines.core.partitions import monthly, months_of
from pipelines.core.settings import paths
from pipelines.stage3_register.register import build_register

ONE_ROW_PER_REPORT = "one_row_per_report"
ONE_KEY = "one_pseudonym_key"


@asset(
    partitions_def=monthly,
    backfill_policy=BackfillPolicy.single_run(),
    deps=["pseudonymised_reports"],
    group_name="stage3_register",
    kinds={"duckdb", "parquet"},
    check_specs=[
        AssetCheckSpec(
            ONE_ROW_PER_REPORT,
            asset="report_register",
            blocking=True,
            description="(municipality_code, report_id) is unique in the register.",
        ),
        AssetCheckSpec(
            ONE_KEY,
            asset="report_register",
            blocking=True,
            description="Every pseudonym in the register was made with the same key id.",
        ),
    ],
)
def report_register(context: AssetExecutionContext) -> MaterializeResult:
    """The current state of every report about a child, as of the extract month.

    For each (municipality, report id) the row from the latest extract up to the month wins: decisions
    that arrive in a later extract update the report. Reads every ``2_pseudonymised`` month up to the
    partition, writes ``3_register/as_of_month=YYYY-MM/register.parquet``.
    """
    results = {month: build_register(paths(), month) for month in months_of(context)}
    last = results[max(results)]
    dupes = sum(r["duplicate_keys"] for r in results.values())
    keys = max(r["key_ids"] for r in results.values())
    return MaterializeResult(
        metadata={"as_of_months": len(results), **{f"latest_{k}": v for k, v in last.items()}},
        check_results=[
            AssetCheckResult(
                check_name=ONE_ROW_PER_REPORT, passed=dupes == 0, metadata={"duplicates": dupes}
            ),
            AssetCheckResult(check_name=ONE_KEY, passed=keys <= 1, metadata={"key_ids": keys}),
        ],
    )
