"""Dagster asset for stage 2: the month's extracts, validated and pseudonymised."""

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    BackfillPolicy,
    MaterializeResult,
    asset,
)

from pipelines.core import db
from pipelines.core.atomic import remove_stale_temporaries
from pipelines.core.keys import key_file_warnings
from pipelines.core.partitions import monthly, months_of
from pipelines.core.settings import paths
from pipelines.stage2_pseudonymise.ingest import (
    LEDGER_FILE,
    MonthLoad,
    load_months,
    record_refused_names,
)
from pipelines.stage2_pseudonymise.key_check import check_keys

RECONCILED = "every_row_accounted_for"


@asset(
    partitions_def=monthly,
    backfill_policy=BackfillPolicy.single_run(),
    group_name="stage2_pseudonymise",
    kinds={"duckdb", "parquet"},
    check_specs=[
        AssetCheckSpec(
            RECONCILED,
            asset="pseudonymised_reports",
            blocking=True,
            description="For every loaded file: rows in = rows accepted + rows quarantined, counted "
            "from the written outputs. A failure stops everything downstream.",
        )
    ],
)
def pseudonymised_reports(context: AssetExecutionContext) -> MaterializeResult:
    """Every extract delivered for the month, validated; the personnummer replaced by a keyed pseudonym.

    Reads ``1_landing/<kommunkod>_<YYYY-MM>.*`` in any known dialect, validates each row against the
    extract contract, normalises the personnummer or samordningsnummer to 12 digits (century from the
    report date), derives age and legal sex, and replaces the number with HMAC-SHA256 under the secret
    key. Writes ``2_pseudonymised/extract_month=YYYY-MM/`` (reports, quarantine with reasons, ledger).
    Row-level data never enters Dagster: only counts are returned.
    """
    from pipelines.core.instance import KEY_ROTATION

    home = paths()
    # Both keys, and that the key is the loaded data's, before anything is written (a sensor's or the
    # UI's run has not passed the command line's check).
    key = check_keys(home, rotation=context.run.tags.get(KEY_ROTATION) == "true")
    for warning in key_file_warnings():  # a daemon's run has no terminal: say it in the run's log too
        context.log.warning(warning)
    removed = remove_stale_temporaries(home.data)
    if removed:
        context.log.warning(f"Removed {removed} temporary outputs left by an interrupted earlier run.")
    ignored = record_refused_names(home)  # masked, and kept in 2_pseudonymised/refused_names.parquet
    if ignored:
        context.log.warning(
            f"{len(ignored)} landing files are not named <kommunkod>_<YYYY-MM>.csv|.txt|.xlsx and were not "
            f"loaded (see 2_pseudonymised/refused_names.parquet): {', '.join(ignored[:10])}{' …' if len(ignored) > 10 else ''}"
        )
    loads = load_months(months_of(context), key, home)
    for load in loads:
        if not load.files:
            context.log.warning(f"{load.month}: no delivery found in the landing folder.")
        unchanged = " (unchanged since the last load: not redone)" if load.skipped_unchanged else ""
        context.log.info(
            f"{load.month}: {load.files_loaded} files loaded, {load.files_rejected} rejected, "
            f"{load.accepted} rows accepted, {load.quarantined} quarantined{unchanged}"
        )
    return MaterializeResult(
        metadata=_metadata(loads, key.key_id) | {"landing_files_not_recognised": len(ignored)},
        check_results=[_reconcile(home, [load.month for load in loads])],
    )


def _metadata(loads: list[MonthLoad], key_id: str) -> dict[str, object]:
    reasons: dict[str, int] = {}
    for load in loads:
        for reason, n in load.reasons.items():
            reasons[reason] = reasons.get(reason, 0) + n
    return {
        "months": len(loads),
        "months_unchanged": sum(load.skipped_unchanged for load in loads),
        "files_loaded": sum(load.files_loaded for load in loads),
        "files_rejected": sum(load.files_rejected for load in loads),
        "rows_in": sum(load.rows_in for load in loads),
        "rows_accepted": sum(load.accepted for load in loads),
        "rows_quarantined": sum(load.quarantined for load in loads),
        "key_id": key_id,
        "quarantine_reasons": ", ".join(f"{k}: {v}" for k, v in sorted(reasons.items())) or "none",
    }


def _reconcile(home, months: list[str]) -> AssetCheckResult:
    """Read the ledgers back: every loaded file's rows must be accepted or quarantined, none lost."""
    ledgers = [str(home.extract_month(m) / LEDGER_FILE) for m in months]
    bad, files, rows_in = db.one(
        f"""SELECT count(*) FILTER (WHERE status = 'inläst' AND rows_in <> accepted + quarantined),
                   count(*) FILTER (WHERE status = 'inläst'), coalesce(sum(rows_in), 0)
            FROM read_parquet({ledgers}, union_by_name = true)"""
    )
    return AssetCheckResult(
        check_name=RECONCILED,
        passed=bad == 0,
        severity=AssetCheckSeverity.ERROR,
        metadata={"files_checked": files, "files_not_reconciled": bad, "rows_in": int(rows_in)},
    )
