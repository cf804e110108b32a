"""Dagster asset for stage 5: the protected release of an as-of month, with its LP audit as a blocking check."""

from dagster import (
    AssetCheckResult,
    AssetCheckSpec,
    AssetExecutionContext,
    MaterializeResult,
    asset,
)

from pipelines.core.atomic import remove_stale_temporaries
from pipelines.core.partitions import monthly
from pipelines.core.settings import paths
from pipelines.stage4_statistics.sql import table_names

AUDIT_PASSES = "audit_passes"


@asset(
    partitions_def=monthly,
    deps=[f"statistics_{name}" for name in table_names()],
    group_name="stage5_protection",
    kinds={"parquet"},
    check_specs=[
        AssetCheckSpec(
            AUDIT_PASSES,
            asset="protected_release",
            blocking=True,
            description="Nothing the release and every earlier one publish bounds any count tighter than "
            "the protection margin (cell-key method: the certificate; suppression: an LP attack on this "
            "release and the previous one).",
        )
    ],
)
def protected_release(context: AssetExecutionContext) -> MaterializeResult:
    """The release as of the extract month: the tables of schemas/release.yaml, protected by the method of
    its rules: cell-key perturbation (default; every count with noise from the published ptable, values
    1–4 hidden, audited against every earlier release) or primary and secondary suppression (audited
    against the previous release). Parquet (null + status where hidden) and CSV with Kolada's symbols,
    rates, the audit and a manifest, in 5_protected/release=YYYY-MM/. Build releases in month order.
    """
    # Imported here: disclosure control (numpy, scipy, pandas) is not needed to load the definitions.
    from pipelines.stage5_protection.release import build_release

    home = paths()
    # A release killed mid-way leaves its own and publishing's temporaries (5_protected/.tmp-release=…,
    # 6_published/release=…/.tmp-rapport-…); the next release clears them itself, not the next load.
    # This is the release job's first step and releases run one at a time (the installation's lock, the
    # daemon's queue), so nothing it removes can belong to a write in progress.
    removed = remove_stale_temporaries(home.protected) + remove_stale_temporaries(home.published)
    if removed:
        context.log.warning(f"Removed {removed} temporary outputs left by an interrupted earlier release.")
    outcome = build_release(home, context.partition_key)
    hidden = sum(t["suppressed_total"] for t in outcome.tables.values())
    cells = sum(t["cells"] for t in outcome.tables.values())
    return MaterializeResult(
        metadata={
            "previous_release": outcome.previous or "none",
            "stale_temporaries_removed": removed,
            "cells": cells,
            "suppressed": hidden,
            "suppressed_primary": sum(t["suppressed_primary"] for t in outcome.tables.values()),
            "seconds": round(outcome.seconds["total"], 2),
        },
        check_results=[
            AssetCheckResult(
                check_name=AUDIT_PASSES,
                passed=outcome.passes,
                metadata={k: v for k, v in outcome.audit.items() if v is not None},
            )
        ],
    )
