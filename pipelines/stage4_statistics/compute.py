"""Statistics from the register, generated from ``schemas/statistics.yaml`` (each defined once).

A statistic is needed as of every extract month, and a report's state changes from one extract to the
next. Rather than rebuild the register as of each month and aggregate it again (work that grows with
months × reports), the register is read as events: an entry counts from its ``valid_from`` month until
the month a later entry of the same report replaces it (``valid_to``).

* ``count`` measures: +1/−1 deltas per event month are aggregated at the finest grain (month of arrival ×
  municipality × dimensions), rolled up to every grouping (GROUPING SETS give riket/län/kommun ×
  month/year) and summed over event months ≤ the as-of month. Exact.
* ``distinct`` measures (children): a child counts in a group from the first extract in which one of its
  reports falls in that group. Exact as long as a later extract does not move a report to another group
  (change its date received, municipality, age band or sex); the register's metadata counts such
  reports, and they can only overstate distinct children. With ``from: <lookup>`` a row counts only from
  the month its lookup names (e.g. the first extract holding an earlier report about the same child).
* ``quantile`` measures (days to decision): not additive, but a histogram is. +1/−1 deltas per event
  month × group × value, summed over event months ≤ the as-of month, give the distribution as of that
  month; the discrete percentile (nearest rank, = DuckDB's ``quantile_disc``) is read off its running sum.

All three are sums over extract months (a statistic's *parts*: counts, children by first month,
histograms), so the parts as of a month P plus what the extracts after P added give the parts as of any
later month. A run continues from the parts carried as of the month before it (module ``state``) when
they match the register: it reads the reports the new extracts touch and the histories of the children
in them, not years of register.

Dimensions with a code list are completed to a full grid (a category with no reports is a 0, not a
missing row), which disclosure control and researchers both rely on.
"""

from __future__ import annotations

import re
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from pipelines.core import db
from pipelines.core.atomic import atomic_dir
from pipelines.core.files import STATISTICS_FILE
from pipelines.core.schemas import code_table, statistics_spec
from pipelines.core.settings import Paths, settings
from pipelines.stage2_pseudonymise.validate import expand
from pipelines.stage3_register.register import KEY, REGISTER_FILE
from pipelines.stage4_statistics import due, state
from pipelines.stage4_statistics.population import build_population

# Statistics computed at once when continuing from a carried state (each on its own DuckDB cursor).
STATISTICS_AT_ONCE = 2
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
    ctes = "".join(f"{cte},\n" for cte in _quantile_values(table))
    return f"""
    WITH {ctes}result AS ({body})
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
    glob = paths.register / "extract_month=*" / REGISTER_FILE
    columns = ", ".join(statistics_spec()["register_columns"])
    # valid_from >= the first year selects no other rows (no report is received after the extract that
    # holds it), but lets DuckDB skip earlier extract months' files unread.
    in_years = f"year(month_received) >= {first_year} AND valid_from >= '{first_year}-01'"
    history = f"""(SELECT {columns}, {record_key_sql()} FROM read_parquet('{glob}')
        WHERE valid_from <= '{max(as_of_months)}' AND {in_years})"""
    with_valid_to = f"lead(valid_from) OVER (PARTITION BY {KEY} ORDER BY valid_from) AS valid_to"
    if not since:
        con.execute(f"CREATE OR REPLACE TABLE entries AS SELECT *, {with_valid_to} FROM {history}")
        con.execute("CREATE OR REPLACE VIEW child_entries AS SELECT * FROM entries")
        con.execute(f"CREATE OR REPLACE VIEW child_register AS SELECT * FROM read_parquet('{glob}')")
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
                           FROM read_parquet('{glob}')
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
        source = f"read_parquet('{paths.register / 'extract_month=*' / REGISTER_FILE}')"
    synthetic = db.scalar(
        con, f"SELECT count(*) FROM (SELECT 1 FROM {source} WHERE starts_with(report_id, '{prefix}') LIMIT 1)"
    )
    return demo["label"] if synthetic else "real"


@dataclass
class Built:
    """What a run of the statistics wrote: rows per table, and the carried states it continued from."""

    rows: dict[str, int]
    continued_from: list[str] = field(default_factory=list)


def build_statistics(
    paths: Paths, as_of_months: list[str], names: list[str] | None = None, carry: bool = True
) -> Built:
    """Compute each statistic for every as-of month; write one folder per as-of month.

    ``4_statistics/<name>/as_of_month=M/data.parquet``, each swapped in whole.
    The months are done one calendar year at a time, each in one query per part and statistic: a year's
    as-of months need only its own and the earlier years' arrivals, so a 10-year backfill holds two
    years of register entries in memory at a time, not ten. Each year continues from the state carried
    as of the month before it when that state matches the register (module ``state``; ``carry=False`` computes
    from the register alone), and the run keeps the states the next year and the next load start from.
    """
    names = names or table_names()
    built = Built(dict.fromkeys(names, 0))
    keep = state.months_to_keep(as_of_months)
    parts = {name: part_names(name) for name in names}
    took: dict[str, float] = {}  # seconds each statistic took in the year before: the next year's order
    for year in sorted({month[:4] for month in as_of_months}):
        chunk = sorted(month for month in as_of_months if month.startswith(year))
        since = state.previous_month(chunk[0])
        if carry and state.usable(paths, names, since, parts):
            built.continued_from.append(since)
        else:
            since = ""
        rows, took = _build_year(paths, chunk, names, since, keep, took)
        for name, n in rows.items():
            built.rows[name] += n
    for name in names:
        state.prune(paths, name, keep)
    build_population(paths)  # the denominators, when a population file is supplied
    return built


def _longest_first(names: list[str], took: dict[str, float]) -> list[str]:
    """The order in which a year's statistics start: the longest first, so that the last to finish does
    not run alone on one core while the other idles. By what each took the year before (a year's cost
    shifts little from one year to the next); before any year has run, by number of parts."""
    return sorted(names, key=lambda name: (-took.get(name, 0.0), -len(part_names(name)), name))


def _build_year(
    paths: Paths,
    as_of_months: list[str],
    names: list[str],
    since: str,
    keep: set[str],
    took: dict[str, float],
) -> tuple[dict[str, int], dict[str, float]]:
    """Every statistic as of ``as_of_months`` (one calendar year): rows written per statistic, and the
    seconds each took."""
    con = connect()
    _load_entries(con, paths, as_of_months, since)
    _load_lookups(con, paths, as_of_months, names)
    # With a carried state the entries are the month's reports and children: numbering them costs more
    # (≈ 0.5 s) than the integer keys save (≈ 0.3 s); for a year from the register it halves the memory.
    if not since:
        _number_children(con)
    label = data_label(con, paths).replace("'", "''")
    version = statistics_spec()["version"]
    kept = [month for month in as_of_months if month in keep]
    fingerprints = {month: state.fingerprint(paths, month) for month in kept}

    def build(name: str) -> tuple[int, float]:
        # Each statistic on a cursor of its own (its parts are temp tables there); the shared entries
        # are read-only by now, and two statistics at a time use the core a month's small queries leave idle.
        started = time.perf_counter()
        cur = con.cursor()
        _register_codes(cur)
        parts = parts_sql(name, state.folder(paths, name, since) if since else None, since)
        for part, sql in parts.items():
            cur.execute(f"CREATE OR REPLACE TEMP TABLE {part} AS {sql}")
        cur.execute(f"CREATE OR REPLACE TEMP TABLE result AS {result_sql(name)}")
        for month in as_of_months:
            with atomic_dir(paths.statistics / name / f"as_of_month={month}") as out:
                cur.execute(
                    f"""COPY (SELECT * FROM result WHERE as_of_month = '{month}') TO '{out / STATISTICS_FILE}'
                    ({db.PARQUET}, KV_METADATA {{statistic: '{name}', as_of_month: '{month}',
                     contract: 'statistics v{version}', disclosure_control: 'none (internal)', data: '{label}'}})"""
                )
        for month in kept:
            _keep_state(cur, paths, name, month, list(parts), fingerprints[month])
        count = db.scalar(cur, "SELECT count(*) FROM result")
        cur.close()
        return count, time.perf_counter() - started

    # Without a carried state a year's parts are large: one at a time keeps the peak within bounds.
    at_once = STATISTICS_AT_ONCE if since else 1
    if at_once > 1:
        # The cores shared out between the statistics running at once: DuckDB's threads per query
        # otherwise contend with the other statistic's (measured on 2 cores, one thread each: a month
        # 2.5-2.8 -> 2.1-2.4 s, a year 10.7-11.5 -> 9.5-10.2 s, and 10 % less CPU).
        con.execute(f"SET threads = {db.threads_each(at_once)}")
    with ThreadPoolExecutor(max_workers=at_once) as pool:
        ordered = _longest_first(names, took)
        done = dict(zip(ordered, pool.map(build, ordered), strict=True))
    con.close()
    return {name: n for name, (n, _) in done.items()}, {name: s for name, (_, s) in done.items()}


def _keep_state(
    con: duckdb.DuckDBPyConnection,
    paths: Paths,
    name: str,
    month: str,
    parts: list[str],
    fingerprint: str | None,
) -> None:
    """Write statistic ``name``'s parts as of ``month`` (aggregates per group), stamped with the register
    fingerprint they were computed from; without one (a register partition without its digest) none is
    kept."""
    target = state.folder(paths, name, month)
    if fingerprint is None:
        shutil.rmtree(target, ignore_errors=True)
        return
    with atomic_dir(target) as out:
        for part in parts:
            con.execute(
                f"""COPY (SELECT * EXCLUDE (as_of_month) FROM {part} WHERE as_of_month = '{month}')
                TO '{out / f"{part}.parquet"}'
                ({db.PARQUET}, KV_METADATA {{{state.FINGERPRINT}: '{fingerprint}'}})"""
            )
