"""Figures that exist only where the municipality reports them: statistics.yaml's ``missing`` and
``coverage`` measures (the feedback table: contract v2's optional feedback column).

A statistic whose table declares ``missing: {when, measures}`` gets those measures set to NULL where
``when`` holds (the area's reports all came in extracts without the column): a municipality that does not
report feedback has an unknown share, never 0. A ``coverage: <count>`` measure counts, per area, the
municipalities in which that count is above 0 (a municipality row: 1 or 0), so a national share can say
how many municipalities it covers. Both are read off the finished result, by :func:`mark`.
"""

from __future__ import annotations

from typing import Any

from pipelines.core.schemas import statistics_spec


def coverage_measures(table: dict[str, Any]) -> dict[str, str]:
    """measure name -> the count whose municipalities above 0 it counts."""
    return {name: m["coverage"] for name, m in table["measures"].items() if "coverage" in m}


def mark(name: str, result: str) -> str:
    """``result`` (the statistic's SELECT) with its missing measures nulled and coverage counted."""
    table = statistics_spec()["tables"][name]
    covered = coverage_measures(table)
    missing = table.get("missing")
    if not covered and not missing:
        return result
    dims = list(table.get("dimensions") or {})
    replaced = ""
    if missing:
        nulls = ", ".join(
            f"CASE WHEN {missing['when']} THEN NULL ELSE {m} END AS {m}" for m in missing["measures"]
        )
        replaced = f" REPLACE ({nulls})"
    counts = "".join(f", {_coverage_sql(count)} AS {m}" for m, count in covered.items())
    return f"""
    WITH r AS ({result}),
    kommun AS (SELECT as_of_month, period_type, period, geo_code,
                      {", ".join(f"sum({c}) > 0 AS {c}_any" for c in set(covered.values())) or "true"}
               FROM r WHERE geo_level = 'kommun' GROUP BY ALL)
    SELECT r.*{replaced}{counts}
    FROM r ORDER BY as_of_month, period_type, period, geo_level, geo_code{"".join(", " + d for d in dims)}
    """


def _coverage_sql(count: str) -> str:
    """The municipalities of the row's area (all, the county's, or itself) with ``count`` above 0 over
    every category of the table's dimensions (a municipality reports or not, whatever the group: the
    ``kommun`` rows are summed over the dimensions)."""
    return f"""(SELECT count(*) FILTER (WHERE k.{count}_any) FROM kommun k
               WHERE k.as_of_month = r.as_of_month AND k.period_type = r.period_type AND k.period = r.period
                 AND (r.geo_level = 'riket' OR (r.geo_level = 'lan' AND left(k.geo_code, 2) = r.geo_code)
                      OR (r.geo_level = 'kommun' AND k.geo_code = r.geo_code)))::BIGINT"""
