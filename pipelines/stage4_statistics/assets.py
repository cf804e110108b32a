"""Dagster assets for stage 4: one asset per statistic in ``schemas/statistics.yaml``, computed together.

They share one step because they share their expensive input: the register as of every month in the
run, built once in memory and aggregated by one query per statistic.
"""

from collections.abc import Iterator

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetSpec,
    BackfillPolicy,
    MaterializeResult,
    asset,
    multi_asset,
)

from pipelines.core.partitions import monthly, months_of
from pipelines.core.schemas import statistics_spec
from pipelines.core.settings import paths
from pipelines.stage4_statistics.compute import build_statistics
from pipelines.stage4_statistics.deliveries import build_deliveries
from pipelines.stage4_statistics.sql import table_names


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
    built = build_statistics(paths(), months_of(context), wanted)
    # Which carried states the run continued from (none: every year computed from the register).
    continued = ", ".join(built.continued_from) or "none"
    for name in wanted:
        yield MaterializeResult(
            asset_key=f"statistics_{name}",
            metadata={
                "as_of_months": len(months_of(context)),
                "rows": built.rows[name],
                "continued_from_state_as_of": continued,
            },
        )


EVERY_MUNICIPALITY = "every_municipality_delivered"


@asset(
    partitions_def=monthly,
    backfill_policy=BackfillPolicy.single_run(),
    deps=["report_register"],
    group_name="stage4_statistics",
    kinds={"duckdb", "parquet"},
    check_specs=[
        AssetCheckSpec(
            EVERY_MUNICIPALITY,
            asset="delivery_monitoring",
            blocking=False,
            description="Warns, per extract month, which of the 290 municipalities delivered no file that "
            "loaded (their reports are missing from every statistic of that month).",
        )
    ],
)
def delivery_monitoring(context: AssetExecutionContext) -> MaterializeResult:
    """Deliveries and data quality per extract month and municipality, for all 290 municipalities:
    delivered or not, files loaded/rejected/superseded, rows accepted and quarantined (and by reason),
    reports still undecided more than 14 days after arrival, decisions that arrived late. Internal,
    operational. Written to 4_statistics/deliveries/ and 4_statistics/deliveries_by_reason/ per as-of month;
    columns in schemas/deliveries.yaml.
    """
    monitored = build_deliveries(paths(), months_of(context))
    gaps = {month: codes for month, codes in monitored.missing.items() if codes}
    return MaterializeResult(
        metadata={
            "extract_months": len(monitored.missing),
            "months_with_missing_municipalities": len(gaps),
            # The carried state of undecided reports the run continued from ("none": the whole register).
            "continued_from_state_as_of": monitored.continued_from or "none",
        },
        check_results=[
            AssetCheckResult(
                check_name=EVERY_MUNICIPALITY,
                passed=not gaps,
                severity=AssetCheckSeverity.WARN,
                # municipality codes are public reference data; the list is capped to stay readable
                metadata={
                    month: ", ".join(codes[:60]) + (" …" if len(codes) > 60 else "")
                    for month, codes in gaps.items()
                },
            )
        ],
    )


statistics_assets = [statistics, delivery_monitoring]
