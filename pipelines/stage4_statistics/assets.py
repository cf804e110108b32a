"""Dagster assets for stage 4: one asset per statistic in ``schemas/statistics.yaml``."""

from dagster import (
    AssetChecksDefinition,
    AssetExecutionContext,
    AssetsDefinition,
    BackfillPolicy,
    MaterializeResult,
    asset,
)

from pipelines.core.partitions import monthly, months_of
from pipelines.core.schemas import statistics_spec
from pipelines.core.settings import paths
from pipelines.stage4_statistics.compute import build_statistic, table_names


def statistic_asset(name: str) -> AssetsDefinition:
    spec = statistics_spec()["tables"][name]

    @asset(
        name=f"statistics_{name}",
        partitions_def=monthly,
        backfill_policy=BackfillPolicy.single_run(),
        deps=["report_register"],
        group_name="stage4_statistics",
        kinds={"duckdb", "parquet"},
        description=f"{spec['title_en']} ({spec['title_sv']}). Internal, not disclosure-controlled. "
        f"Defined in schemas/statistics.yaml; written to 4_statistics/{name}/as_of_month=YYYY-MM/.",
    )
    def _statistic(context: AssetExecutionContext) -> MaterializeResult:
        rows = {month: build_statistic(paths(), name, month)["rows"] for month in months_of(context)}
        return MaterializeResult(metadata={"as_of_months": len(rows), "rows_latest": rows[max(rows)]})

    return _statistic


statistics_assets: list[AssetsDefinition] = [statistic_asset(name) for name in table_names()]
statistics_checks: list[AssetChecksDefinition] = []
