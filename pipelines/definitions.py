"""The Dagster code location: every asset, check and job, in data-flow order."""

from __future__ import annotations

from dagster import AssetSelection, Definitions, define_asset_job

from pipelines.stage2_pseudonymise.assets import pseudonymised_reports
from pipelines.stage3_register.assets import report_register
from pipelines.stage4_statistics.assets import statistics_assets

all_assets = [pseudonymised_reports, report_register, *statistics_assets]

monthly_load = define_asset_job(
    "monthly_load",
    selection=AssetSelection.all(),
    description="Load the month's extracts and recompute the register and statistics as of that month.",
)

defs = Definitions(assets=all_assets, jobs=[monthly_load])
