"""Run the monthly load through Dagster without the UI, against the persistent instance."""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from dagster import AssetCheckSeverity, DagsterEventType, DagsterInstance

from pipelines.core.partitions import months_between
from pipelines.core.settings import PROJECT_ROOT, paths

# Dagster behaviour set by environment variables in every process that creates runs (this one; for the
# webserver and daemon, the Makefile's `dev` target and the README's deployment notes set the same).
# A run over a range of partitions records one "materialization planned" event per asset instead of one
# per asset and month: 10 events instead of 1,200 before a 10-year backfill's first step (≈ 8 s of
# SQLite writes on one core). Dagster's price, documented by it: partitions of a failed range run are not
# marked failed (they show as missing); orostat's own ledger and `orostat status` do not use that mark.
DAGSTER_ENVIRONMENT = {"DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS": "true"}


def ensure_instance() -> DagsterInstance:
    """The instance under ``$DAGSTER_HOME`` (default ``$OROSTAT_HOME/dagster``), configured by dagster.yaml."""
    home = os.environ.get("DAGSTER_HOME") or str(paths().dagster_home)
    os.environ["DAGSTER_HOME"] = home
    for name, value in DAGSTER_ENVIRONMENT.items():
        os.environ.setdefault(name, value)
    os.makedirs(home, exist_ok=True)
    config = os.path.join(home, "dagster.yaml")
    if not os.path.exists(config):
        shutil.copyfile(PROJECT_ROOT / "dagster.yaml", config)
    return DagsterInstance.get()


@dataclass
class RunOutcome:
    run_id: str
    success: bool
    errors: list[str]
    step_seconds: dict[str, float]
    warnings: list[str] = field(default_factory=list)


def run_months(first: str, last: str | None = None, rotation: bool = False) -> RunOutcome:
    """One Dagster run over the extract months first..last (a single-run backfill). ``rotation``: the
    run rebuilds with a new key (``orostat rotate-key``), so a key id differing from the loaded ones is
    expected rather than refused."""
    last = last or first
    months_between(first, last)  # validates the keys' shape early
    return _guarded_run(first, last, "monthly_load", {KEY_ROTATION: "true"} if rotation else {})


ORCHESTRATED_JOBS = ("monthly_load", "monthly_release")
STARTED_BY = "orostat/started_from"  # tag on runs this module executes in process
KEY_ROTATION = "orostat/key_rotation"  # tag on the run of `orostat rotate-key`: a new key is expected
_STATES = {
    "QUEUED": "queued",
    "NOT_STARTED": "queued",
    "STARTING": "starting",
    "STARTED": "running",
    "CANCELING": "being cancelled",
}


def _refused_while_daemon_runs(instance: DagsterInstance) -> RunOutcome | None:
    """A run the sensor or schedule started (queued or running in the daemon) and one started here
    would write the same outputs: refuse, naming the run, rather than race it."""
    from dagster import DagsterRunStatus, RunsFilter

    active = [DagsterRunStatus.QUEUED, DagsterRunStatus.NOT_STARTED, DagsterRunStatus.STARTING]
    active += [DagsterRunStatus.STARTED, DagsterRunStatus.CANCELING]
    runs = instance.get_runs(filters=RunsFilter(statuses=active), limit=50)
    # A command-line run killed mid-way stays "started" in run storage: only the daemon's count.
    busy = [r for r in runs if r.job_name in ORCHESTRATED_JOBS and STARTED_BY not in r.tags]
    if not busy:
        return None
    run = busy[0]
    return RunOutcome(
        "",
        False,
        [
            f"A {run.job_name} run started by the daemon is {_STATES.get(run.status.value, 'active')} "
            f"(run {run.run_id}); wait for it to finish or cancel it in the Dagster UI, then try again."
        ],
        {},
    )


def load_in_progress() -> bool:
    """Whether a command-line load or release holds the installation's lock right now (for the sensor)."""
    with _load_lock() as locked:
        return not locked


def _lock_path() -> Path:
    return paths().home / ".orostat-load.lock"


@contextmanager
def _load_lock() -> Iterator[bool]:
    """One load at a time per installation: in-process runs do not pass Dagster's run queue."""
    path = _lock_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def run_release(month: str) -> RunOutcome:
    """One Dagster run of ``monthly_release`` for the as-of month (its statistics must be loaded)."""
    months_between(month, month)
    return _guarded_run(month, month, "monthly_release")


def _guarded_run(first: str, last: str, job_name: str, tags: dict[str, str] | None = None) -> RunOutcome:
    """Run ``job_name`` unless another load holds the installation's lock or the daemon is running one."""
    with _load_lock() as locked:
        if not locked:
            return RunOutcome(
                "", False, [f"Another load is running on {paths().home} (lock {_lock_path()})."], {}
            )
        instance = ensure_instance()  # one instance per run: each costs ≈ 0.1 s to set up
        return _refused_while_daemon_runs(instance) or _run(instance, first, last, job_name, tags or {})


def _run(
    instance: DagsterInstance,
    first: str,
    last: str,
    job_name: str = "monthly_load",
    extra_tags: dict[str, str] | None = None,
) -> RunOutcome:
    from pipelines.definitions import defs

    job = defs.resolve_job_def(job_name)
    quiet = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}
    tags = {STARTED_BY: "command line"} | (extra_tags or {})
    if first == last:
        result = job.execute_in_process(
            quiet, instance=instance, partition_key=first, tags=tags, raise_on_error=False
        )
    else:
        tags |= {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last}
        result = job.execute_in_process(quiet, instance=instance, tags=tags, raise_on_error=False)
    return RunOutcome(result.run_id, result.success, _errors(result), _durations(result), _warnings(result))


def _durations(result) -> dict[str, float]:
    """Wall seconds per step, as Dagster measured them."""
    return {
        event.step_key: event.event_specific_data.duration_ms / 1000
        for event in result.all_events
        if event.event_type == DagsterEventType.STEP_SUCCESS
    }


def _errors(result) -> list[str]:
    """Step failures and failed checks as short messages (our exceptions never quote row data)."""
    messages = []
    for event in result.all_events:
        if event.event_type == DagsterEventType.STEP_FAILURE:
            error = event.event_specific_data.error
            # The step error wraps ours; its cause holds the message our code wrote.
            cause = error.cause if error is not None and error.cause is not None else error
            messages.append(f"{event.step_key}: {cause.message.strip() if cause else 'failed'}")
        elif event.event_type == DagsterEventType.ASSET_CHECK_EVALUATION:
            data = event.event_specific_data
            if not data.passed and data.severity == AssetCheckSeverity.ERROR:
                messages.append(f"check failed: {data.asset_key.to_user_string()} {data.check_name}")
    return messages


def _warnings(result) -> list[str]:
    """Failed warning checks (e.g. municipalities that delivered nothing): the run still succeeds."""
    return [
        f"warning: {data.asset_key.to_user_string()} {data.check_name}"
        for event in result.all_events
        if event.event_type == DagsterEventType.ASSET_CHECK_EVALUATION
        and not (data := event.event_specific_data).passed
        and data.severity == AssetCheckSeverity.WARN
    ]
