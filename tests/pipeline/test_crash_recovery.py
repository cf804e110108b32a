"""A load killed with SIGKILL never leaves a half-written output visible, and the rerun repairs it.

The load of a small demo (two months, a few municipalities) runs through Dagster in a subprocess that is
killed at a chosen rename of ``pipelines.core.atomic`` (every output folder is written aside and swapped
in by ``os.replace``). The kill is made deterministic without touching production code: the subprocess
gives ``pipelines.core.atomic`` its own ``os`` whose ``replace`` sends SIGKILL to the subprocess's whole
process group (it and stage 2's worker processes) on the N-th call, before the rename happens. Only that
module's renames are counted (``os.replace`` itself, used by Dagster and SQLite, is left alone).

After the kill, before anything repairs it, every output folder that is visible must be complete. Then a
normal run over the same home must leave no ``.tmp-*``/``.old-*`` behind and exactly the Parquet outputs
(by content) of an uninterrupted run in another home with the same key and the same landing files.

Two homes are killed twice each (a crash, then a crash of the run that recovers from it), then rerun:

* a first load into an empty home, killed at its 1st rename (the N-th call renames the N-th output
  into place); the next run killed at its last rename;
* a reload over complete outputs (a municipality's February file arrived after the first load), killed
  at its 2nd rename: every output is swapped in two renames, the old version aside and then the new one
  in, and the 2nd kills between the two, when stage 2's February is absent under its name and only
  ``.old-*`` holds it; the next run killed in its middle.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pipelines.core import db
from pipelines.core.settings import PROJECT_ROOT
from pipelines.demo.generator import generate_demo

pytestmark = pytest.mark.slow

FIRST, LAST = "2025-01", "2025-02"
MUNICIPALITIES = ["0114", "0180", "2580"]
KEY = secrets.token_hex(32)  # shared by every home, so pseudonyms are comparable
OUTPUT_STAGES = ("2_pseudonymised", "3_register", "4_statistics", "4_statistics_state")
# The largest municipality: the demo's small ones may receive no report in a month at this scale.
LATE_FILE_MUNICIPALITY = "0180"
PARTITION_FOLDER = re.compile(r"^[a-z_]+=\d{4}-\d{2}$")  # extract_month=2025-01, as_of_month=2025-02, ...

# The subprocess. Stage 2 loads months in spawned worker processes, and spawn re-imports this file (as
# __mp_main__) in every worker, so the patch below is installed in the parent and in each worker. The
# count is kept in a file under an exclusive lock held across the rename, so the N-th rename is the N-th
# across all processes; on it the whole process group is killed while the lock is held, so no other
# process renames anything after the kill decision: like a power cut or the OOM killer.
RUNNER = """
import fcntl, json, os, signal, sys, time

KILL_AT = int(os.environ["CRASH_KILL_AT"])  # -1: a normal run; 0: count renames only; N: die at the N-th
if KILL_AT >= 0:
    from pipelines.core import atomic

    class KillingOs:
        # Stands in for `os` inside pipelines.core.atomic only; everything but replace is the real os.
        def __getattr__(self, name):
            return getattr(os, name)

        def replace(self, src, dst):
            with open(os.environ["CRASH_COUNTER"], "ab") as counter:
                fcntl.flock(counter, fcntl.LOCK_EX)
                counter.write(b"x")
                counter.flush()
                if os.fstat(counter.fileno()).st_size == KILL_AT:
                    os.killpg(int(os.environ["CRASH_GROUP"]), signal.SIGKILL)
                    time.sleep(60)  # never returns: the signal is on its way to this process too
                os.replace(src, dst)

    atomic.os = KillingOs()

if __name__ == "__main__":
    assert os.getpgrp() == os.getpid(), "must lead its own process group (start_new_session)"
    os.environ["CRASH_GROUP"] = str(os.getpgrp())
    from pipelines.run import run_months

    outcome = run_months(sys.argv[1], sys.argv[2])
    counter = os.environ["CRASH_COUNTER"]
    renames = os.path.getsize(counter) if KILL_AT >= 0 and os.path.exists(counter) else None
    print(json.dumps({"success": outcome.success, "errors": outcome.errors, "renames": renames}))
    sys.exit(0 if outcome.success else 1)
"""


RUNNER_FILE = "crash_runner.py"


def _load(home: Path, kill_at: int) -> subprocess.CompletedProcess:
    runner = home.parent / RUNNER_FILE  # written by the test before any load
    counter = home / "renames.count"
    counter.unlink(missing_ok=True)
    env = {k: v for k, v in os.environ.items() if k != "OROSTAT_KEY_FILE"}
    env |= {
        "OROSTAT_HOME": str(home),
        "DAGSTER_HOME": str(home / "dagster"),
        "OROSTAT_KEY": KEY,
        "CRASH_KILL_AT": str(kill_at),
        "CRASH_COUNTER": str(counter),
    }
    return subprocess.run(
        [sys.executable, str(runner), FIRST, LAST],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        start_new_session=True,  # its own process group: the kill takes its workers, never pytest
    )


def _load_ok(home: Path, count_renames: bool = False) -> int | None:
    """A complete load (unpatched, or only counting atomic's renames); the number of renames if counted."""
    done = _load(home, 0 if count_renames else -1)
    assert done.returncode == 0, done.stderr[-4000:]
    outcome = json.loads(done.stdout.strip().splitlines()[-1])
    assert (outcome["success"], outcome["errors"]) == (True, [])
    return outcome["renames"]


def _load_killed(home: Path, kill_at: int) -> None:
    done = _load(home, kill_at)
    assert done.returncode == -signal.SIGKILL, (
        f"expected SIGKILL at rename {kill_at}, got exit {done.returncode}: {done.stderr[-3000:]}"
    )


def _data(home: Path) -> Path:
    return home / "data"


def _outputs(home: Path) -> list[Path]:
    """The visible output folders (``<key>=<month>``), each written whole by atomic_dir."""
    return sorted(
        p
        for stage in OUTPUT_STAGES
        for p in (_data(home) / stage).rglob("*=*")
        if p.is_dir() and PARTITION_FOLDER.match(p.name) and not _hidden(p, home)
    )


def _hidden(path: Path, home: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(home).parts)


def _leftovers(home: Path, prefix: str) -> list[Path]:
    return sorted(p for stage in OUTPUT_STAGES for p in (_data(home) / stage).rglob(f"{prefix}*"))


def _assert_visible_outputs_complete(home: Path) -> None:
    """Every visible output folder holds all its files, readable and consistent with each other."""
    for folder in _outputs(home):
        if folder.parent.name == "2_pseudonymised":
            reports = pq.read_table(folder / "reports.parquet")
            quarantine = pq.read_table(folder / "quarantine.parquet")
            ledger = pq.read_table(folder / "ledger.parquet").to_pylist()
            assert sum(r["accepted"] for r in ledger) == reports.num_rows > 0, folder
            assert sum(r["quarantined"] for r in ledger) == quarantine.num_rows, folder
        else:
            files = sorted(folder.glob("*.parquet"))
            assert files, f"{folder} is visible but empty"
            for path in files:
                pq.read_table(path)  # raises on a truncated or missing footer


def _parquet_files(home: Path) -> dict[str, Path]:
    data = _data(home)
    return {
        p.relative_to(data).as_posix(): p
        for stage in OUTPUT_STAGES
        for p in (data / stage).rglob("*.parquet")
    }


def _differences(home: Path, reference: Path) -> list[str]:
    """Parquet files that differ in name, schema, key-value metadata or rows (as multisets)."""
    ours, theirs = _parquet_files(home), _parquet_files(reference)
    problems = [f"only in one home: {name}" for name in sorted(set(ours) ^ set(theirs))]
    con = db.connect()
    for name in sorted(set(ours) & set(theirs)):
        a = f"read_parquet('{ours[name]}', hive_partitioning = false)"
        b = f"read_parquet('{theirs[name]}', hive_partitioning = false)"
        if (
            con.execute(f"DESCRIBE SELECT * FROM {a}").fetchall()
            != con.execute(f"DESCRIBE SELECT * FROM {b}").fetchall()
        ):
            problems.append(f"schema differs: {name}")
            continue
        if pq.read_metadata(ours[name]).metadata != pq.read_metadata(theirs[name]).metadata:
            problems.append(f"key-value metadata differs: {name}")
        rows_a = db.scalar(con, f"SELECT count(*) FROM {a}")
        rows_b = db.scalar(con, f"SELECT count(*) FROM {b}")
        extra = db.scalar(con, f"SELECT count(*) FROM (FROM {a} EXCEPT ALL FROM {b})")
        missing = db.scalar(con, f"SELECT count(*) FROM (FROM {b} EXCEPT ALL FROM {a})")
        if (rows_a, extra, missing) != (rows_b, 0, 0):
            problems.append(f"rows differ: {name}: {rows_a} vs {rows_b}, {extra} extra, {missing} missing")
    con.close()
    return problems


def _home_with(root: Path, name: str, landing: Path) -> Path:
    home = root / name
    shutil.copytree(landing, _data(home) / "1_landing")  # copy2: modification times kept
    return home


def _fresh_scenario(root: Path, landing: Path, renames: int) -> Path:
    """A first load killed at its first rename; the next run killed at its last; then a normal run."""
    home = _home_with(root, "fresh", landing)
    _load_killed(home, 1)
    _assert_visible_outputs_complete(home)
    assert _outputs(home) == []  # nothing was renamed into place
    assert _leftovers(home, ".tmp-")  # more than one if a parallel stage-2 worker was still writing
    assert _leftovers(home, ".old-") == []
    # The next run deletes the .tmp-* (no rename), then renames every output into place: kill the last.
    _load_killed(home, renames)
    _assert_visible_outputs_complete(home)
    assert len(_outputs(home)) == renames - 1
    assert len(_leftovers(home, ".tmp-")) == 1
    assert _leftovers(home, ".old-") == []
    _load_ok(home)
    return home


def _reload_scenario(root: Path, prepared: Path, middle: int) -> Path:
    """A reload over complete outputs killed at its 2nd rename; the next run killed in its middle; then
    a normal run."""
    home = root / "reload"
    shutil.copytree(prepared, home)
    complete = len(_outputs(prepared))
    _load_killed(home, 2)
    _assert_visible_outputs_complete(home)
    # Killed between moving the old version aside and moving the new one in: one output is absent
    # under its name, kept whole as .old-*, and its replacement waits as .tmp-*.
    (old,) = _leftovers(home, ".old-")
    missing = old.parent / old.name[len(".old-") :].rsplit("-", 1)[0]
    assert missing.relative_to(_data(home)).parts[0] == "2_pseudonymised"
    assert not missing.exists()
    assert len(_leftovers(home, ".tmp-")) == 1
    assert len(_outputs(home)) == complete - 1
    # The next run puts the .old-* back (one rename), reloads February and rebuilds what follows.
    _load_killed(home, middle)
    _assert_visible_outputs_complete(home)
    assert len(_leftovers(home, ".old-")) <= 1
    assert len(_outputs(home)) >= complete - 1
    _load_ok(home)
    return home


def test_killed_loads_never_show_half_written_outputs_and_rerun_to_identical_results(
    tmp_path: Path,
) -> None:
    (tmp_path / RUNNER_FILE).write_text(RUNNER)
    landing = tmp_path / "landing"
    generate_demo(landing, year=2025, seed=3, scale=0.02, municipality_codes=MUNICIPALITIES)
    for path in landing.iterdir():  # only the two months loaded: smaller copies
        if not path.name.split("_")[1].startswith((FIRST, LAST)):
            path.unlink()
    (late,) = landing.glob(f"{LATE_FILE_MUNICIPALITY}_{LAST}.*")
    early = tmp_path / "landing-without-late-file"
    shutil.copytree(landing, early)
    (early / late.name).unlink()

    reference = _home_with(tmp_path, "uninterrupted", landing)

    def prepare_reload() -> Path:
        """A complete first load without the late file; then the late file arrives."""
        prepared = _home_with(tmp_path, "reload-prepared", early)
        _load_ok(prepared)
        shutil.copy2(late, _data(prepared) / "1_landing" / late.name)
        return prepared

    # Kill points: a first load at its first rename, then its rerun at its last; a reload at its 2nd
    # rename (stage 2's February, between aside and in), then its rerun in the middle.
    with ThreadPoolExecutor(max_workers=3) as pool:
        baseline = pool.submit(_load_ok, reference, count_renames=True)
        prepared = pool.submit(prepare_reload)
        renames = baseline.result()
        # A first load renames each output into place once: 2 months × (stage 2, register, statistics,
        # the state carried to the next load).
        assert renames == len(_outputs(reference)) >= 2 * 3
        fresh = pool.submit(_fresh_scenario, tmp_path, landing, renames)
        reloaded = pool.submit(_reload_scenario, tmp_path, prepared.result(), renames)
        killed = [fresh.result(), reloaded.result()]

    for home in killed:
        assert _leftovers(home, ".tmp-") == [], home.name
        assert _leftovers(home, ".old-") == [], home.name
        assert [p.relative_to(home) for p in _outputs(home)] == [
            p.relative_to(reference) for p in _outputs(reference)
        ]
        assert _differences(home, reference) == [], home.name
