"""The event log dagster.yaml configures: Dagster's SQLite event log with its engines reused."""

import shutil
from pathlib import Path

import pytest
from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetSpec,
    BackfillPolicy,
    DagsterEventType,
    DagsterInstance,
    MaterializeResult,
    StaticPartitionsDefinition,
    materialize,
    multi_asset,
)
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage

from pipelines.core import event_log
from pipelines.core.event_log import ReusedEngineSqliteEventLogStorage
from pipelines.core.settings import PROJECT_ROOT

MONTHS = StaticPartitionsDefinition([f"2025-{m:02d}" for m in range(1, 7)])


@multi_asset(
    specs=[AssetSpec("counts_a"), AssetSpec("counts_b")],
    partitions_def=MONTHS,
    backfill_policy=BackfillPolicy.single_run(),
)
def counts(context: AssetExecutionContext):  # no `from __future__ import annotations`: Dagster reads the hint
    for key in context.selected_asset_keys:
        yield MaterializeResult(asset_key=key, metadata={"rows": 3})


@pytest.fixture
def dagster_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "dagster"
    home.mkdir()
    shutil.copyfile(PROJECT_ROOT / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return home


def _materializations(instance: DagsterInstance, run_id: str | None = None) -> list:
    """Materializations as asset queries read them (from the index database)."""
    records = []
    for name in ("counts_a", "counts_b"):
        records += instance.fetch_materializations(AssetKey(name), limit=100).records
    return [r for r in records if run_id is None or r.run_id == run_id]


def _run(instance: DagsterInstance, first: str, last: str) -> str:
    tags = {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last}
    result = materialize([counts], instance=instance, tags=tags)
    assert result.success
    return result.run_id


def test_the_event_log_is_the_reusing_class_where_dagster_keeps_it(dagster_home: Path) -> None:
    instance = DagsterInstance.get()
    storage = instance.event_log_storage
    assert type(storage) is ReusedEngineSqliteEventLogStorage
    assert Path(storage._base_dir) == dagster_home / "history" / "runs"
    run_id = _run(instance, "2025-01", "2025-06")
    assert (dagster_home / "history" / "runs" / f"{run_id}.db").exists()
    assert (dagster_home / "history" / "runs" / "index.db").exists()
    # The writes went through the kept engines (an upgrade renaming Dagster's `_connect` fails here).
    assert {"index", run_id} <= set(storage._engines)
    # Every month of both assets, in the index (asset queries) and in the run's own database.
    assert len(_materializations(instance, run_id)) == 12
    in_run = instance.all_logs(run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION)
    assert sorted((e.dagster_event.asset_key.path[-1], e.dagster_event.partition) for e in in_run) == sorted(
        (name, m) for name in ("counts_a", "counts_b") for m in MONTHS.get_partition_keys()
    )


def test_dagsters_own_class_reads_what_it_wrote(dagster_home: Path) -> None:
    """Same files and schema: removing the section from dagster.yaml loses no history."""
    run_id = _run(DagsterInstance.get(), "2025-01", "2025-03")
    (dagster_home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n", encoding="utf-8")
    plain = DagsterInstance.get()
    assert type(plain.event_log_storage) is SqliteEventLogStorage
    assert len(_materializations(plain, run_id)) == 6
    again = _run(plain, "2025-04", "2025-06")
    assert len(_materializations(plain)) == 12 and len(_materializations(plain, again)) == 6


def test_engines_kept_are_bounded_and_older_runs_still_read(
    dagster_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(event_log, "ENGINES_KEPT", 2)
    instance = DagsterInstance.get()
    runs = [_run(instance, m, m) for m in MONTHS.get_partition_keys()[:4]]
    storage = instance.event_log_storage
    assert len(storage._engines) <= 2
    for run_id in runs:  # the first runs' engines were dropped; their databases open again
        assert len(instance.all_logs(run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION)) == 2
    assert len(storage._engines) <= 2


def test_without_dagster_home_the_error_says_what_to_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    with pytest.raises(ValueError, match=r"set DAGSTER_HOME .* or give event_log_storage.config.base_dir"):
        ReusedEngineSqliteEventLogStorage.from_config_value(None, {})
    storage = ReusedEngineSqliteEventLogStorage.from_config_value(
        None, {"base_dir": str(tmp_path / "events")}
    )
    assert Path(storage._base_dir) == tmp_path / "events" and (tmp_path / "events" / "index.db").exists()
