"""Statistics from the register, generated from ``schemas/statistics.yaml`` (each defined once).

A statistic is needed as of every extract month, and a report's state changes from one extract to the
next. Rather than rebuild the register as of each month and aggregate it again (work that grows with
months × reports), the register is read as events: an entry counts from its ``valid_from`` month until
the month a later entry of the same report replaces it (``valid_to``).

* ``count`` measures: +1/−1 deltas per event month are aggregated at every grouping (GROUPING SETS give
  riket/län/kommun × month/year in one pass) and summed over event months ≤ the as-of month. Exact.
* ``distinct`` measures (children): a child counts in a group from the first extract in which one of its
  reports falls in that group. Exact as long as a later extract does not move a report to another group
  (change its date received, municipality, age band or sex); the register's metadata counts such
  reports, and they can only overstate distinct children. With ``from: <lookup>`` a row counts only from
  the month its lookup names (e.g. the first extract holding an earlier report about the same child).
* ``quantile`` measures (days to decision): not additive, but a histogram is. +1/−1 deltas per event
  month × group × value, summed over event months ≤ the as-of month, give the distribution as of that
  month; the discrete percentile (nearest rank, = DuckDB's ``quantile_disc``) is read off its running sum.

Dimensions with a code list are completed to a full grid (a category with no reports is a 0, not a
missing row), which disclosure control and researchers both rely on.
"""

from __future__ import annotations

from typing import Any

import duckdb

from pipelines.core import db
from pipelines.core.atomic import atomic_dir
from pipelines.core.schemas import code_table, statistics_spec
from pipelines.core.settings import Paths, settings
from pipelines.stage2_pseudonymise.validate import expand
from pipelines.stage3_register.register import KEY, REGISTER_FILE
from pipelines.stage4_statistics.population import build_population

STATISTICS_FILE = "data.parquet"
GROUP = ["period_type", "period", "geo_level", "geo_code"]
# Lookups a table can name in statistics.yaml (`lookups:`): the columns each is joined on.
LOOKUPS = {"earlier_report_from": "child_pseudonym, date_received"}


def table_names() -> list[str]:
    return list(statistics_spec()["tables"])


def _counts(table: dict[str, Any]) -> dict[str, str]:
    return {name: expand(m["count"]) for name, m in table["measures"].items() if "count" in m}


def _distincts(table: dict[str, Any]) -> dict[str, tuple[str, str | None]]:
    """Distinct measures: (column counted, lookup month from which a row counts, or None)."""
    return {name: (m["distinct"], m.get("from")) for name, m in table["measures"].items() if "distinct" in m}


def _quantiles(table: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: m for name, m in table["measures"].items() if "quantile" in m}


def _zero_filled(table: dict[str, Any]) -> list[str]:
    """Measures that are 0 where nothing was counted (counts, distincts); quantiles stay null there."""
    return [n for n, m in table["measures"].items() if "count" in m or "distinct" in m]


def _grouping(table: dict[str, Any], time_column: str, extra: tuple[str, ...] = ()) -> tuple[str, str]:
    """(GROUPING SETS clause, SELECT of period_type/period/geo_level/geo_code) for a table.

    ``extra``: columns grouped on in every set besides the time column and the dimensions."""
    spec = statistics_spec()
    geos, dims = spec["geographies"], list(table.get("dimensions") or {})
    sets = []
    for period in spec["periods"]:
        for level in table["geographies"]:
            geo = [spec["geographies"][level]["group_by"]] if geos[level]["group_by"] else []
            sets.append("(" + ", ".join([time_column, f"period_{period}", *geo, *dims, *extra]) + ")")
    period_type = " ".join(f"WHEN grouping(period_{p}) = 0 THEN '{p}'" for p in spec["periods"])
    period = "coalesce(" + ", ".join(f"period_{p}" for p in spec["periods"]) + ")"
    # The finest level is tested first: grouping() is 0 for a column that is grouped on.
    levels, codes = [], []
    for level in reversed(table["geographies"]):
        g = geos[level]
        test = f"grouping({g['group_by']}) = 0" if g["group_by"] else "true"
        levels.append(f"WHEN {test} THEN '{level}'")
        codes.append(f"WHEN {test} THEN {g['code']}")
    select = (
        f"CASE {period_type} END AS period_type, {period} AS period, "
        f"CASE {' '.join(levels)} END AS geo_level, CASE {' '.join(codes)} END AS geo_code"
    )
    return f"GROUPING SETS ({', '.join(sets)})", select


def _source(table: dict[str, Any]) -> str:
    """Register entries with period columns, dimension columns and the table's filter."""
    dims = table.get("dimensions") or {}
    extra = "".join(
        f", unnest({d['unnest']}) AS {name}" if "unnest" in d else f", {d['column']} AS {name}"
        for name, d in dims.items()
    )
    where = f"WHERE {table['filter']}" if table.get("filter") else ""
    joins = "".join(
        f" LEFT JOIN lookup_{name} USING ({LOOKUPS[name]})" for name in table.get("lookups") or []
    )
    return f"""(SELECT *, strftime(month_received, '%Y-%m') AS period_month,
                      strftime(month_received, '%Y') AS period_year{extra}
               FROM entries{joins} {where})"""


def _events(table: dict[str, Any]) -> str:
    """Each register entry twice: +1 in the month it became current, −1 in the month it was replaced.

    An entry replaced by the first as-of month adds +1 and −1 to every as-of month: it is left out,
    which for a single as-of month (a monthly reload) leaves just the current entries and no −1 events.
    """
    current = "(valid_to IS NULL OR valid_to > (SELECT min(as_of_month) FROM as_of))"
    return f"""(SELECT valid_from AS event_month, 1 AS sign, * FROM {_source(table)} WHERE {current}
                UNION ALL BY NAME
                SELECT valid_to AS event_month, -1 AS sign, * FROM {_source(table)}
                WHERE valid_to IS NOT NULL AND {current})"""


def _in_window(period: str, as_of: str) -> str:
    """The periods an as-of month's statistics cover (its year and settings' earlier years)."""
    return f"CAST(left({period}, 4) AS INTEGER) >= CAST(left({as_of}, 4) AS INTEGER) - {_earlier()}"


def _quantile_parts(table: dict[str, Any]) -> list[str]:
    """CTEs: one histogram per (column, condition) as of every month, one percentile per measure."""
    dims = list(table.get("dimensions") or {})
    keys = ", ".join(GROUP + dims)
    histograms: dict[tuple[str, str], str] = {}
    parts = []
    for name, m in _quantiles(table).items():
        of, where = m["quantile"], expand(m.get("where", "true"))
        if (of, where) not in histograms:
            hist = histograms[of, where] = f"histogram_{len(histograms)}"
            grouping, group_select = _grouping(table, "event_month", (of,))
            parts.append(
                f"""{hist} AS (
                  SELECT a.as_of_month, {", ".join("d." + k for k in GROUP + dims)}, d.value, sum(d.n) AS n
                  FROM (SELECT {group_select}{"".join(", " + d for d in dims)}, event_month,
                               {of} AS value, sum(sign) AS n
                        FROM {_events(table)} WHERE ({where}) AND {of} IS NOT NULL
                        GROUP BY {grouping}) d
                  JOIN as_of a ON d.event_month <= a.as_of_month AND {_in_window("d.period", "a.as_of_month")}
                  GROUP BY ALL HAVING sum(d.n) > 0)"""
            )
            # The running count, once per histogram (the sort is the expensive part), for every percentile.
            parts.append(
                f"""{hist}_cumulative AS (
                  SELECT *, sum(n) OVER (PARTITION BY as_of_month, {keys} ORDER BY value) AS cum,
                            sum(n) OVER (PARTITION BY as_of_month, {keys}) AS total
                  FROM {hist})"""
            )
        # Integer arithmetic: the value where the running count first reaches percent % of the total.
        parts.append(
            f"""{name}_values AS (
              SELECT as_of_month, {keys}, min(value) FILTER (WHERE cum * 100 >= {int(m["percent"])} * total) AS {name}
              FROM {histograms[of, where]}_cumulative
              GROUP BY as_of_month, {keys})"""
        )
    return parts


def statistic_sql(name: str) -> str:
    """The one query that defines statistic ``name`` as of every month in table ``as_of``."""
    table = statistics_spec()["tables"][name]
    dims = list(table.get("dimensions") or {})
    counts, distincts = _counts(table), _distincts(table)
    grouping, group_select = _grouping(table, "event_month")
    keys = ", ".join(GROUP + dims)
    deltas = ", ".join(f"sum(sign * ({cond})::INTEGER) AS {m}" for m, cond in counts.items())
    parts = [
        f"""counted AS (
          SELECT a.as_of_month, {", ".join("d." + k for k in GROUP + dims)},
                 {", ".join(f"sum(d.{m})::BIGINT AS {m}" for m in counts)}
          FROM (SELECT {group_select}{"".join(", " + d for d in dims)}, event_month, {deltas}
                FROM {_events(table)}
                GROUP BY {grouping}) d
          JOIN as_of a ON d.event_month <= a.as_of_month AND {_in_window("d.period", "a.as_of_month")}
          GROUP BY ALL)"""
    ]
    joins = []
    for m, (column, since) in distincts.items():
        first_grouping, first_select = _grouping(table, column)
        first = f"greatest(valid_from, {since})" if since else "valid_from"
        counted_rows = f"{column} IS NOT NULL" + (f" AND {since} IS NOT NULL" if since else "")
        parts.append(
            f"""{m}_values AS (
              SELECT a.as_of_month, {", ".join("f." + k for k in GROUP + dims)}, sum(f.n)::BIGINT AS {m}
              FROM (SELECT {keys}, first_month, count(*) AS n FROM (
                      SELECT {first_select}{"".join(", " + d for d in dims)}, min({first}) AS first_month
                      FROM {_source(table)} WHERE {counted_rows}
                      GROUP BY {first_grouping})
                    GROUP BY ALL) f
              JOIN as_of a ON f.first_month <= a.as_of_month AND {_in_window("f.period", "a.as_of_month")}
              GROUP BY ALL)"""
        )
        joins.append(f"LEFT JOIN {m}_values USING (as_of_month, {keys})")
    parts += _quantile_parts(table)
    joins += [f"LEFT JOIN {m}_values USING (as_of_month, {keys})" for m in _quantiles(table)]
    measure_names = [n for n, m in table["measures"].items() if "derived" not in m]
    zero_filled = _zero_filled(table)
    values = [
        f"coalesce({n}, 0)::BIGINT AS {n}"
        if n in zero_filled
        else f"{n}::{table['measures'][n]['type']} AS {n}"
        for n in measure_names
    ]
    derived = [
        f"({m['derived']})::{m['type']} AS {n}" for n, m in table["measures"].items() if "derived" in m
    ]
    body = f"""
      SELECT as_of_month, {keys},
             {", ".join(values)}
      FROM counted {" ".join(joins)}
      WHERE reports > 0 AND {_in_window("period", "as_of_month")}"""
    if dims:
        body = _complete_grid(body, table)
    measures = ", ".join(measure_names + derived)
    dim_select = "".join(f", a.{d}" for d in dims)
    return f"""
    WITH {", ".join(parts)},
    result AS ({body})
    SELECT a.as_of_month, a.period_type, a.period, a.geo_level, a.geo_code,
           coalesce(m.municipality_name_short, c.county_name, 'Riket') AS geo_name{dim_select}, {measures}
    FROM result a
    LEFT JOIN ref_municipalities m ON a.geo_level = 'kommun' AND m.municipality_code = a.geo_code
    LEFT JOIN ref_counties c ON a.geo_level = 'lan' AND c.county_code = a.geo_code
    ORDER BY a.as_of_month, a.period_type, a.period, a.geo_level, a.geo_code{dim_select}
    """


def _earlier() -> int:
    return int(settings()["statistics"]["earlier_years"])


def _complete_grid(body: str, table: dict[str, Any]) -> str:
    """Every (as-of, period, geography) with reports × every code of every dimension; absent cells are 0."""
    dims = table["dimensions"]
    cross = " CROSS JOIN ".join(f"(SELECT code AS {d} FROM code_{spec['codes']})" for d, spec in dims.items())
    zero_filled = _zero_filled(table)
    names = [n for n, m in table["measures"].items() if "derived" not in m]
    zeros = ", ".join(f"coalesce(v.{n}, 0)::BIGINT AS {n}" if n in zero_filled else f"v.{n}" for n in names)
    keys = ", ".join(["as_of_month", *GROUP, *dims])
    return f"""
      WITH v AS ({body})
      SELECT {", ".join("g." + k for k in ["as_of_month", *GROUP, *dims])}, {zeros}
      FROM (SELECT * FROM (SELECT DISTINCT as_of_month, {", ".join(GROUP)} FROM v) CROSS JOIN {cross}) g
      LEFT JOIN v USING ({keys})"""


def connect() -> duckdb.DuckDBPyConnection:
    con = db.connect()
    con.register("ref_municipalities", code_table("municipalities"))
    con.register("ref_counties", code_table("counties"))
    for name in {
        d["codes"] for t in statistics_spec()["tables"].values() for d in (t.get("dimensions") or {}).values()
    }:
        con.register(f"code_{name}", code_table(name))
    return con


def _load_entries(con: duckdb.DuckDBPyConnection, paths: Paths, as_of_months: list[str]) -> None:
    """Temp tables ``entries`` (with valid_to) and ``as_of``, limited to the arrival years needed."""
    first_year = int(min(as_of_months)[:4]) - _earlier()
    glob = paths.register / "extract_month=*" / REGISTER_FILE
    # valid_from >= the first year selects no other rows (no report is received after the extract that
    # holds it), but lets DuckDB skip earlier extract months' files unread.
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE entries AS
        SELECT {", ".join(statistics_spec()["register_columns"])},
               lead(valid_from) OVER (PARTITION BY {KEY} ORDER BY valid_from) AS valid_to
        FROM read_parquet('{glob}')
        WHERE valid_from <= '{max(as_of_months)}' AND year(month_received) >= {first_year}
          AND valid_from >= '{first_year}-01'"""
    )
    con.execute("CREATE OR REPLACE TEMP TABLE as_of (as_of_month VARCHAR)")
    con.executemany("INSERT INTO as_of VALUES (?)", [[m] for m in as_of_months])


def _load_earlier_report_from(con: duckdb.DuckDBPyConnection, paths: Paths, as_of_months: list[str]) -> None:
    """Temp table ``lookup_earlier_report_from``: per (child, date received) the first extract month that
    held another report about the child received min_days..max_days before (statistics.yaml lookups).

    Read from the register itself, not ``entries``: the earlier report may have arrived before the first
    year of arrival the statistics cover. Each (child, date) counts from the first extract that had it.
    """
    window = statistics_spec()["lookups"]["earlier_report_from"]
    first_day = f"make_date({int(min(as_of_months)[:4]) - _earlier()}, 1, 1)"
    lo, hi = int(window["min_days"]), int(window["max_days"])
    glob = paths.register / "extract_month=*" / REGISTER_FILE
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE lookup_earlier_report_from AS
        WITH seen AS (
          SELECT child_pseudonym, date_received, min(valid_from) AS first_month
          FROM read_parquet('{glob}')
          WHERE valid_from <= '{max(as_of_months)}' AND child_pseudonym IS NOT NULL
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
    """Replace the 64-character pseudonym by a dense integer in ``entries`` and the lookup tables.

    One-to-one within the connection, so every distinct count is unchanged; the hash tables that count
    distinct children per group hold 4-byte keys instead of strings, which halves a year's peak memory.
    The numbers never leave the connection.
    """
    con.execute(
        """CREATE OR REPLACE TEMP TABLE child_numbers AS
        SELECT child_pseudonym, (row_number() OVER ())::INTEGER AS child_number
        FROM (SELECT DISTINCT child_pseudonym FROM entries WHERE child_pseudonym IS NOT NULL)"""
    )
    con.execute(
        """CREATE OR REPLACE TEMP TABLE entries AS
        SELECT e.* REPLACE (n.child_number AS child_pseudonym)
        FROM entries e LEFT JOIN child_numbers n ON n.child_pseudonym = e.child_pseudonym"""
    )
    for (table,) in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE temporary AND starts_with(table_name, 'lookup_')"
    ).fetchall():
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE {table} AS
            SELECT l.* REPLACE (n.child_number AS child_pseudonym)
            FROM {table} l JOIN child_numbers n ON n.child_pseudonym = l.child_pseudonym"""
        )
    con.execute("DROP TABLE child_numbers")


def data_label(con: duckdb.DuckDBPyConnection) -> str:
    """'real' or the synthetic-data label, decided by the demo's report id prefix (settings.yaml)."""
    demo = settings()["demo"]
    prefix = demo["report_id_prefix"].replace("'", "''")
    synthetic = db.scalar(con, f"SELECT count(*) FROM entries WHERE starts_with(report_id, '{prefix}')")
    return demo["label"] if synthetic else "real"


def build_statistics(paths: Paths, as_of_months: list[str], names: list[str] | None = None) -> dict[str, int]:
    """Compute each statistic for every as-of month; write one folder per as-of month.

    ``4_statistics/<name>/as_of_month=M/data.parquet``, each swapped in whole. Returns rows per table.
    The months are done one calendar year at a time, each in one query per statistic: a year's as-of
    months need only its own and the earlier years' arrivals, so a 10-year backfill holds two years of
    register entries in memory at a time, not ten.
    """
    names = names or table_names()
    rows = dict.fromkeys(names, 0)
    for year in sorted({month[:4] for month in as_of_months}):
        chunk = sorted(month for month in as_of_months if month.startswith(year))
        for name, n in _build_year(paths, chunk, names).items():
            rows[name] += n
    build_population(paths)  # the denominators, when a population file is supplied
    return rows


def _build_year(paths: Paths, as_of_months: list[str], names: list[str]) -> dict[str, int]:
    con = connect()
    _load_entries(con, paths, as_of_months)
    _load_lookups(con, paths, as_of_months, names)
    _number_children(con)
    label = data_label(con).replace("'", "''")
    version = statistics_spec()["version"]
    rows = {}
    for name in names:
        con.execute(f"CREATE OR REPLACE TEMP TABLE result AS {statistic_sql(name)}")
        for month in as_of_months:
            with atomic_dir(paths.statistics / name / f"as_of_month={month}") as out:
                con.execute(
                    f"""COPY (SELECT * FROM result WHERE as_of_month = '{month}') TO '{out / STATISTICS_FILE}'
                    (FORMAT parquet, COMPRESSION zstd, KV_METADATA {{statistic: '{name}', as_of_month: '{month}',
                     contract: 'statistics v{version}', disclosure_control: 'none (internal)', data: '{label}'}})"""
                )
        rows[name] = db.scalar(con, "SELECT count(*) FROM result")
    con.close()
    return rows
