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

import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import duckdb

from pipelines.core import db
from pipelines.core.atomic import atomic_dir
from pipelines.core.files import STATISTICS_FILE
from pipelines.core.schemas import statistics_spec
from pipelines.core.settings import Paths
from pipelines.stage4_statistics import state
from pipelines.stage4_statistics.inputs import (
    _load_entries,
    _load_lookups,
    _number_children,
    _register_codes,
    connect,
    data_label,
)
from pipelines.stage4_statistics.population import build_population
from pipelines.stage4_statistics.sql import part_names, parts_sql, result_sql, table_names

# Statistics computed at once when continuing from a carried state (each on its own DuckDB cursor).
STATISTICS_AT_ONCE = 2


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
