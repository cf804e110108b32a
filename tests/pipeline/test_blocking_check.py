"""A failed reconciliation stops the register and statistics from being computed."""

from __future__ import annotations

import datetime as dt

from dagster import AssetCheckResult

from pipelines.core.settings import Paths
from pipelines.run import run_months
from pipelines.stage2_pseudonymise import assets as stage2_assets
from tests.extracts import child, dash12, write_semicolon


def test_failed_reconciliation_blocks_downstream(home: Paths, key, monkeypatch) -> None:
    write_semicolon(
        home.landing / "0180_2025-03.csv",
        [
            [
                "0180",
                "A1",
                dash12(child(dt.date(2015, 1, 1))),
                "2025-03-02",
                "POL",
                "V1",
                "inleds",
                "2025-03-04",
                "",
            ]
        ],
    )

    def broken(_home, _months):
        return AssetCheckResult(check_name=stage2_assets.RECONCILED, passed=False)

    monkeypatch.setattr(stage2_assets, "_reconcile", broken)
    outcome = run_months("2025-03")
    assert not outcome.success
    assert any("every_row_accounted_for" in m for m in outcome.errors)
    assert not (home.register / "extract_month=2025-03").exists()
    assert not home.statistics.exists()
