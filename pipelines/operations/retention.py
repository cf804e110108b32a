"""Retention of Dagster's run history: runs older than the configured number of days are deleted.

Run history is operational metadata (no row data goes into it), but it grows by a run a month and a tick a
minute for ever; the daemon already purges old sensor and schedule ticks (dagster.yaml ``retention``).
"""

import datetime as dt

from dagster import Config, DefaultScheduleStatus, OpExecutionContext, RunsFilter, ScheduleDefinition, job, op

from pipelines.core.settings import settings


class RetentionConfig(Config):
    days: int = int(settings()["operations"]["run_retention_days"])


@op
def purge_old_runs(context: OpExecutionContext, config: RetentionConfig) -> int:
    """Delete every run (with its events) created more than ``days`` days ago, except this one."""
    cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(days=config.days)
    records = context.instance.get_run_records(RunsFilter(created_before=cutoff))
    deleted = 0
    for record in records:
        if record.dagster_run.run_id != context.run_id:
            context.instance.delete_run(record.dagster_run.run_id)
            deleted += 1
    context.log.info(
        f"Deleted {deleted} runs created before {cutoff:%Y-%m-%d} (retention {config.days} days)."
    )
    return deleted


@job(description="Delete Dagster run history older than operations.run_retention_days (settings.yaml).")
def purge_run_history() -> None:
    purge_old_runs()


purge_schedule = ScheduleDefinition(
    name="purge_schedule",
    job=purge_run_history,
    cron_schedule="0 3 * * 0",
    default_status=DefaultScheduleStatus.STOPPED,
    description="Weekly, Sunday 03:00: purge old run history (off until turned on).",
)
