"""The whole flow through Dagster on generated extracts: checks pass, numbers add up, nothing leaks."""

from __future__ import annotations

import sqlite3

import pytest
from dagster import AssetKey, DagsterInstance

from pipelines.core import db
from pipelines.core.settings import Paths
from pipelines.demo.generator import generate_demo
from pipelines.run import run_months, run_release
from pipelines.stage2_pseudonymise.leak_scan import needles_from_landing, scan

SEED = 7


def _municipalities() -> list[str]:
    """The three big cities and three municipalities of each dialect, so every dialect occurs."""
    from pipelines.demo.population import assign_dialects

    dialect_of = assign_dialects(SEED)
    chosen = ["0180", "1480", "1280"]
    for dialect in sorted(set(dialect_of.values())):
        chosen += [c for c in sorted(dialect_of) if dialect_of[c] == dialect and c not in chosen][:3]
    return chosen


MUNICIPALITIES = _municipalities()


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> Paths:
    import os
    import secrets

    from pipelines.core.settings import paths

    root = tmp_path_factory.mktemp("e2e")
    saved = {
        k: os.environ.get(k) for k in ("OROSTAT_HOME", "DAGSTER_HOME", "OROSTAT_KEY", "OROSTAT_KEY_FILE")
    }
    os.environ.update(
        OROSTAT_HOME=str(root / "home"),
        DAGSTER_HOME=str(root / "home" / "dagster"),
        OROSTAT_KEY=secrets.token_hex(32),
    )
    os.environ.pop("OROSTAT_KEY_FILE", None)
    home = paths()
    generate_demo(home.landing, year=2025, seed=SEED, scale=0.05, municipality_codes=MUNICIPALITIES)
    outcome = run_months("2025-01", "2025-12")
    assert outcome.success, outcome.errors
    release = run_release("2025-12")  # the protected release is scanned for identifiers too
    assert release.success, release.errors
    yield home
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def test_every_dialect_loaded_and_every_row_accounted_for(demo_run: Paths) -> None:
    ledgers = db.table(
        f"SELECT * FROM read_parquet('{demo_run.pseudonymised}/extract_month=*/ledger.parquet')"
    ).to_pandas()
    delivered = [p for p in demo_run.landing.iterdir() if not p.name.startswith(".")]
    assert len(ledgers) == len(delivered) > 10 * len(MUNICIPALITIES)
    assert set(ledgers.dialect) == {"semikolon_utf8", "komma_cp1252", "xlsx_export"}
    loaded = ledgers[ledgers.status == "inläst"]
    assert (loaded.rows_in == loaded.accepted + loaded.quarantined).all()
    assert loaded.quarantined.sum() > 0  # the generator plants invalid rows; they must be caught


def test_checks_passed_and_all_partitions_materialised(demo_run: Paths) -> None:
    instance = DagsterInstance.get()
    for asset in ["pseudonymised_reports", "report_register", "statistics_reports"]:
        materialised = instance.get_materialized_partitions(AssetKey(asset))
        assert {f"2025-{m:02d}" for m in range(1, 13)} <= materialised, asset


def test_a_range_run_plans_each_asset_once_not_each_month(demo_run: Paths) -> None:
    """The twelve-month load records one "materialization planned" event per asset, carrying the range,
    and still one materialization per asset and month (the events are ≈ 10 ms each in SQLite)."""
    from dagster import DagsterEventType, RunsFilter

    instance = DagsterInstance.get()
    (load,) = instance.get_runs(filters=RunsFilter(job_name="monthly_load"))
    planned = instance.all_logs(load.run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION_PLANNED)
    materialised = instance.all_logs(load.run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION)
    assets = {event.dagster_event.asset_key for event in materialised}
    assert len(assets) >= 9  # stages 2 and 3, delivery monitoring, the six statistics
    assert len(planned) == len(assets)
    assert len(materialised) == 12 * len(assets)
    subset = planned[0].dagster_event.event_specific_data.partitions_subset
    assert set(subset.get_partition_keys()) == {f"2025-{m:02d}" for m in range(1, 13)}


def test_dagster_storage_is_where_dagster_yaml_and_the_readme_say(demo_run: Paths) -> None:
    """The documented layout under $DAGSTER_HOME: runs, one event database per run plus the index, and
    no IO-manager pickles (the assets write their own files and return metadata only)."""
    dagster_home = demo_run.home / "dagster"
    runs = sqlite3.connect(dagster_home / "history" / "runs.db")
    run_ids = [run_id for (run_id,) in runs.execute("SELECT run_id FROM runs")]
    runs.close()
    assert len(run_ids) >= 2  # the load and the release
    for run_id in run_ids:
        assert (dagster_home / "history" / "runs" / f"{run_id}.db").exists()
    assert (dagster_home / "history" / "runs" / "index.db").exists()
    pickles = [p for p in (dagster_home / "storage").rglob("*") if p.is_file()]
    assert pickles == []


def test_national_figures_add_up(demo_run: Paths) -> None:
    stats = f"{demo_run.statistics}/reports/as_of_month=2025-12/data.parquet"
    by_level = dict(
        db.rows(
            f"SELECT geo_level, sum(reports) FROM read_parquet('{stats}') WHERE period_type = 'month' GROUP BY ALL"
        )
    )
    assert by_level["riket"] == by_level["lan"] == by_level["kommun"] > 0
    from pipelines.stage3_register.register import as_of

    (reports,) = db.one(f"SELECT count(*) FROM {as_of(demo_run, '2025-12')}")
    assert reports == by_level["riket"]
    per_child = db.one(
        f"SELECT sum(reports_identified) / sum(distinct_children) FROM read_parquet('{stats}') WHERE geo_level='riket' AND period_type='year'"
    )[0]
    assert 1.0 < per_child < 3.0


def test_statistics_from_demo_data_say_they_are_synthetic(demo_run: Paths) -> None:
    import pyarrow.parquet as pq

    path = demo_run.statistics / "reports" / "as_of_month=2025-12" / "data.parquet"
    assert pq.ParquetFile(path).schema_arrow.metadata[b"data"].startswith(b"SYNTETISKA DEMODATA")


def test_late_decisions_reach_earlier_months(demo_run: Paths) -> None:
    def undecided(as_of: str) -> int:
        path = f"{demo_run.statistics}/reports/as_of_month={as_of}/data.parquet"
        return db.one(
            f"SELECT undecided FROM read_parquet('{path}') WHERE geo_level='riket' AND period='2025-05'"
        )[0]

    assert undecided("2025-06") < undecided("2025-05")


def test_no_identifier_survives_anywhere(demo_run: Paths) -> None:
    needles = needles_from_landing(demo_run.landing)
    assert len(needles) > 1000  # the scan is only meaningful with real needles
    findings = scan(demo_run.home, needles, exclude=[demo_run.landing, demo_run.secrets])
    assert findings == []
    scanned = [p for p in demo_run.home.rglob("*") if p.is_file() and not p.is_relative_to(demo_run.landing)]
    assert any(p.suffix == ".db" for p in scanned)  # Dagster's SQLite run storage was scanned too
    assert any(p.name == "manifest.json" for p in scanned)  # and the release
    published = {p.suffix for p in scanned if p.is_relative_to(demo_run.published)}
    assert {".xlsx", ".duckdb", ".html", ".parquet"} <= published  # and what is published from it
    report = demo_run.published.rglob("rapport/**/*.html")
    assert any("<svg" in p.read_text("utf-8") for p in report)  # the charts, inline in the pages
