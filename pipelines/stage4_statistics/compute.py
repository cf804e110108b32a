"""Statistics from the register, generated from ``schemas/statistics.yaml`` (each defined once).

For every table in the spec one SQL query is generated: GROUPING SETS give the riket/län/kommun levels in
one pass; dimensions with a code list are completed to a full grid (a category with no reports is a 0,
not a missing row), which disclosure control and researchers both rely on.
"""

from __future__ import annotations

from typing import Any

import duckdb

from pipelines.core.atomic import atomic_dir
from pipelines.core.schemas import code_table, statistics_spec
from pipelines.core.settings import Paths, settings
from pipelines.stage2_pseudonymise.validate import expand
from pipelines.stage3_register.register import history

STATISTICS_FILE = "data.parquet"


def table_names() -> list[str]:
    return list(statistics_spec()["tables"])


def _measures(spec: dict[str, Any]) -> tuple[list[str], list[str]]:
    base, derived = [], []
    for name, m in spec["measures"].items():
        if "sql" in m:
            base.append(f"({expand(m['sql'])})::{m['type']} AS {name}")
        else:
            derived.append(f"({m['derived']})::{m['type']} AS {name}")
    return base, derived


def register_as_of(paths: Paths, as_of_months: list[str]) -> str:
    """A FROM item: the register as of each month in ``as_of_months``, tagged ``as_of_month``.

    Each as-of month covers arrivals in its own year and ``statistics.earlier_years`` before it.
    """
    earlier = int(settings()["statistics"]["earlier_years"])
    months = ", ".join(f"('{m}')" for m in as_of_months)
    return f"""(
      SELECT h.* EXCLUDE (valid_to), a.as_of_month
      FROM {history(paths, max(as_of_months))} h
      JOIN (VALUES {months}) a(as_of_month)
        ON h.valid_from <= a.as_of_month AND (h.valid_to IS NULL OR h.valid_to > a.as_of_month)
      WHERE year(h.month_received) >= CAST(left(a.as_of_month, 4) AS INTEGER) - {earlier}
    )"""


def statistic_sql(name: str, register: str) -> str:
    """The one query that defines statistic ``name``, for every as-of month in ``register``."""
    spec = statistics_spec()
    table = spec["tables"][name]
    geos = spec["geographies"]
    dims: dict[str, dict] = table.get("dimensions") or {}
    source_cols = [
        f"unnest({d['unnest']}) AS {dim}" if "unnest" in d else f"{d['column']} AS {dim}"
        for dim, d in dims.items()
    ]
    where = f"WHERE {table['filter']}" if table.get("filter") else ""
    dim_names = list(dims)
    sets, level_cases, code_cases = [], [], []
    # Years are aggregated from the register, not summed from months: a child reported in March and
    # in May is one distinct child in the year.
    for period in spec["periods"]:
        for level in table["geographies"]:
            g = geos[level]
            keys = [
                "as_of_month",
                f"period_{period}",
                *([g["group_by"]] if g["group_by"] else []),
                *dim_names,
            ]
            sets.append("(" + ", ".join(keys) + ")")
    # The finest level is tested first: grouping() is 0 for a column that is grouped on.
    for level in reversed(table["geographies"]):
        g = geos[level]
        test = f"grouping({g['group_by']}) = 0" if g["group_by"] else "true"
        level_cases.append(f"WHEN {test} THEN '{level}'")
        code_cases.append(f"WHEN {test} THEN {g['code']}")
    base, derived = _measures(table)
    dim_select = "".join(f", {d}" for d in dim_names)
    period_type = " ".join(f"WHEN grouping(period_{p}) = 0 THEN '{p}'" for p in spec["periods"])
    period_value = "coalesce(" + ", ".join(f"period_{p}" for p in spec["periods"]) + ")"
    agg = f"""
      SELECT as_of_month, CASE {period_type} END AS period_type, {period_value} AS period,
        CASE {" ".join(level_cases)} END AS geo_level,
        CASE {" ".join(code_cases)} END AS geo_code{dim_select},
        {", ".join(base)}
      FROM (SELECT *, strftime(month_received, '%Y-%m') AS period_month, strftime(month_received, '%Y') AS period_year
                   {"".join(", " + c for c in source_cols)} FROM {register} {where})
      GROUP BY GROUPING SETS ({", ".join(sets)})"""
    body = _complete_grid(agg, dims, table) if dims else agg
    names = ", ".join(n for n, m in table["measures"].items() if "sql" in m)
    extra = (", " + ", ".join(derived)) if derived else ""
    return f"""
    WITH agg AS ({body})
    SELECT a.as_of_month, a.period_type, a.period, a.geo_level, a.geo_code,
           coalesce(m.municipality_name_short, c.county_name, 'Riket') AS geo_name{dim_select},
           {names}{extra}
    FROM agg a
    LEFT JOIN ref_municipalities m ON a.geo_level = 'kommun' AND m.municipality_code = a.geo_code
    LEFT JOIN ref_counties c ON a.geo_level = 'lan' AND c.county_code = a.geo_code
    ORDER BY a.as_of_month, a.period_type, a.period, a.geo_level, a.geo_code{dim_select}
    """


def _complete_grid(agg: str, dims: dict[str, dict], table: dict[str, Any]) -> str:
    """Every (period, geography) that has reports × every code of every dimension; absent cells are 0."""
    cross = " CROSS JOIN ".join(f"(SELECT code AS {d} FROM code_{spec['codes']})" for d, spec in dims.items())
    dim_list = ", ".join(dims)
    zeros = ", ".join(
        f"coalesce(a.{n}, 0)::{m['type']} AS {n}" for n, m in table["measures"].items() if "sql" in m
    )
    return f"""
      WITH a0 AS ({agg})
      SELECT g.as_of_month, g.period_type, g.period, g.geo_level, g.geo_code,
             {", ".join("g." + d for d in dims)}, {zeros}
      FROM (SELECT * FROM (SELECT DISTINCT as_of_month, period_type, period, geo_level, geo_code FROM a0)
            CROSS JOIN {cross}) g
      LEFT JOIN a0 a USING (as_of_month, period_type, period, geo_level, geo_code, {dim_list})"""


def connect() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(":memory:")
    con.execute("SET temp_directory = ''")
    con.register("ref_municipalities", code_table("municipalities"))
    con.register("ref_counties", code_table("counties"))
    for name in {
        d["codes"] for t in statistics_spec()["tables"].values() for d in (t.get("dimensions") or {}).values()
    }:
        con.register(f"code_{name}", code_table(name))
    return con


def data_label(con: duckdb.DuckDBPyConnection, register: str) -> str:
    """'real' or the synthetic-data label, decided by the demo's report id prefix (settings.yaml)."""
    demo = settings()["demo"]
    prefix = demo["report_id_prefix"].replace("'", "''")
    (synthetic,) = con.execute(
        f"SELECT count(*) FROM {register} WHERE starts_with(report_id, '{prefix}')"
    ).fetchone()
    return demo["label"] if synthetic else "real"


def build_statistics(paths: Paths, as_of_months: list[str], names: list[str] | None = None) -> dict[str, int]:
    """Compute each statistic for every as-of month in one query; write one folder per as-of month.

    ``4_statistics/<name>/as_of_month=M/data.parquet``, each swapped in whole. Returns rows per table.
    """
    con = connect()
    con.execute(f"CREATE TEMP TABLE register AS SELECT * FROM {register_as_of(paths, as_of_months)}")
    label = data_label(con, "register").replace("'", "''")
    rows = {}
    for name in names or table_names():
        con.execute(f"CREATE OR REPLACE TEMP TABLE result AS {statistic_sql(name, 'register')}")
        for month in as_of_months:
            with atomic_dir(paths.statistics / name / f"as_of_month={month}") as out:
                con.execute(
                    f"""COPY (SELECT * FROM result WHERE as_of_month = '{month}') TO '{out / STATISTICS_FILE}'
                    (FORMAT parquet, COMPRESSION zstd, KV_METADATA {{statistic: '{name}', as_of_month: '{month}',
                     contract: 'statistics v{statistics_spec()["version"]}',
                     disclosure_control: 'none (internal)', data: '{label}'}})"""
                )
        rows[name] = con.execute("SELECT count(*) FROM result").fetchone()[0]
    con.close()
    return rows
