"""The code location loads, and its graph is the documented flow with blocking checks."""

from __future__ import annotations

from dagster import AssetKey

from pipelines.core.schemas import statistics_spec
from pipelines.definitions import defs


def test_asset_graph_follows_the_data_flow() -> None:
    graph = defs.resolve_asset_graph()
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    statistics = {f"statistics_{t}" for t in statistics_spec()["tables"]}
    assert keys >= {"pseudonymised_reports", "report_register", "protected_release"} | statistics
    assert graph.get(AssetKey("report_register")).parent_keys == {AssetKey("pseudonymised_reports")}
    for table in statistics_spec()["tables"]:
        assert graph.get(AssetKey(f"statistics_{table}")).parent_keys == {AssetKey("report_register")}
    assert graph.get(AssetKey("protected_release")).parent_keys == {AssetKey(k) for k in statistics}


def test_the_load_job_never_builds_a_release() -> None:
    load = {k.to_user_string() for k in defs.resolve_job_def("monthly_load").asset_layer.selected_asset_keys}
    release = {
        k.to_user_string() for k in defs.resolve_job_def("monthly_release").asset_layer.selected_asset_keys
    }
    published = {"research_database", "data_dictionary", "published_workbook", "published_report"}
    assert not load & ({"protected_release"} | published)
    assert release == {"protected_release"} | published


def test_everything_published_reads_only_the_protected_release() -> None:
    graph = defs.resolve_asset_graph()
    for name in ("research_database", "data_dictionary", "published_workbook", "published_report"):
        parents = {k.to_user_string() for k in graph.get(AssetKey(name)).parent_keys}
        assert parents == {"protected_release"}, name


def test_every_asset_is_monthly_and_checks_block() -> None:
    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        partitions = graph.get(key).partitions_def
        assert partitions is not None and partitions.get_first_partition_key() == "2016-01"
    specs = [spec for a in defs.assets for spec in a.check_specs]
    blocking = {"every_row_accounted_for", "one_row_per_report", "one_pseudonym_key", "audit_passes"}
    assert {s.name for s in specs} >= blocking
    assert all(s.blocking for s in specs if s.name in blocking)


def test_the_release_schedule_builds_the_month_that_has_just_ended() -> None:
    import datetime as dt

    from dagster import DagsterInstance, build_schedule_context

    schedule = defs.resolve_schedule_def("monthly_release_schedule")
    assert schedule.job_name == "monthly_release" and schedule.cron_schedule == "0 6 20 * *"
    when = dt.datetime(2026, 4, 20, 6, 0, tzinfo=dt.UTC)
    with DagsterInstance.ephemeral() as instance:
        requests = schedule.evaluate_tick(build_schedule_context(instance, scheduled_execution_time=when))
    assert [r.partition_key for r in requests.run_requests] == ["2026-03"]
