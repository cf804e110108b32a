"""The register read into DuckDB for a year's statistics: the entries the extracts touch, code lists,
lookups (an earlier report about the same child), and children numbered for the distinct counts.
"""

from __future__ import annotations

import duckdb

from pipelines.core import db
from pipelines.core.schemas import code_table, statistics_spec
from pipelines.core.settings import Paths, settings
from pipelines.stage3_register.register import KEY
from pipelines.stage3_register.register import entries as register_entries
from pipelines.stage4_statistics import due
from pipelines.stage4_statistics.sql import _earlier, record_key_sql


def connect() -> duckdb.DuckDBPyConnection:
    con = db.connect()
    memory = str(settings()["statistics"]["block_allocator_memory"]).replace("'", "")
    con.execute(f"SET block_allocator_memory = '{memory}'")
    _register_codes(con)
    return con


def _register_codes(con: duckdb.DuckDBPyConnection) -> None:
    """The code tables the statistics join (registered views are per connection)."""
    con.register("ref_municipalities", code_table("municipalities"))
    con.register("ref_counties", code_table("counties"))
    for name in {
        d["codes"] for t in statistics_spec()["tables"].values() for d in (t.get("dimensions") or {}).values()
    }:
        con.register(f"code_{name}", code_table(name))


def _lookup_reach_days() -> int:
    """How far before the first day of arrival a lookup reads the register (statistics.yaml lookups)."""
    return max((int(w["max_days"]) for w in statistics_spec()["lookups"].values()), default=0)


def _load_entries(con: duckdb.DuckDBPyConnection, paths: Paths, as_of_months: list[str], since: str) -> None:
    """Tables ``entries`` (with valid_to), ``child_entries`` and ``as_of``, limited to the arrival years
    needed, and view ``child_register`` (what the lookups read); ordinary tables of the in-memory
    database, so that the statistics' cursors share them.

    Without a carried state (``since`` = ''), both are every entry of those years and the lookups read
    the register. With a state as of ``since``, only what can change a part after it: ``entries`` holds
    the reports with an entry after ``since`` (their earlier entries give the −1 events), ``child_entries``
    every entry about the children in those (a child is counted in a group from its first row there, which
    may be older). The register is then read once, reaching back as far as the lookups need for those
    children (``child_register``), instead of once for the entries and again for the lookups.
    """
    first_year = int(min(as_of_months)[:4]) - _earlier()
    register = register_entries(paths)
    columns = ", ".join(statistics_spec()["register_columns"])
    # valid_from >= the first year selects no other rows (no report is received after the extract that
    # holds it), but lets DuckDB skip earlier extract months' files unread.
    in_years = f"year(month_received) >= {first_year} AND valid_from >= '{first_year}-01'"
    history = f"""(SELECT {columns}, {record_key_sql()} FROM {register}
        WHERE valid_from <= '{max(as_of_months)}' AND {in_years})"""
    with_valid_to = f"lead(valid_from) OVER (PARTITION BY {KEY} ORDER BY valid_from) AS valid_to"
    if not since:
        con.execute(f"CREATE OR REPLACE TABLE entries AS SELECT *, {with_valid_to} FROM {history}")
        con.execute("CREATE OR REPLACE VIEW child_entries AS SELECT * FROM entries")
        con.execute(f"CREATE OR REPLACE VIEW child_register AS SELECT * FROM {register}")
    else:
        # The reports and children in the new extracts (few files), then one pass over the history.
        new = f"(SELECT * FROM {history} WHERE valid_from > '{since}')"
        # and the reports delivered in ``since``'s extract whose deadline passes later (module ``due``)
        again = f"(SELECT * FROM {history} WHERE valid_from > '{since}' OR {due.touched_sql(since)})"
        con.execute(f"CREATE OR REPLACE TABLE touched AS SELECT DISTINCT {KEY} FROM {again}")
        con.execute(f"CREATE OR REPLACE TABLE children AS SELECT DISTINCT child_pseudonym FROM {new}")
        reach = f"make_date({first_year}, 1, 1) - INTERVAL ({_lookup_reach_days()}) DAY"
        con.execute(
            f"""CREATE OR REPLACE TABLE relevant AS
            SELECT * FROM (SELECT {columns}, {record_key_sql()}, child_pseudonym IN (SELECT child_pseudonym FROM children) AS about_child,
                                  ({KEY}) IN (SELECT ({KEY}) FROM touched) AS touched,
                                  {in_years} AS in_years
                           FROM {register}
                           WHERE valid_from <= '{max(as_of_months)}' AND valid_from >= strftime({reach}, '%Y-%m'))
            WHERE about_child OR (touched AND in_years)"""
        )
        flags = "EXCLUDE (about_child, touched, in_years)"
        con.execute(
            f"""CREATE OR REPLACE TABLE entries AS
            SELECT * {flags}, {with_valid_to} FROM relevant WHERE touched AND in_years"""
        )
        # A child's first month in a group can be after ``since`` only in a year of arrival that a new
        # entry falls in, or a later one (the first of the child's reports in a group decides it, and a
        # lookup month is after ``since`` only for a report received after a new one): earlier years'
        # entries cannot change any part, so they are left out.
        first_new_year = db.scalar(
            con, f"SELECT min(year(month_received)) FROM relevant WHERE valid_from > '{since}'"
        )
        con.execute(
            f"""CREATE OR REPLACE VIEW child_entries AS SELECT * {flags} FROM relevant
            WHERE about_child AND in_years AND year(month_received) >= {first_new_year or 0}"""
        )
        con.execute(
            f"CREATE OR REPLACE VIEW child_register AS SELECT * {flags} FROM relevant WHERE about_child"
        )
        for table in ("touched", "children"):
            con.execute(f"DROP TABLE {table}")
    con.execute("CREATE OR REPLACE TABLE as_of (as_of_month VARCHAR)")
    con.executemany("INSERT INTO as_of VALUES (?)", [[m] for m in as_of_months])


def _load_earlier_report_from(con: duckdb.DuckDBPyConnection, paths: Paths, as_of_months: list[str]) -> None:
    """Table ``lookup_earlier_report_from``: per (child, date received) the first extract month that
    held another report about the child received min_days..max_days before (statistics.yaml lookups).

    Read from the register (view ``child_register``), not ``entries``: the earlier report may have arrived
    before the first year of arrival the statistics cover. Each (child, date) counts from the first
    extract that had it. Only for the children in ``child_entries``: a row's lookup changes only in an
    extract that has a report about the child.
    """
    window = statistics_spec()["lookups"]["earlier_report_from"]
    first_day = f"make_date({int(min(as_of_months)[:4]) - _earlier()}, 1, 1)"
    lo, hi = int(window["min_days"]), int(window["max_days"])
    con.execute(
        f"""CREATE OR REPLACE TABLE lookup_earlier_report_from AS
        WITH seen AS (
          SELECT child_pseudonym, date_received, min(valid_from) AS first_month
          FROM child_register
          WHERE valid_from <= '{max(as_of_months)}' AND child_pseudonym IS NOT NULL
            AND child_pseudonym IN (SELECT child_pseudonym FROM child_entries)
            AND date_received >= {first_day} - INTERVAL ({hi}) DAY
            AND valid_from >= strftime({first_day} - INTERVAL ({hi}) DAY, '%Y-%m')
          GROUP BY ALL)
        SELECT l.child_pseudonym, l.date_received, min(e.first_month) AS earlier_report_from
        FROM seen l JOIN seen e ON e.child_pseudonym = l.child_pseudonym
          AND e.date_received BETWEEN l.date_received - INTERVAL ({hi}) DAY AND l.date_received - INTERVAL ({lo}) DAY
        WHERE l.date_received >= {first_day}
        GROUP BY ALL"""
    )


def _load_lookups(
    con: duckdb.DuckDBPyConnection, paths: Paths, as_of_months: list[str], names: list[str]
) -> None:
    """The lookup tables the statistics ``names`` use, each built once."""
    needed = {lookup for n in names for lookup in statistics_spec()["tables"][n].get("lookups") or []}
    loaders = {"earlier_report_from": _load_earlier_report_from}
    for lookup in sorted(needed):
        loaders[lookup](con, paths, as_of_months)


def _number_children(con: duckdb.DuckDBPyConnection) -> None:
    """Replace the 64-character pseudonym by a dense integer in ``entries`` and the lookup tables
    (``child_entries`` is then a view of ``entries``: computed from the register, not a carried state).

    One-to-one within the connection, so every distinct count is unchanged; the hash tables that count
    distinct children per group hold 4-byte keys instead of strings, which halves a year's peak memory.
    The numbers never leave the connection.
    """
    con.execute(
        """CREATE OR REPLACE TABLE child_numbers AS
        SELECT child_pseudonym, (row_number() OVER ())::INTEGER AS child_number
        FROM (SELECT DISTINCT child_pseudonym FROM entries WHERE child_pseudonym IS NOT NULL)"""
    )
    numbered = con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE table_name = 'entries' OR starts_with(table_name, 'lookup_')"
    ).fetchall()
    for (table,) in numbered:
        # Entries keep their rows about unidentified children (no number); every lookup row has one.
        join = "JOIN" if table.startswith("lookup_") else "LEFT JOIN"
        con.execute(
            f"""CREATE OR REPLACE TABLE {table} AS
            SELECT t.* REPLACE (n.child_number AS child_pseudonym)
            FROM {table} t {join} child_numbers n ON n.child_pseudonym = t.child_pseudonym"""
        )
    con.execute("DROP TABLE child_numbers")


def data_label(con: duckdb.DuckDBPyConnection, paths: Paths) -> str:
    """'real' or the synthetic-data label, decided by the demo's report id prefix (settings.yaml).

    From the entries read; when they are none (a run continuing from a carried state over months
    that delivered nothing), from the register.
    """
    demo = settings()["demo"]
    prefix = demo["report_id_prefix"].replace("'", "''")
    source = "entries"
    if not db.scalar(con, "SELECT count(*) FROM entries"):
        source = register_entries(paths)
    synthetic = db.scalar(
        con, f"SELECT count(*) FROM (SELECT 1 FROM {source} WHERE starts_with(report_id, '{prefix}') LIMIT 1)"
    )
    return demo["label"] if synthetic else "real"
