"""Dagster assets for stage 4: one asset per statistic in ``schemas/statistics.yaml``, computed together.

They share one step because they share their expensive input: the register as of every month in the
run, built once in memory and aggregated by one query per statistic.
"""

from collections.abc import Iterator

from dagster import (
    AssetExecutionContext,
    AssetSpec,
    BackfillPolicy,
    MaterializeResult,
    multi_asset,
)

from pipelines.core.partitions import monthly, months_of
from pipelines.core.schemas import statistics_spec
from pipelines.core.settings import paths
from pipelines.stage4_statistics.compute import build_statistics, table_names


def _spec(name: str) -> AssetSpec:
    table = statistics_spec()["tables"][name]
    return AssetSpec(
        f"statistics_{name}",
        deps=["report_register"],
        group_name="stage4_statistics",
        kinds={"duckdb", "parquet"},
        description=f"{table['title_en']} ({table['title_sv']}). Internal, not disclosure-controlled. "
        f"Defined in schemas/statistics.yaml; written to 4_statistics/{name}/as_of_month=YYYY-MM/.",
    )


@multi_asset(
    specs=[_spec(name) for name in table_names()],
    partitions_def=monthly,
    backfill_policy=BackfillPolicy.single_run(),
    can_subset=True,
    name="statistics",
)
def statistics(context: AssetExecutionContext) -> Iterator[MaterializeResult]:
    """Every statistic as of each extract month in the run, by month and year of arrival × riket/län/kommun."""
    wanted = [key.path[-1].removeprefix("statistics_") for key in context.selected_asset_keys]
    rows = build_statistics(paths(), months_of(context), wanted)
    for name in wanted:
        yield MaterializeResult(
            asset_key=f"statistics_{name}",
            metadata={"as_of_months": len(months_of(context)), "rows": rows[name]},
        )


statistics_assets = [statistics]
