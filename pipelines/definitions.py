"""The Dagster code location: every asset, check and job, in data-flow order."""

from __future__ import annotations

from dagster import AssetSelection, Definitions, define_asset_job

from pipelines.stage2_pseudonymise.assets import pseudonymised_reports
from pipelines.stage3_register.assets import report_register
from pipelines.stage4_statistics.assets import statistics_assets
from pipelines.stage5_protection.assets import protected_release

all_assets = [pseudonymised_reports, report_register, *statistics_assets, protected_release]
RELEASES = AssetSelection.groups("stage5_protection")

monthly_load = define_asset_job(
    "monthly_load",
    selection=AssetSelection.all() - RELEASES,
    description="Load the month's extracts and recompute the register and statistics as of that month.",
)

monthly_release = define_asset_job(
    "monthly_release",
    selection=RELEASES,
    description="Protect and publish the release as of an extract month (after its load).",
)

defs = Definitions(assets=all_assets, jobs=[monthly_load, monthly_release])
