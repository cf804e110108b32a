"""The SQL of each statistic, generated from ``schemas/statistics.yaml``: its parts (counts, children by first
month, histograms as +1/-1 deltas per event month) and the result read off them. Why it is shaped like this:
pipelines/stage4_statistics/compute.py.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pipelines.core.schemas import statistics_spec
from pipelines.core.settings import settings
from pipelines.stage2_pseudonymise.validate import expand
from pipelines.stage4_statistics import coverage, due

GROUP = ["period_type", "period", "geo_level", "geo_code"]


# Lookups a table can name in statistics.yaml (`lookups:`): the columns each is joined on.
LOOKUPS = {"earlier_report_from": "child_pseudonym, date_received"}


def table_names() -> list[str]:
    return list(statistics_spec()["tables"])


def _counts(table: dict[str, Any]) -> dict[str, str]:
    return {name: expand(m["count"]) for name, m in table["measures"].items() if "count" in m}


def _key_sums(table: dict[str, Any]) -> dict[str, str]:
    """Key-sum measures: the condition of the count they shadow (summed over ``record_key``, not 1)."""
    counts = _counts(table)
    return {name: counts[m["key_sum"]] for name, m in table["measures"].items() if "key_sum" in m}


def _summed(table: dict[str, Any]) -> list[str]:
    """Measures that are sums of per-entry deltas (the ``counted`` part): counts and key sums."""
    return [*_counts(table), *_key_sums(table)]


def record_key_sql() -> str:
    """A report's record key (statistics.yaml ``record_key``), for the cell-key method of stage 5."""
    return f"({statistics_spec()['record_key']})::BIGINT AS record_key"


def _distincts(table: dict[str, Any]) -> dict[str, tuple[str, str | None]]:
    """Distinct measures: (column counted, lookup month from which a row counts, or None)."""
    return {name: (m["distinct"], m.get("from")) for name, m in table["measures"].items() if "distinct" in m}


def _quantiles(table: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: m for name, m in table["measures"].items() if "quantile" in m}


def _zero_filled(table: dict[str, Any]) -> list[str]:
    """Measures that are 0 where nothing was counted (counts, distincts); quantiles stay null there."""
    return [n for n, m in table["measures"].items() if {"count", "distinct", "key_sum"} & set(m)]


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


def _finest(table: dict[str, Any], select: str, rows: str, where: str = "true") -> str:
    """``rows`` aggregated at the finest grain any grouping set needs (month of arrival, municipality,
    the dimensions) plus ``select``'s columns: GROUPING SETS then roll up a few thousand rows per month
    instead of scanning every event once per set (six sets: riket/län/kommun × month/year)."""
    spec = statistics_spec()
    geo = [
        spec["geographies"][g]["group_by"] for g in table["geographies"] if spec["geographies"][g]["group_by"]
    ]
    keys = ", ".join([*(f"period_{p}" for p in spec["periods"]), *geo, *(table.get("dimensions") or {})])
    return f"SELECT {keys}, {select} FROM {rows} WHERE {where} GROUP BY ALL"


def _source(table: dict[str, Any], rows: str = "entries", uses: str = "") -> str:
    """Register entries (``rows``) with period columns, dimension columns and the table's filter.

    A lookup is joined only where the filter or ``uses`` (the part's expressions) name its column:
    joining it to every event of a count that never reads it cost ≈ 40 % of such a part."""
    dims = table.get("dimensions") or {}
    extra = "".join(
        f", unnest({d['unnest']}) AS {name}" if "unnest" in d else f", {d['column']} AS {name}"
        for name, d in dims.items()
    )
    where = f"WHERE {table['filter']}" if table.get("filter") else ""
    used = f"{table.get('filter') or ''} {uses}"
    joins = "".join(
        f" LEFT JOIN lookup_{name} USING ({LOOKUPS[name]})"
        for name in table.get("lookups") or []
        if re.search(rf"\b{name}\b", used)
    )
    return f"""(SELECT *, strftime(month_received, '%Y-%m') AS period_month,
                      strftime(month_received, '%Y') AS period_year,
                      {due.due_month_sql()} AS {due.DUE_MONTH}{extra}
               FROM {rows}{joins} {where})"""


def _events(table: dict[str, Any], since: str, uses: str, with_due: bool = False) -> str:
    """Each register entry twice: +1 in the month it became current, −1 in the month it was replaced.
    ``with_due``: also the signs of due counts (module ``due``).

    Only events after ``since`` (the month of the carried state, whose parts hold all earlier ones;
    '' without a state). An entry replaced by the first month that counts adds nothing to any as-of
    month: it is left out, which for a single as-of month without a state leaves just the current
    entries and no −1 events.
    """
    first = f"'{since}'" if since else "(SELECT min(as_of_month) FROM as_of)"
    current = f"(valid_to IS NULL OR valid_to > {first})"
    source = _source(table, uses=uses)
    plus, minus, third = due.events_sql(source, since, current) if with_due else ("", "", "")
    return f"""(SELECT valid_from AS event_month, 1 AS sign{plus}, * FROM {source}
                WHERE {current} AND valid_from > '{since}'
                UNION ALL BY NAME
                SELECT valid_to AS event_month, -1 AS sign{minus}, * FROM {source}
                WHERE valid_to IS NOT NULL AND {current}{third})"""


def _in_window(period: str, as_of: str) -> str:
    """The periods an as-of month's statistics cover (its year and settings' earlier years)."""
    return f"CAST(left({period}, 4) AS INTEGER) >= CAST(left({as_of}, 4) AS INTEGER) - {_earlier()}"


def _carried(carried_from: Path | None, part: str, select: str) -> str:
    """A UNION branch adding a part's carried state (as of ``since``), or nothing without a state."""
    if carried_from is None:
        return ""
    return f" UNION ALL BY NAME SELECT {select} FROM read_parquet('{carried_from / f'{part}.parquet'}')"


def _histograms(table: dict[str, Any]) -> dict[tuple[str, str], str]:
    """One days-to-decision histogram per (column, condition) the table's quantiles use: its part name."""
    histograms: dict[tuple[str, str], str] = {}
    for m in _quantiles(table).values():
        key = (m["quantile"], expand(m.get("where", "true")))
        histograms.setdefault(key, f"histogram_{len(histograms)}")
    return histograms


def part_names(name: str) -> list[str]:
    """The additive parts of statistic ``name`` (what a carried state holds)."""
    table = statistics_spec()["tables"][name]
    return ["counted", *(f"{m}_values" for m in _distincts(table)), *_histograms(table).values()]


def parts_sql(name: str, carried_from: Path | None = None, since: str = "") -> dict[str, str]:
    """The additive parts of statistic ``name`` as of every month in table ``as_of``: part → SELECT.

    Each part as of month M is its state as of ``since`` (files in ``carried_from``) plus what the extracts
    after ``since`` added; without a state, everything the register holds up to M.
    """
    table = statistics_spec()["tables"][name]
    dims = list(table.get("dimensions") or {})
    keys = ", ".join(GROUP + dims)
    counts = _summed(table)
    grouping, group_select = _grouping(table, "event_month")
    deltas = ", ".join(
        [f"sum({due.sign(table, m)} * ({cond})::INTEGER) AS {m}" for m, cond in _counts(table).items()]
        + [
            f"sum({due.sign(table, m)} * ({cond})::BIGINT * record_key) AS {m}"
            for m, cond in _key_sums(table).items()
        ]
    )
    parts = {
        "counted": f"""
          SELECT a.as_of_month, {", ".join("d." + k for k in GROUP + dims)},
                 {", ".join(f"sum(d.{m})::BIGINT AS {m}" for m in counts)}
          FROM (SELECT {group_select}{"".join(", " + d for d in dims)}, event_month,
                       {", ".join(f"sum({m}) AS {m}" for m in counts)}
                FROM ({_finest(table, f"event_month, {deltas}", _events(table, since, deltas, due.has_due(table)))})
                GROUP BY {grouping}{_carried(carried_from, "counted", f"*, '{since}' AS event_month")}) d
          JOIN as_of a ON d.event_month <= a.as_of_month AND {_in_window("d.period", "a.as_of_month")}
          GROUP BY ALL"""
    }
    for m, (column, lookup) in _distincts(table).items():
        # A child counts in a group from the first extract in which one of its rows there counts.
        first_grouping, first_select = _grouping(table, column)
        first = f"greatest(valid_from, {lookup})" if lookup else "valid_from"
        counted_rows = f"{column} IS NOT NULL" + (f" AND {lookup} IS NOT NULL" if lookup else "")
        carried = _carried(
            carried_from, f"{m}_values", f"* EXCLUDE ({m}), {m} AS n, '{since}' AS first_month"
        )
        parts[f"{m}_values"] = f"""
          SELECT a.as_of_month, {", ".join("f." + k for k in GROUP + dims)}, sum(f.n)::BIGINT AS {m}
          FROM (SELECT {keys}, first_month, count(*) AS n FROM (
                  SELECT {first_select}{"".join(", " + d for d in dims)}, min({first}) AS first_month
                  FROM {_source(table, "child_entries", lookup or "")} WHERE {counted_rows}
                  GROUP BY {first_grouping})
                WHERE first_month > '{since}'
                GROUP BY ALL{carried}) f
          JOIN as_of a ON f.first_month <= a.as_of_month AND {_in_window("f.period", "a.as_of_month")}
          GROUP BY ALL"""
    for (of, where), hist in _histograms(table).items():
        grouping, group_select = _grouping(table, "event_month", (of,))
        events = _events(table, since, f"{of} {where}")
        finest = _finest(
            table, f"event_month, {of}, sum(sign) AS n", events, f"({where}) AND {of} IS NOT NULL"
        )
        parts[hist] = f"""
          SELECT a.as_of_month, {", ".join("d." + k for k in GROUP + dims)}, d.value, sum(d.n) AS n
          FROM (SELECT {group_select}{"".join(", " + d for d in dims)}, event_month, {of} AS value, sum(n) AS n
                FROM ({finest})
                GROUP BY {grouping}{_carried(carried_from, hist, f"*, '{since}' AS event_month")}) d
          JOIN as_of a ON d.event_month <= a.as_of_month AND {_in_window("d.period", "a.as_of_month")}
          GROUP BY ALL HAVING sum(d.n) > 0"""
    return parts


def _quantile_values(table: dict[str, Any]) -> list[str]:
    """CTEs over the histogram parts: one percentile per quantile measure."""
    dims = list(table.get("dimensions") or {})
    keys = ", ".join(GROUP + dims)
    histograms = _histograms(table)
    same_group = " AND ".join(f"g.{k} IS NOT DISTINCT FROM h.{k}" for k in ["as_of_month", *GROUP, *dims])
    # The running count, once per histogram (the sort is the expensive part), for every percentile. Each
    # (as-of month, group) is numbered first: the window then sorts on one integer instead of six strings
    # (a year's 1.75 M histogram rows: 1.5-1.9 -> 1.0-1.1 s).
    ctes = [
        f"""{hist}_groups AS (
          SELECT *, row_number() OVER () AS group_number FROM (SELECT DISTINCT as_of_month, {keys} FROM {hist})),
        {hist}_cumulative AS (
          SELECT g.group_number, h.value,
                 sum(h.n) OVER (PARTITION BY g.group_number ORDER BY h.value) AS cum,
                 sum(h.n) OVER (PARTITION BY g.group_number) AS total
          FROM {hist} h JOIN {hist}_groups g ON {same_group})"""
        for hist in histograms.values()
    ]
    for name, m in _quantiles(table).items():
        hist = histograms[m["quantile"], expand(m.get("where", "true"))]
        # Integer arithmetic: the value where the running count first reaches percent % of the total.
        ctes.append(
            f"""{name}_values AS (
              SELECT g.as_of_month, {", ".join("g." + k for k in GROUP + dims)}, q.{name}
              FROM (SELECT group_number,
                           min(value) FILTER (WHERE cum * 100 >= {int(m["percent"])} * total) AS {name}
                    FROM {hist}_cumulative GROUP BY group_number) q
              JOIN {hist}_groups g USING (group_number))"""
        )
    return ctes


def result_sql(name: str) -> str:
    """Statistic ``name`` as of every month in table ``as_of``, from its parts (tables named as in
    :func:`parts_sql`): measures, derived measures, names and the completed grid."""
    table = statistics_spec()["tables"][name]
    dims = list(table.get("dimensions") or {})
    keys = ", ".join(GROUP + dims)
    joins = [
        f"LEFT JOIN {m}_values USING (as_of_month, {keys})" for m in [*_distincts(table), *_quantiles(table)]
    ]
    measure_names = _stored(table)
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
    ctes = "".join(f"{cte},\n" for cte in _quantile_values(table))
    return coverage.mark(
        name,
        f"""
    WITH {ctes}result AS ({body})
    SELECT a.as_of_month, a.period_type, a.period, a.geo_level, a.geo_code,
           coalesce(m.municipality_name_short, c.county_name, 'Riket') AS geo_name{dim_select}, {measures}
    FROM result a
    LEFT JOIN ref_municipalities m ON a.geo_level = 'kommun' AND m.municipality_code = a.geo_code
    LEFT JOIN ref_counties c ON a.geo_level = 'lan' AND c.county_code = a.geo_code
    ORDER BY a.as_of_month, a.period_type, a.period, a.geo_level, a.geo_code{dim_select}
    """,
    )


def _stored(table: dict[str, Any]) -> list[str]:
    """Measures read from the parts (not derived from others, nor counted over the result by coverage)."""
    return [n for n, m in table["measures"].items() if not {"derived", "coverage"} & set(m)]


def _earlier() -> int:
    return int(settings()["statistics"]["earlier_years"])


def _complete_grid(body: str, table: dict[str, Any]) -> str:
    """Every (as-of, period, geography) with reports × every code of every dimension; absent cells are 0."""
    dims = table["dimensions"]
    cross = " CROSS JOIN ".join(
        f"(SELECT code AS {d} FROM code_{spec['codes']} WHERE {spec.get('codes_where', 'true')})"
        for d, spec in dims.items()
    )
    zero_filled = _zero_filled(table)
    names = _stored(table)
    zeros = ", ".join(f"coalesce(v.{n}, 0)::BIGINT AS {n}" if n in zero_filled else f"v.{n}" for n in names)
    keys = ", ".join(["as_of_month", *GROUP, *dims])
    return f"""
      WITH v AS ({body})
      SELECT {", ".join("g." + k for k in ["as_of_month", *GROUP, *dims])}, {zeros}
      FROM (SELECT * FROM (SELECT DISTINCT as_of_month, {", ".join(GROUP)} FROM v) CROSS JOIN {cross}) g
      LEFT JOIN v USING ({keys})"""
