"""Dagster asset for stage 3: the report register, one partition of entries per extract month."""

from dagster import (
    AssetCheckResult,
    AssetCheckSpec,
    AssetExecutionContext,
    BackfillPolicy,
    MaterializeResult,
    asset,
)

from pipelines.core import db
from pipelines.core.partitions import monthly, months_of
from pipelines.core.settings import Paths, paths
from pipelines.stage3_register.register import REGISTER_FILE, build_months, register_health

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
            description="Each (municipality_code, report_id) has at most one entry per extract month, so "
            "the state as of any month is one row per report.",
        ),
        AssetCheckSpec(
            ONE_KEY,
            asset="report_register",
            blocking=True,
            description="Every pseudonym in the register was made with the same key id: no statistic "
            "mixes pseudonyms made with different keys.",
        ),
    ],
)
def report_register(context: AssetExecutionContext) -> MaterializeResult:
    """The register of reports: every state each report has had, stamped with the extract it came from.

    Partition M writes ``3_register/extract_month=M/register.parquet``: extract M's rows with the derived
    columns every statistic uses (month received, age band, reporter group, cause groups, days to
    decision). The state as of month M is each report's latest entry up to M, so a decision that arrives
    in a later extract updates the report.
    """
    home = paths()
    months = months_of(context)
    written = build_months(home, months)
    latest = register_health(home, max(months), only_latest_extract=True)
    # Duplicates in the partitions this run wrote (the others were checked when they were written).
    duplicates = sum(counts["duplicate_keys"] for counts in written.values())
    keys = _key_ids(home, max(months))
    return MaterializeResult(
        metadata={
            "extract_months": len(months),
            "entries_written": sum(counts["entries"] for counts in written.values()),
            "reports_in_latest_extract": latest["reports"],
            "undecided_in_latest_extract": latest["undecided"],
        },
        check_results=[
            AssetCheckResult(
                check_name=ONE_ROW_PER_REPORT, passed=duplicates == 0, metadata={"duplicates": duplicates}
            ),
            AssetCheckResult(check_name=ONE_KEY, passed=keys <= 1, metadata={"key_ids": keys}),
        ],
    )


def _key_ids(home: Paths, up_to: str) -> int:
    """Key ids over the whole register (one dictionary-encoded column: cheap even for ten years)."""
    glob = home.register / "extract_month=*" / REGISTER_FILE
    sql = f"SELECT count(DISTINCT key_id) FROM read_parquet('{glob}') WHERE valid_from <= '{up_to}'"
    return db.one(sql)[0]
