"""Dagster asset for stage 1's retained extracts: loaded files kept encrypted, their plaintext removed."""

from dagster import AssetExecutionContext, BackfillPolicy, MaterializeResult, asset

from pipelines.core.partitions import monthly, months_of
from pipelines.core.settings import paths, settings
from pipelines.stage1_landing.archive import archive_key_or_none, retain_month


@asset(
    partitions_def=monthly,
    backfill_policy=BackfillPolicy.single_run(),
    # Downstream of the load, so it runs only once the load has finished and its blocking
    # reconciliation check has passed: a file is archived only when its rows are accounted for.
    deps=["pseudonymised_reports"],
    group_name="stage1_landing",
    kinds={"python"},
)
def retained_extracts(context: AssetExecutionContext) -> MaterializeResult:
    """The month's loaded extracts, kept encrypted (AES-256-GCM, separate archive key) in ``1_archive/``.

    Each landing file the month's ledger lists with the same SHA-256 is encrypted, written atomically,
    decrypted again and checked, and only then is its plaintext deleted from ``1_landing/``. Reloads
    and key rotations decrypt the archived files in memory. Without an archive key configured the
    plaintext stays where it is, as before, and the run says so.
    """
    key = archive_key_or_none()
    if key is None:
        config = settings()["archive"]
        context.log.warning(
            f"No archive key ({config['key_env']} / {config['key_file_env']}): loaded extracts stay in "
            "plaintext in the landing folder. Configure an archive key to keep them encrypted instead."
        )
        return MaterializeResult(metadata={"archive_key_configured": False, "files_archived": 0})
    home = paths()
    results = [retain_month(home, month, key) for month in months_of(context)]
    archived = sum(r.archived for r in results)
    waiting = sum(r.kept_plaintext for r in results)
    context.log.info(
        f"{archived} loaded extracts archived encrypted; {waiting} not loaded yet, left in place."
    )
    return MaterializeResult(
        metadata={
            "archive_key_configured": True,
            "archive_key_id": key.key_id,
            "files_archived": archived,
            "files_left_in_landing": waiting,
        }
    )
