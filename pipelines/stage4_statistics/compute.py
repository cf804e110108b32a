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
from pipelines.stage3_register.register import read_register

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


def statistic_sql(name: str, register: str, as_of_month: str) -> str:
    """The one query that defines statistic ``name``."""
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
            keys = [f"period_{period}", *([g["group_by"]] if g["group_by"] else []), *dim_names]
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
      SELECT CASE {period_type} END AS period_type, {period_value} AS period,
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
    SELECT '{as_of_month}' AS as_of_month, a.period_type, a.period, a.geo_level, a.geo_code,
           coalesce(m.municipality_name_short, c.county_name, 'Riket') AS geo_name{dim_select},
           {names}{extra}
    FROM agg a
    LEFT JOIN ref_municipalities m ON a.geo_level = 'kommun' AND m.municipality_code = a.geo_code
    LEFT JOIN ref_counties c ON a.geo_level = 'lan' AND c.county_code = a.geo_code
    ORDER BY a.period_type, a.period, a.geo_level, a.geo_code{dim_select}
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
      SELECT g.period_type, g.period, g.geo_level, g.geo_code, {", ".join("g." + d for d in dims)}, {zeros}
      FROM (SELECT * FROM (SELECT DISTINCT period_type, period, geo_level, geo_code FROM a0) CROSS JOIN {cross}) g
      LEFT JOIN a0 a USING (period_type, period, geo_level, geo_code, {dim_list})"""


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


def build_statistic(paths: Paths, name: str, as_of_month: str) -> dict[str, int]:
    """Write ``4_statistics/<name>/as_of_month=M/data.parquet``; return row and cell counts."""
    con = connect()
    target = paths.statistics / name / f"as_of_month={as_of_month}"
    register = read_register(paths, as_of_month)
    sql = statistic_sql(name, register, as_of_month)
    label = data_label(con, register).replace("'", "''")
    with atomic_dir(target) as out:
        con.execute(
            f"""COPY ({sql}) TO '{out / STATISTICS_FILE}' (FORMAT parquet, COMPRESSION zstd,
            KV_METADATA {{statistic: '{name}', as_of_month: '{as_of_month}',
                          contract: 'statistics v{statistics_spec()["version"]}', disclosure_control: 'none (internal)', data: '{label}'}})"""
        )
        rows = con.execute(f"SELECT count(*) FROM read_parquet('{out / STATISTICS_FILE}')").fetchone()[0]
    con.close()
    return {"rows": rows}
