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
  reports, and they can only overstate distinct children.

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

STATISTICS_FILE = "data.parquet"
GROUP = ["period_type", "period", "geo_level", "geo_code"]


def table_names() -> list[str]:
    return list(statistics_spec()["tables"])


def _counts(table: dict[str, Any]) -> dict[str, str]:
    return {name: expand(m["count"]) for name, m in table["measures"].items() if "count" in m}


def _distincts(table: dict[str, Any]) -> dict[str, str]:
    return {name: m["distinct"] for name, m in table["measures"].items() if "distinct" in m}


def _grouping(table: dict[str, Any], time_column: str) -> tuple[str, str]:
    """(GROUPING SETS clause, SELECT of period_type/period/geo_level/geo_code) for a table."""
    spec = statistics_spec()
    geos, dims = spec["geographies"], list(table.get("dimensions") or {})
    sets = []
    for period in spec["periods"]:
        for level in table["geographies"]:
            geo = [spec["geographies"][level]["group_by"]] if geos[level]["group_by"] else []
            sets.append("(" + ", ".join([time_column, f"period_{period}", *geo, *dims]) + ")")
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
    return f"""(SELECT *, strftime(month_received, '%Y-%m') AS period_month,
                      strftime(month_received, '%Y') AS period_year{extra}
               FROM entries {where})"""


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
                FROM (SELECT valid_from AS event_month, 1 AS sign, * FROM {_source(table)}
                      UNION ALL BY NAME
                      SELECT valid_to AS event_month, -1 AS sign, * FROM {_source(table)}
                      WHERE valid_to IS NOT NULL)
                GROUP BY {grouping}) d
          JOIN as_of a ON d.event_month <= a.as_of_month
          GROUP BY ALL)"""
    ]
    joins = []
    for m, column in distincts.items():
        first_grouping, first_select = _grouping(table, column)
        parts.append(
            f"""{m}_values AS (
              SELECT a.as_of_month, {", ".join("f." + k for k in GROUP + dims)}, sum(f.n)::BIGINT AS {m}
              FROM (SELECT {keys}, first_month, count(*) AS n FROM (
                      SELECT {first_select}{"".join(", " + d for d in dims)}, min(valid_from) AS first_month
                      FROM {_source(table)} WHERE {column} IS NOT NULL
                      GROUP BY {first_grouping})
                    GROUP BY ALL) f
              JOIN as_of a ON f.first_month <= a.as_of_month
              GROUP BY ALL)"""
        )
        joins.append(f"LEFT JOIN {m}_values USING (as_of_month, {keys})")
    measure_names = [n for n, m in table["measures"].items() if "derived" not in m]
    derived = [
        f"({m['derived']})::{m['type']} AS {n}" for n, m in table["measures"].items() if "derived" in m
    ]
    body = f"""
      SELECT as_of_month, {keys},
             {", ".join(f"coalesce({n}, 0)::BIGINT AS {n}" for n in measure_names)}
      FROM counted {" ".join(joins)}
      WHERE reports > 0 AND CAST(left(period, 4) AS INTEGER) >= CAST(left(as_of_month, 4) AS INTEGER) - {_earlier()}"""
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
    names = [n for n, m in table["measures"].items() if "derived" not in m]
    zeros = ", ".join(f"coalesce(v.{n}, 0)::BIGINT AS {n}" for n in names)
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
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE entries AS
        SELECT *, lead(valid_from) OVER (PARTITION BY {KEY} ORDER BY valid_from) AS valid_to
        FROM read_parquet('{glob}')
        WHERE valid_from <= '{max(as_of_months)}' AND year(month_received) >= {first_year}"""
    )
    con.execute("CREATE OR REPLACE TEMP TABLE as_of (as_of_month VARCHAR)")
    con.executemany("INSERT INTO as_of VALUES (?)", [[m] for m in as_of_months])


def data_label(con: duckdb.DuckDBPyConnection) -> str:
    """'real' or the synthetic-data label, decided by the demo's report id prefix (settings.yaml)."""
    demo = settings()["demo"]
    prefix = demo["report_id_prefix"].replace("'", "''")
    synthetic = db.scalar(con, f"SELECT count(*) FROM entries WHERE starts_with(report_id, '{prefix}')")
    return demo["label"] if synthetic else "real"


def build_statistics(paths: Paths, as_of_months: list[str], names: list[str] | None = None) -> dict[str, int]:
    """Compute each statistic for every as-of month in one query; write one folder per as-of month.

    ``4_statistics/<name>/as_of_month=M/data.parquet``, each swapped in whole. Returns rows per table.
    """
    con = connect()
    _load_entries(con, paths, as_of_months)
    label = data_label(con).replace("'", "''")
    version = statistics_spec()["version"]
    rows = {}
    for name in names or table_names():
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
