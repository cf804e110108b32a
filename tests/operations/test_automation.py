"""Automation as the daemon sees it: the landing sensor's requests, cursor and registration; run retention."""

from __future__ import annotations

import datetime as dt
import json
import os
import re

from dagster import (
    DagsterInstance,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    SkipReason,
    build_sensor_context,
    job,
    op,
)
from dagster._core.storage.runs.schema import RunsTable
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.core.settings import Paths
from pipelines.core.settings import settings as orostat_settings
from pipelines.definitions import defs
from pipelines.operations.retention import purge_run_history
from pipelines.operations.sensors import landing_sensor, requests_for
from tests.extracts import child, dash12, write_semicolon

RANGE_START, RANGE_END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"


def _row(month: str, report: str = "R1", municipality: str = "0180", number: int = 31) -> list[str]:
    pnr = dash12(child(dt.date(2015, 1, 1), number))
    return [municipality, report, pnr, f"{month}-02", "POL", "V1", "inleds", f"{month}-04", ""]


def _tick(cursor: str | None = None, instance: DagsterInstance | None = None):
    if instance is not None:
        return landing_sensor(build_sensor_context(instance=instance, cursor=cursor))
    with DagsterInstance.ephemeral() as ephemeral:
        return landing_sensor(build_sensor_context(instance=ephemeral, cursor=cursor))


def test_two_files_of_one_month_make_one_request_whose_key_follows_the_content(home: Paths) -> None:
    write_semicolon(home.landing / "0180_2025-03.csv", [_row("2025-03")])
    other = write_semicolon(home.landing / "0114_2025-03.csv", [_row("2025-03", municipality="0114")])
    first = _tick()
    assert [(r.partition_key, RANGE_START in r.tags) for r in first.run_requests] == [("2025-03", False)]
    # A lost cursor asks again with the same run key, which Dagster runs at most once per sensor.
    assert _tick().run_requests[0].run_key == first.run_requests[0].run_key
    os.utime(other, (1_900_000_000, 1_900_000_000))
    assert isinstance(_tick(first.cursor), SkipReason)
    write_semicolon(other, [_row("2025-03", municipality="0114", report="R2")])
    changed = _tick(first.cursor)
    assert [r.partition_key for r in changed.run_requests] == ["2025-03"]
    assert changed.run_requests[0].run_key != first.run_requests[0].run_key


def test_a_name_carrying_a_personnummer_after_its_month_is_refused_and_kept_out_of_the_cursor(
    home: Paths, capfd
) -> None:
    numbers = [child(dt.date(2016, 4, 4), 77), child(dt.date(2017, 5, 5), 88)]
    for i, n in enumerate(numbers):
        write_semicolon(home.landing / f"0180_2025-03_{n}.csv", [_row("2025-03", report=f"R{i}")])
    write_semicolon(home.landing / "0114_2025-03.csv", [_row("2025-03", municipality="0114")])
    first = _tick()
    assert [r.partition_key for r in first.run_requests] == ["2025-03"]
    assert list(json.loads(first.cursor)) == ["0114_2025-03.csv"]
    stored = first.cursor + "".join(r.run_key for r in first.run_requests) + capfd.readouterr().err
    assert "2 landing files" in stored and stored.count("0180_2025-03_XXXXXX-XXXX.csv") == 2
    assert not any(n in stored or n[2:] in stored for n in numbers)


def test_badly_named_files_request_nothing_and_are_logged_without_their_number(home: Paths, capfd) -> None:
    number = child(dt.date(2016, 4, 4), 77)
    for name in (f"{number}.csv", f"kommun_{dash12(number)}.csv", f"{number[2:]}_2025-03.csv"):
        (home.landing / name).write_text("x", encoding="utf-8")
    assert isinstance(_tick(), SkipReason)
    logged = capfd.readouterr().err
    (listed,) = [
        line.split("cannot be loaded:")[1] for line in logged.splitlines() if "cannot be loaded" in line
    ]
    assert "3 landing files" in logged and listed.count("XXXXXX-XXXX") == 3
    assert not re.search(r"\d", listed.replace("2025-03", ""))


MONTHS = [f"2025-{m:02d}" for m in range(1, 13)]
SHAS = st.sampled_from(["a" * 64, "b" * 64, "c" * 64])
STATES = st.dictionaries(st.sampled_from([f"0180_{m}.csv" for m in MONTHS]), SHAS, max_size=6).map(
    lambda files: {name: (name[5:12], sha) for name, sha in files.items()}
)


@settings(max_examples=200, deadline=None)
@given(state=STATES, cursor=st.dictionaries(st.sampled_from([f"0180_{m}.csv" for m in MONTHS]), SHAS))
def test_one_request_over_exactly_the_changed_months(
    state: dict[str, tuple[str, str]], cursor: dict[str, str]
) -> None:
    changed = sorted({month for name, (month, sha) in state.items() if cursor.get(name) != sha})
    requests = requests_for(state, cursor)
    assert len(requests) == (1 if changed else 0)
    if not changed:
        return
    (request,) = requests
    span = (
        (request.partition_key,) * 2
        if request.partition_key
        else (request.tags[RANGE_START], request.tags[RANGE_END])
    )
    assert span == (changed[0], changed[-1])
    assert requests_for(dict(reversed(state.items())), cursor)[0].run_key == request.run_key
    name = next(n for n, (month, _) in state.items() if month == changed[0])
    edited = {**state, name: (changed[0], "d" * 64)}
    assert requests_for(edited, cursor)[0].run_key != request.run_key


def test_sensor_and_schedules_are_registered_and_off_until_turned_on(home: Paths) -> None:
    sensor = defs.resolve_sensor_def("landing_sensor")
    assert sensor.default_status == DefaultSensorStatus.STOPPED
    assert sensor.job_name == "monthly_load"
    interval = orostat_settings()["operations"]["landing_sensor_interval_seconds"]
    assert sensor.minimum_interval_seconds == interval
    purge = defs.resolve_schedule_def("purge_schedule")
    assert (purge.job_name, purge.default_status) == ("purge_run_history", DefaultScheduleStatus.STOPPED)
    assert defs.resolve_job_def("purge_run_history") is not None
    write_semicolon(home.landing / "0180_2025-03.csv", [_row("2025-03")])
    with DagsterInstance.ephemeral() as instance:
        context = build_sensor_context(instance=instance, definitions=defs, sensor_name="landing_sensor")
        tick = sensor.evaluate_tick(context)
    assert [r.tags["dagster/sensor_name"] for r in tick.run_requests] == ["landing_sensor"]


def test_a_requested_range_loads_in_one_run_and_a_correction_reloads_up_to_the_latest(
    home: Paths, key, tmp_path
) -> None:
    for month in ("2025-03", "2025-04"):
        write_semicolon(home.landing / f"0180_{month}.csv", [_row(month, report=f"R{month}")])
    (tmp_path / "instance").mkdir()
    with DagsterInstance.local_temp(str(tmp_path / "instance")) as instance:
        first = _tick(instance=instance)
        (request,) = first.run_requests
        load = defs.resolve_job_def("monthly_load")
        result = load.execute_in_process(instance=instance, tags=request.tags, raise_on_error=False)
        assert result.success
        assert (home.statistics / "reports" / "as_of_month=2025-04" / "data.parquet").exists()
        assert isinstance(_tick(first.cursor, instance), SkipReason)
        write_semicolon(home.landing / "0180_2025-03_rattad.csv", [_row("2025-03", report="R2")])
        (again,) = _tick(first.cursor, instance).run_requests
    assert (again.tags[RANGE_START], again.tags[RANGE_END]) == ("2025-03", "2025-04")


@op
def _noop() -> None:
    pass


@job
def _small() -> None:
    _noop()


def test_retention_deletes_runs_older_than_the_setting_and_keeps_recent_ones() -> None:
    days = int(orostat_settings()["operations"]["run_retention_days"])
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    with DagsterInstance.ephemeral() as instance:
        ages = {
            _small.execute_in_process(instance=instance).run_id: age
            for age in (days + 30, days + 1, days - 1, 0)
        }
        with instance.run_storage.connect() as conn:
            for run_id, age in ages.items():
                stamp = now - dt.timedelta(days=age)
                conn.execute(
                    RunsTable.update().where(RunsTable.c.run_id == run_id).values(create_timestamp=stamp)
                )
        purge = purge_run_history.execute_in_process(instance=instance)
        assert purge.output_for_node("purge_old_runs") == 2
        kept = {r.run_id for r in instance.get_runs()}
        assert kept == {run_id for run_id, age in ages.items() if age < days} | {purge.run_id}
        old = [run_id for run_id, age in ages.items() if age > days]
        assert all(not instance.all_logs(run_id) for run_id in old)


def test_the_sensor_waits_while_a_command_line_load_holds_the_lock(home: Paths) -> None:
    from pipelines.core.instance import load_lock

    write_semicolon(home.landing / "0180_2025-03.csv", [_row("2025-03")])
    with load_lock() as locked:
        assert locked
        waiting = _tick()
        assert isinstance(waiting, SkipReason) and "command line" in waiting.skip_message
    assert len(_tick().run_requests) == 1  # lock released: the same files are requested


def test_a_command_line_load_refuses_while_a_daemon_run_is_active(home: Paths, key) -> None:
    from dagster import DagsterRunStatus
    from dagster._core.storage.dagster_run import DagsterRun
    from dagster._core.utils import make_new_run_id

    from pipelines.core.instance import STARTED_BY, ensure_instance
    from pipelines.run import run_months

    write_semicolon(home.landing / "0180_2025-03.csv", [_row("2025-03")])
    instance = ensure_instance()
    daemon = DagsterRun(job_name="monthly_load", run_id=make_new_run_id(), status=DagsterRunStatus.STARTED)
    instance.add_run(daemon)
    # a command-line run killed mid-way also stays "started": it must not block the next load
    killed = DagsterRun(
        job_name="monthly_load",
        run_id=make_new_run_id(),
        status=DagsterRunStatus.STARTED,
        tags={STARTED_BY: "command line"},
    )
    instance.add_run(killed)
    refused = run_months("2025-03")
    assert not refused.success and daemon.run_id in refused.errors[0] and "is running" in refused.errors[0]
    assert not (home.statistics / "reports").exists()
    instance.delete_run(daemon.run_id)
    assert run_months("2025-03").success


def test_the_sensor_hashes_a_file_again_only_when_it_may_have_changed(home: Paths, monkeypatch) -> None:
    from pipelines.operations import sensors

    path = home.landing / "0180_2025-03.csv"
    write_semicolon(path, [_row("2025-03", report="R1")])
    first = _tick()
    hashed: list[str] = []
    real = sensors.sha256_of
    monkeypatch.setattr(sensors, "sha256_of", lambda p: hashed.append(p.name) or real(p))
    assert isinstance(_tick(first.cursor), SkipReason) and hashed == []
    # same size, modification time put back: the change time still gives the edit away
    before = path.stat()
    path.write_bytes(path.read_bytes().replace(b"R1", b"R2"))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert path.stat().st_size == before.st_size
    again = _tick(first.cursor)
    assert hashed == ["0180_2025-03.csv"] and len(again.run_requests) == 1
    # a damaged cache costs only a rehash
    (home.home / ".orostat-landing-hashes.json").write_text("{not json")
    assert isinstance(_tick(again.cursor), SkipReason) and hashed == ["0180_2025-03.csv"] * 2
