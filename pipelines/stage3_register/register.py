"""The report register: the current state of every report, as of an extract month.

Key: (municipality_code, report_id). Every extract month ≤ the as-of month contributes its rows; for
each key the row from the latest extract wins, so a decision arriving next month updates the report,
and a re-delivered month (already swapped in by stage 2) replaces what that delivery said before.
Derived columns (month received, age band, reporter group, cause groups, days to decision) are computed
here once, from the code lists in ``schemas/codes``, so every statistic uses the same definitions.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from pipelines.core.atomic import atomic_dir
from pipelines.core.schemas import code_table
from pipelines.core.settings import Paths, settings

REGISTER_FILE = "register.parquet"


def _sql_map(pairs: dict[str, str]) -> str:
    body = ", ".join(f"'{k}': '{v}'" for k, v in pairs.items())
    return f"MAP {{{body}}}"


def register_sql(pseudonymised: Path, as_of_month: str) -> str:
    """SELECT producing the register as of ``as_of_month`` from stage 2's month folders."""
    causes = code_table("causes")
    cause_map = _sql_map(dict(zip(causes["code"].to_pylist(), causes["group"].to_pylist(), strict=True)))
    outcomes = code_table("outcomes")
    decided = [
        c
        for c, d in zip(outcomes["code"].to_pylist(), outcomes["decided"].to_pylist(), strict=True)
        if d == "true"
    ]
    decided_sql = ", ".join(f"'{c}'" for c in decided)
    bands = code_table("age_bands").to_pylist()
    band_sql = " ".join(
        f"WHEN age_years BETWEEN {b['min_age']} AND {b['max_age']} THEN '{b['code']}'" for b in bands
    )
    glob = pseudonymised / "extract_month=*" / "reports.parquet"
    return f"""
    WITH history AS (
      SELECT * FROM read_parquet('{glob}', hive_partitioning = true, union_by_name = true)
      WHERE extract_month <= '{as_of_month}'
    ),
    latest AS (
      SELECT *, min(extract_month) OVER w AS first_extract_month
      FROM history
      WINDOW w AS (PARTITION BY municipality_code, report_id)
      QUALIFY row_number() OVER (PARTITION BY municipality_code, report_id ORDER BY extract_month DESC) = 1
    )
    SELECT
      municipality_code, county_code, report_id,
      child_pseudonym, key_id, child_identified, is_coordination_number,
      age_years, CASE {band_sql} END AS age_band, legal_sex,
      date_received, date_trunc('month', date_received)::DATE AS month_received,
      l.reporter, r.group AS reporter_group,
      causes, list_sort(list_distinct(list_transform(causes, lambda c: {cause_map}[c]))) AS cause_groups,
      outcome, outcome IN ({decided_sql}) AS decided, decision_date,
      date_diff('day', date_received, decision_date) AS days_to_decision,
      org_unit, first_extract_month, extract_month AS last_extract_month
    FROM latest l
    LEFT JOIN code_reporters r ON r.code = l.reporter
    ORDER BY municipality_code, report_id
    """


def build_register(paths: Paths, as_of_month: str) -> dict[str, int]:
    """Write ``3_register/as_of_month=M/register.parquet``; return aggregate counts only."""
    con = duckdb.connect(":memory:")
    con.execute("SET temp_directory = ''")
    con.register("code_reporters", code_table("reporters"))
    target = paths.register / f"as_of_month={as_of_month}"
    with atomic_dir(target) as out:
        con.execute(
            f"""COPY ({register_sql(paths.pseudonymised, as_of_month)}) TO '{out / REGISTER_FILE}'
            (FORMAT parquet, COMPRESSION zstd, KV_METADATA {{as_of_month: '{as_of_month}'}})"""
        )
        counts = con.execute(
            f"""SELECT count(*), count(DISTINCT child_pseudonym),
                       count(*) FILTER (WHERE NOT decided AND outcome = 'ej_beslutat'),
                       count(DISTINCT key_id), count(*) FILTER (WHERE first_extract_month <> last_extract_month),
                       count(*) - count(DISTINCT (municipality_code, report_id))
                FROM read_parquet('{out / REGISTER_FILE}')"""
        ).fetchone()
    con.close()
    keys = [
        "reports",
        "distinct_children",
        "undecided",
        "key_ids",
        "updated_by_later_extract",
        "duplicate_keys",
    ]
    return dict(zip(keys, counts, strict=True))


def read_register(paths: Paths, as_of_month: str) -> str:
    """A FROM item for the register as of a month (for DuckDB queries)."""
    return f"read_parquet('{paths.register / f'as_of_month={as_of_month}' / REGISTER_FILE}')"


def deadline_days() -> int:
    return int(settings()["decisions"]["deadline_days"])
