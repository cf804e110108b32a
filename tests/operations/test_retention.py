"""The retention job deletes old runs and keeps recent ones (and itself)."""

from __future__ import annotations

from dagster import DagsterInstance, job, op

from pipelines.operations.retention import purge_run_history


@op
def _noop() -> None:
    pass


@job
def _small() -> None:
    _noop()


def test_old_runs_are_deleted_and_recent_ones_kept() -> None:
    with DagsterInstance.ephemeral() as instance:
        for _ in range(3):
            assert _small.execute_in_process(instance=instance).success
        keep = purge_run_history.execute_in_process(
            instance=instance, run_config={"ops": {"purge_old_runs": {"config": {"days": 400}}}}
        )
        assert keep.output_for_node("purge_old_runs") == 0
        assert len(instance.get_runs()) == 4
        purge = purge_run_history.execute_in_process(
            instance=instance, run_config={"ops": {"purge_old_runs": {"config": {"days": 0}}}}
        )
        assert purge.output_for_node("purge_old_runs") == 4
        assert [r.run_id for r in instance.get_runs()] == [purge.run_id]
