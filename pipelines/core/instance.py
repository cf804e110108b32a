"""The Dagster instance and the installation's load lock, shared by the command line, the sensor and the
assets: what a run needs before the Definitions are involved (those are run from ``pipelines.run``)."""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dagster import DagsterInstance

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


ORCHESTRATED_JOBS = ("monthly_load", "monthly_release")
STARTED_BY = "orostat/started_from"  # tag on runs this module executes in process
KEY_ROTATION = "orostat/key_rotation"  # tag on the run of `orostat rotate-key`: a new key is expected


def load_in_progress() -> bool:
    """Whether a command-line load or release holds the installation's lock right now (for the sensor)."""
    with load_lock() as locked:
        return not locked


def lock_path() -> Path:
    return paths().home / ".orostat-load.lock"


@contextmanager
def load_lock() -> Iterator[bool]:
    """One load at a time per installation: in-process runs do not pass Dagster's run queue."""
    path = lock_path()
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
