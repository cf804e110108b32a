"""The Dagster code location: every asset, check and job, in data-flow order."""

from __future__ import annotations

from dagster import AssetSelection, Definitions, build_schedule_from_partitioned_job, define_asset_job

from pipelines.core.settings import settings
from pipelines.operations.retention import purge_run_history, purge_schedule
from pipelines.operations.sensors import landing_sensor
from pipelines.stage1_landing.assets import retained_extracts
from pipelines.stage2_pseudonymise.assets import pseudonymised_reports
from pipelines.stage3_register.assets import report_register
from pipelines.stage4_statistics.assets import statistics_assets
from pipelines.stage5_protection.assets import protected_release
from pipelines.stage6_publishing.assets import (
    data_dictionary,
    published_report,
    published_workbook,
    research_database,
)

all_assets = [
    pseudonymised_reports,
    retained_extracts,
    report_register,
    *statistics_assets,
    protected_release,
    research_database,
    data_dictionary,
    published_workbook,
    published_report,
]
RELEASES = AssetSelection.groups("stage5_protection", "stage6_publishing")

monthly_load = define_asset_job(
    "monthly_load",
    selection=AssetSelection.all() - RELEASES,
    description="Load the month's extracts and recompute the register and statistics as of that month.",
)

monthly_release = define_asset_job(
    "monthly_release",
    selection=RELEASES,
    description="Protect the release as of an extract month (after its load), then build what is published "
    "from it: report, workbook, research database and data dictionary.",
)

_release = settings()["release"]
monthly_release_schedule = build_schedule_from_partitioned_job(
    monthly_release,
    name="monthly_release_schedule",
    description="Builds the release of the month that has just ended (turn on in the UI once loads run).",
    day_of_month=_release["schedule_day_of_month"],
    hour_of_day=_release["schedule_hour"],
)

defs = Definitions(
    assets=all_assets,
    jobs=[monthly_load, monthly_release, purge_run_history],
    schedules=[monthly_release_schedule, purge_schedule],
    sensors=[landing_sensor],
)
