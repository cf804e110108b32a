"""Delivery and data-quality monitoring: per extract month and municipality, for all 290 municipalities.

Who delivered, how many rows were accepted or quarantined and why, how many reports are still undecided
more than 14 days after arrival, how many decisions arrived late, and how many updates of known reports
were quarantined (the report then silently keeps its earlier state). Computed in DuckDB from the stage-2
ledgers and quarantine and the register; the columns are declared in ``schemas/deliveries.yaml``.
Operational counts about files and reports: no child is described, no identifier is read.
"""

from __future__ import annotations

import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from pipelines.core import db
from pipelines.core.atomic import atomic_dir
from pipelines.core.files import LEDGER_FILE, QUARANTINE_FILE, STATISTICS_FILE
from pipelines.core.partitions import month_bounds
from pipelines.core.schemas import code_table
from pipelines.core.settings import SCHEMAS, Paths, settings
from pipelines.stage3_register.register import KEY
from pipelines.stage3_register.register import entries as register_entries
from pipelines.stage4_statistics import state
from pipelines.stage4_statistics.inputs import data_label

TABLES = ("deliveries", "deliveries_by_reason")
# The contract's DuckDB types as Parquet (Arrow) reads them back.
ARROW_TYPES = {"VARCHAR": pa.string(), "BIGINT": pa.int64(), "DOUBLE": pa.float64(), "BOOLEAN": pa.bool_()}


@cache
def contract() -> dict[str, Any]:
    return yaml.safe_load((SCHEMAS / "deliveries.yaml").read_text(encoding="utf-8"))


def _columns(table: str) -> str:
    """The contract's columns, cast to their declared types, in order."""
    cols = contract()["tables"][table]["columns"]
    return ", ".join(f"CAST({name} AS {spec['type']}) AS {name}" for name, spec in cols.items())


def expected_schema(table: str) -> pa.Schema:
    """The Parquet schema a monitoring table must have, generated from ``schemas/deliveries.yaml``."""
    cols = contract()["tables"][table]["columns"]
    return pa.schema([(name, ARROW_TYPES[spec["type"]]) for name, spec in cols.items()])


def check_schema(path: Path, table: str) -> None:
    """Refuse a written file whose columns or types differ from the contract (names only in the message)."""
    found, expected = pq.read_schema(path), expected_schema(table)
    # names, order and types; nullability and field metadata are the writer's business
    if [(f.name, f.type) for f in found] != [(f.name, f.type) for f in expected]:
        raise ValueError(
            f"{table}: written columns {[f'{f.name} {f.type}' for f in found]} do not match "
            f"schemas/deliveries.yaml {[f'{f.name} {f.type}' for f in expected]}"
        )


def _parquet_or_empty(path: str, exists: bool, empty: str) -> str:
    return f"read_parquet('{path}')" if exists else f"(SELECT * FROM ({empty}) WHERE false)"


def _has_rows(path: Path) -> bool:
    """A month without deliveries writes an empty file with no typed columns: read it as empty."""
    return path.exists() and pq.ParquetFile(path).metadata.num_rows > 0


def deliveries_sql(home: Paths, month: str) -> str:
    folder = home.extract_month(month)
    ledger = _parquet_or_empty(
        str(folder / LEDGER_FILE),
        _has_rows(folder / LEDGER_FILE),
        "SELECT ''::VARCHAR municipality_code, ''::VARCHAR status, 0::BIGINT rows_in, "
        "0::BIGINT accepted, 0::BIGINT quarantined",
    )
    return f"""
    WITH files AS (
      SELECT municipality_code,
             count(*) FILTER (WHERE status = 'inläst') AS files_loaded,
             count(*) FILTER (WHERE status = 'avvisad') AS files_rejected,
             count(*) FILTER (WHERE status = 'ersatt') AS files_superseded,
             sum(rows_in) FILTER (WHERE status = 'inläst') AS rows_in,
             sum(accepted) FILTER (WHERE status = 'inläst') AS accepted,
             sum(quarantined) FILTER (WHERE status = 'inläst') AS quarantined
      FROM {ledger} GROUP BY municipality_code),
    reports AS (SELECT * FROM report_counts WHERE as_of_month = '{month}'),
    rejected AS (SELECT * FROM rejected_updates WHERE as_of_month = '{month}')
    SELECT {_columns("deliveries")} FROM (
      SELECT '{month}' AS as_of_month, m.municipality_code, m.municipality_name_short AS municipality_name,
             m.county_code, coalesce(f.files_loaded, 0) > 0 AS delivered,
             coalesce(f.files_loaded, 0) AS files_loaded, coalesce(f.files_rejected, 0) AS files_rejected,
             coalesce(f.files_superseded, 0) AS files_superseded, coalesce(f.rows_in, 0) AS rows_in,
             coalesce(f.accepted, 0) AS accepted, coalesce(f.quarantined, 0) AS quarantined,
             round(f.quarantined / nullif(f.rows_in, 0), 4) AS rejection_rate,
             coalesce(r.undecided_over_deadline, 0) AS undecided_over_deadline,
             coalesce(r.late_decisions, 0) AS late_decisions,
             coalesce(u.rejected_updates, 0) AS rejected_updates
      FROM ref_municipalities m
      LEFT JOIN files f USING (municipality_code)
      LEFT JOIN reports r USING (municipality_code)
      LEFT JOIN rejected u USING (municipality_code))
    ORDER BY municipality_code"""


def by_reason_sql(home: Paths, month: str) -> str:
    path = home.extract_month(month) / QUARANTINE_FILE
    quarantine = _parquet_or_empty(
        str(path), _has_rows(path), "SELECT ''::VARCHAR municipality_code, []::VARCHAR[] reasons"
    )
    return f"""
    SELECT {_columns("deliveries_by_reason")} FROM (
      SELECT '{month}' AS as_of_month, municipality_code, reason, count(*) AS rows
      FROM (SELECT municipality_code, unnest(reasons) AS reason FROM {quarantine})
      GROUP BY ALL)
    ORDER BY municipality_code, reason"""


UNDECIDED_STATE = "undecided"


def _load_entries(con, home: Paths, up_to: str, since: str) -> None:
    """Register entries up to the run's last month, read once: when each stopped being current
    (``valid_to``) and whether the report had been decided before it (``was_decided``).

    Every entry without a carried state (``since`` = ''); with one, only the reports that have an entry
    after ``since`` (all their entries: the earlier ones say whether a decision is late).
    """
    columns = "municipality_code, report_id, outcome, decided, date_received, month_received, valid_from"
    history = f"(SELECT {columns} FROM {register_entries(home)} WHERE valid_from <= '{up_to}')"
    touched = f" SEMI JOIN (SELECT DISTINCT {KEY} FROM {history} WHERE valid_from > '{since}') USING ({KEY})"
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE entries AS
        SELECT *,
               lead(valid_from) OVER (PARTITION BY {KEY} ORDER BY valid_from) AS valid_to,
               lag(decided) OVER (PARTITION BY {KEY} ORDER BY valid_from) AS was_decided
        FROM {history}{touched if since else ""}"""
    )


def _undecided(since: str, carried: Path | None) -> str:
    """Undecided entries with the months they were current in: from the register, and (with a carried
    state) the reports undecided as of ``since`` that no later extract has changed."""
    rows = f"""SELECT municipality_code, report_id, date_received, valid_from, valid_to FROM entries
               WHERE outcome = 'ej_beslutat' AND (valid_to IS NULL OR valid_to > '{since}')"""
    if carried is None:
        return f"({rows})"
    return f"""({rows}
      UNION ALL
      SELECT municipality_code, report_id, date_received, '{since}' AS valid_from, NULL AS valid_to
      FROM read_parquet('{carried}') ANTI JOIN (SELECT DISTINCT {KEY} FROM entries) USING ({KEY}))"""


def _count_reports(con, months: list[str], since: str, carried: Path | None) -> None:
    """Table ``report_counts`` (ordinary, so that the months' cursors read it): per month and
    municipality, reports still undecided more than the deadline after arrival (as of the month) and
    decisions that arrived late (in the month's extract).

    One pass for all the run's months: only undecided entries are matched to the months they were
    current in, so a 10-year backfill does not rescan the register once per month.
    """
    deadline = int(settings()["decisions"]["deadline_days"])
    con.execute("CREATE OR REPLACE TEMP TABLE run_months (month VARCHAR, last_day DATE)")
    con.executemany("INSERT INTO run_months VALUES (?, ?)", [[m, month_bounds(m)[1]] for m in months])
    con.execute(f"CREATE OR REPLACE TEMP TABLE undecided AS SELECT * FROM {_undecided(since, carried)}")
    con.execute(
        f"""CREATE OR REPLACE TABLE report_counts AS
        WITH undecided_counts AS (
          SELECT m.month AS as_of_month, e.municipality_code, count(*) AS undecided_over_deadline
          FROM undecided e JOIN run_months m
            ON e.valid_from <= m.month AND (e.valid_to IS NULL OR e.valid_to > m.month)
           AND e.date_received <= m.last_day - {deadline}
          GROUP BY ALL),
        late AS (
          SELECT valid_from AS as_of_month, municipality_code, count(*) AS late_decisions
          FROM entries
          WHERE valid_from IN (SELECT month FROM run_months) AND decided AND NOT coalesce(was_decided, false)
            AND strftime(month_received, '%Y-%m') < valid_from
          GROUP BY ALL)
        SELECT * FROM undecided_counts FULL JOIN late USING (as_of_month, municipality_code)"""
    )


def _count_rejected_updates(con, home: Paths, months: list[str]) -> None:
    """Table ``rejected_updates``: per month and municipality, the month's quarantined rows for a report an
    earlier extract delivered and this one did not accept, so that it stays as it was (usually undecided).

    The quarantined keys of the run's months are few (≈ 2,000 a national year): the register is scanned
    once for them, whatever the number of months.
    """
    files = [home.extract_month(m) / QUARANTINE_FILE for m in months]
    files = [str(f) for f in files if _has_rows(f)]
    quarantined = (
        f"""SELECT DISTINCT regexp_extract(filename, 'extract_month=([0-9-]+)', 1) AS as_of_month,
                   municipality_code, report_id, source_file, row_number
            FROM read_parquet({files}, filename = true) WHERE report_id IS NOT NULL"""
        if files
        else "SELECT ''::VARCHAR as_of_month, ''::VARCHAR municipality_code, ''::VARCHAR report_id, "
        "''::VARCHAR source_file, 0 row_number WHERE false"
    )
    con.execute(
        f"""CREATE OR REPLACE TABLE rejected_updates AS
        WITH q AS ({quarantined}),
        known AS (
          SELECT q.as_of_month, q.municipality_code, q.report_id,
                 bool_or(e.valid_from < q.as_of_month) AS earlier, bool_or(e.valid_from = q.as_of_month) AS now
          FROM (SELECT DISTINCT as_of_month, municipality_code, report_id FROM q) q
          JOIN (SELECT municipality_code, report_id, valid_from FROM {register_entries(home)}
                WHERE valid_from <= '{max(months)}') e USING ({KEY})
          GROUP BY ALL)
        SELECT as_of_month, municipality_code, count(*) AS rejected_updates
        FROM q JOIN known USING (as_of_month, municipality_code, report_id)
        WHERE earlier AND NOT now
        GROUP BY ALL"""
    )


def _keep_state(con, home: Paths, month: str) -> None:
    """The reports undecided as of ``month`` (key and date received), for the next load to continue from."""
    target = state.folder(home, "deliveries", month)
    fingerprint = state.fingerprint(home, month)
    if fingerprint is None:
        shutil.rmtree(target, ignore_errors=True)
        return
    with atomic_dir(target) as out:
        con.execute(
            f"""COPY (SELECT municipality_code, report_id, date_received FROM undecided
                      WHERE valid_from <= '{month}' AND (valid_to IS NULL OR valid_to > '{month}'))
            TO '{out / f"{UNDECIDED_STATE}.parquet"}'
            ({db.PARQUET}, KV_METADATA {{{state.FINGERPRINT}: '{fingerprint}'}})"""
        )


@dataclass
class Monitored:
    """What a run of delivery monitoring found: the municipality codes missing per month, and the
    carried state it continued from (None: computed from the whole register)."""

    missing: dict[str, list[str]]
    continued_from: str | None


def build_deliveries(home: Paths, months: list[str], carry: bool = True) -> Monitored:
    """Write both tables for every month; return the municipalities missing per month.

    Continues from the undecided reports carried as of the month before the run when they match the
    register (see ``state``; ``carry=False`` reads the whole register)."""
    con = db.connect()
    try:
        since = state.previous_month(min(months))
        if not (carry and state.usable(home, ["deliveries"], since, {"deliveries": [UNDECIDED_STATE]})):
            since = ""
        _load_entries(con, home, max(months), since)
        _count_reports(
            con,
            months,
            since,
            state.folder(home, "deliveries", since) / f"{UNDECIDED_STATE}.parquet" if since else None,
        )
        _count_rejected_updates(con, home, months)
        kept = state.months_to_keep(months)
        for month in sorted(kept):
            _keep_state(con, home, month)
        state.prune(home, "deliveries", kept)
        label = data_label(con, home).replace("'", "''")
        # A month's two files are small queries that leave a core idle: two months at a time, each on
        # a cursor of its own (a 10-year backfill's 240 files: ≈ 3 s on one core before).
        with ThreadPoolExecutor(max_workers=min(2, os.cpu_count() or 1)) as pool:
            written = pool.map(lambda month: _write_month(con, home, month, label), months)
            missing = dict(zip(months, written, strict=True))
    finally:
        con.close()
    return Monitored(missing, since or None)


def _write_month(con, home: Paths, month: str, label: str) -> list[str]:
    """Write both tables as of ``month``; return the municipality codes that delivered nothing."""
    cur = con.cursor()
    cur.register("ref_municipalities", code_table("municipalities"))
    for table, sql in zip(TABLES, (deliveries_sql, by_reason_sql), strict=True):
        with atomic_dir(home.statistics / table / f"as_of_month={month}") as out:
            cur.execute(
                f"COPY ({sql(home, month)}) TO '{out / STATISTICS_FILE}' ({db.PARQUET}, "
                f"KV_METADATA {{monitoring_table: '{table}', as_of_month: '{month}', "
                f"contract: 'deliveries v{contract()['version']}', data: '{label}'}})"
            )
            check_schema(out / STATISTICS_FILE, table)  # before the folder is swapped in
    path = home.statistics / "deliveries" / f"as_of_month={month}" / STATISTICS_FILE
    rows = cur.execute(
        f"SELECT municipality_code FROM read_parquet('{path}') WHERE NOT delivered ORDER BY 1"
    ).fetchall()
    cur.close()
    return [code for (code,) in rows]
