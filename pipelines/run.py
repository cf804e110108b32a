"""Run the monthly load and the monthly release through Dagster without the UI, against the persistent
instance: what ``orostat load``, ``orostat release``, ``orostat demo`` and ``orostat rotate-key`` call.

It sits at the top beside ``definitions.py``, because it runs the jobs defined there."""

from __future__ import annotations

from dataclasses import dataclass, field

from dagster import AssetCheckSeverity, DagsterEventType, DagsterInstance

from pipelines.core.instance import (
    KEY_ROTATION,
    ORCHESTRATED_JOBS,
    STARTED_BY,
    ensure_instance,
    load_lock,
    lock_path,
)
from pipelines.core.partitions import months_between
from pipelines.core.settings import paths
from pipelines.definitions import defs


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


def run_release(month: str) -> RunOutcome:
    """One Dagster run of ``monthly_release`` for the as-of month (its statistics must be loaded)."""
    months_between(month, month)
    return _guarded_run(month, month, "monthly_release")


def _guarded_run(first: str, last: str, job_name: str, tags: dict[str, str] | None = None) -> RunOutcome:
    """Run ``job_name`` unless another load holds the installation's lock or the daemon is running one."""
    with load_lock() as locked:
        if not locked:
            return RunOutcome(
                "", False, [f"Another load is running on {paths().home} (lock {lock_path()})."], {}
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
