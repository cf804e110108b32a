"""Dagster's storage in a real PostgreSQL server, configured by deploy/dagster.postgres.yaml.

The test starts its own throw-away server (the ``postgresql`` package's initdb/pg_ctl; ``make test``
installs it when run as root), loads one month of a small demo through ``run_months`` in a fresh Python
process whose ``$DAGSTER_HOME/dagster.yaml`` is a copy of deploy/dagster.postgres.yaml, and then reads
the run, its materialisations and its checks back from PostgreSQL and scans a ``pg_dump`` of the
database for every personnummer of the input.

PostgreSQL refuses to run as root. When the tests run as root the cluster is created and run by an
unprivileged system account (``postgres``, which the Debian package creates, else ``nobody``) through
``subprocess``'s ``user=``/``group=`` (a setuid/setgid in the child, no PAM, no shell), in a private
folder under the system temporary directory: pytest's own ``tmp_path`` lives under a 0700 folder of the
invoking user that the account could not enter.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pipelines.core.settings import PROJECT_ROOT
from pipelines.demo.generator import generate_demo
from pipelines.stage2_pseudonymise.leak_scan import needles_from_landing

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

MONTH = "2025-03"
MUNICIPALITIES = ["0180", "0114", "1280", "2580"]
STARTUP_SECONDS = 60
INSTALL_HINT = (
    "PostgreSQL's server programs (initdb, pg_ctl, pg_dump) were not found in PATH or "
    "/usr/lib/postgresql/*/bin. Install the Debian package 'postgresql' (sudo apt-get install "
    "postgresql); `make test` run as root installs it."
)


def _postgres_bin() -> Path:
    """The bin folder of one PostgreSQL version, so that initdb, pg_ctl and pg_dump match."""
    candidates = []
    found = shutil.which("initdb")
    if found:
        candidates.append(Path(found).resolve().parent)  # Debian has no initdb in PATH; others do

    def version(folder: Path) -> tuple[int, ...]:
        return tuple(int(n) for n in re.findall(r"\d+", folder.parent.name))

    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=version, reverse=True)
    for folder in candidates:
        if all((folder / name).is_file() for name in ("initdb", "pg_ctl", "postgres", "pg_dump")):
            return folder
    pytest.fail(INSTALL_HINT, pytrace=False)


def _server_account() -> pwd.struct_passwd | None:
    """None when we are not root (the server runs as us), else the account that runs the server."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    pytest.fail("running as root, and neither a 'postgres' nor a 'nobody' account exists", pytrace=False)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Server:
    bin: Path
    port: int
    user: str
    password: str
    host: str = "127.0.0.1"

    def connect(self, db_name: str = "postgres"):
        import psycopg2  # installed with dagster-postgres (the dev and postgres extras)

        return psycopg2.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            dbname=db_name,
            connect_timeout=10,
        )

    def client_env(self) -> dict[str, str]:
        return dict(
            os.environ,
            PGHOST=self.host,
            PGPORT=str(self.port),
            PGUSER=self.user,
            PGPASSWORD=self.password,
        )


@pytest.fixture
def postgres_server() -> Iterator[Server]:
    """A private PostgreSQL cluster on 127.0.0.1:<free port>, stopped and deleted afterwards."""
    pg_bin = _postgres_bin()
    account = _server_account()
    base = Path(tempfile.mkdtemp(prefix="orostat-pg-"))  # short: the unix socket path must be < 108 bytes
    data = base / "data"
    log = base / "server.log"
    as_account: dict[str, object] = {}
    if account is not None:
        os.chown(base, account.pw_uid, account.pw_gid)
        as_account = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}

    def run(*args: str, timeout: float) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(a) for a in args],
            cwd=base,
            capture_output=True,
            text=True,
            timeout=timeout,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "HOME": str(base)},
            **as_account,
        )

    server = Server(pg_bin, 0, "orostat_test", secrets.token_hex(16))
    started = False
    try:
        password_file = base / "password"
        password_file.write_text(server.password + "\n")
        if account is not None:
            os.chown(password_file, account.pw_uid, account.pw_gid)
        init = run(
            pg_bin / "initdb",
            "-D",
            data,
            "-U",
            server.user,
            f"--pwfile={password_file}",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "--encoding=UTF8",
            "--no-locale",
            "--no-sync",
            timeout=120,
        )
        assert init.returncode == 0, f"initdb failed:\n{init.stdout}\n{init.stderr}"
        password_file.unlink()
        for _attempt in range(3):  # another process may take the free port before the server binds it
            server.port = _free_port()
            options = (
                f"-c listen_addresses=127.0.0.1 -p {server.port} -c unix_socket_directories={base} "
                "-c fsync=off -c full_page_writes=off -c synchronous_commit=off"
            )
            start = run(
                pg_bin / "pg_ctl",
                "-D",
                data,
                "-l",
                log,
                "-o",
                options,
                "-w",
                "-t",
                str(STARTUP_SECONDS),
                "start",
                timeout=STARTUP_SECONDS + 30,
            )
            started = True  # pg_ctl may have launched a server even when it reports failure
            if start.returncode == 0:
                break
            messages = log.read_text(errors="replace") if log.exists() else ""
            if "could not bind" not in messages and "already in use" not in messages:
                pytest.fail(f"PostgreSQL did not start:\n{start.stdout}\n{start.stderr}\n{messages[-3000:]}")
        else:
            pytest.fail("PostgreSQL could not bind a free port in three attempts")
        yield server
    finally:
        if started:
            _stop(run, pg_bin, data)
        shutil.rmtree(base, ignore_errors=True)


def _stop(run, pg_bin: Path, data: Path) -> None:
    """pg_ctl stop; if that fails, SIGKILL the postmaster we started (its pid is in postmaster.pid)."""
    try:
        stopped = run(pg_bin / "pg_ctl", "-D", data, "-m", "immediate", "-w", "-t", "30", "stop", timeout=60)
        if stopped.returncode == 0:
            return
    except subprocess.TimeoutExpired:
        pass
    pid_file = data / "postmaster.pid"
    if pid_file.exists():
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pid_file.read_text().split()[0]), signal.SIGKILL)


RUN_ONE_MONTH = f"""
import json
from pipelines.core.instance import ensure_instance
from pipelines.run import run_months
outcome = run_months({MONTH!r})
instance = ensure_instance()
print(json.dumps({{
    "run_id": outcome.run_id, "success": outcome.success, "errors": outcome.errors,
    "run_storage": type(instance.run_storage).__name__,
    "event_log_storage": type(instance.event_log_storage).__name__,
}}))
"""


def test_dagster_runs_and_events_live_in_postgres_and_hold_no_personnummer(
    postgres_server: Server, tmp_path: Path
) -> None:
    db_name = "orostat_dagster"
    con = postgres_server.connect()
    try:
        con.autocommit = True  # CREATE DATABASE cannot run inside a transaction
        with con.cursor() as cur:
            cur.execute(f"CREATE DATABASE {db_name}")
    finally:
        con.close()

    home = tmp_path / "home"
    landing = home / "data" / "1_landing"
    dagster_home = tmp_path / "dagster_home"
    dagster_home.mkdir()
    shutil.copyfile(PROJECT_ROOT / "deploy" / "dagster.postgres.yaml", dagster_home / "dagster.yaml")
    generate_demo(landing, year=2025, seed=11, scale=0.02, municipality_codes=MUNICIPALITIES)

    env = {k: v for k, v in os.environ.items() if k != "OROSTAT_KEY_FILE"}
    env |= {
        "OROSTAT_HOME": str(home),
        "DAGSTER_HOME": str(dagster_home),
        "OROSTAT_KEY": secrets.token_hex(32),
        "DAGSTER_PG_USERNAME": postgres_server.user,
        "DAGSTER_PG_PASSWORD": postgres_server.password,
        "DAGSTER_PG_HOST": postgres_server.host,
        "DAGSTER_PG_DB": db_name,
        "DAGSTER_PG_PORT": str(postgres_server.port),
    }
    done = subprocess.run(
        [sys.executable, "-c", RUN_ONE_MONTH],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-5000:]
    outcome = json.loads(done.stdout.strip().splitlines()[-1])
    assert outcome["success"], outcome["errors"]
    assert outcome["run_storage"] == "PostgresRunStorage"
    assert outcome["event_log_storage"] == "PostgresEventLogStorage"
    assert (dagster_home / "dagster.yaml").read_bytes() == (
        PROJECT_ROOT / "deploy" / "dagster.postgres.yaml"
    ).read_bytes()  # not replaced by the SQLite default
    assert not [p for p in dagster_home.rglob("*.db")], "Dagster fell back to SQLite files"
    assert (home / "data" / "2_pseudonymised" / f"extract_month={MONTH}" / "reports.parquet").exists()

    run_id = outcome["run_id"]
    with postgres_server.connect(db_name) as con, con.cursor() as cur:
        cur.execute("SELECT status FROM runs WHERE run_id = %s", (run_id,))
        assert cur.fetchall() == [("SUCCESS",)]
        cur.execute(
            """SELECT DISTINCT asset_key, partition FROM event_logs
               WHERE run_id = %s AND dagster_event_type = 'ASSET_MATERIALIZATION'""",
            (run_id,),
        )
        materialised = {(json.loads(key)[0], partition) for key, partition in cur.fetchall()}
        cur.execute(
            "SELECT count(*) FROM event_logs WHERE run_id = %s AND dagster_event_type = 'ASSET_CHECK_EVALUATION'",
            (run_id,),
        )
        (check_evaluations,) = cur.fetchone()
    con.close()
    expected = {"pseudonymised_reports", "report_register", "statistics_reports"}
    assert {(asset, MONTH) for asset in expected} <= materialised
    assert check_evaluations >= 3  # every row accounted for, one row per report, one key

    needles = needles_from_landing(landing)
    assert len(needles) > 200  # the scan is only meaningful with real needles
    dump = subprocess.run(
        [str(postgres_server.bin / "pg_dump"), "--no-owner", db_name],
        env=postgres_server.client_env(),
        capture_output=True,
        timeout=120,
    )
    assert dump.returncode == 0, dump.stderr.decode(errors="replace")
    assert run_id.encode() in dump.stdout and b"pseudonymised_reports" in dump.stdout  # the dump has data
    assert needles.count_in(dump.stdout) == 0
