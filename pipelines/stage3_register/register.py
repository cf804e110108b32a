"""The report register: every state each report has had, and its current state as of any extract month.

Partition M holds the rows extract M delivered, with the derived columns every statistic uses (month
received, age band, reporter group, cause groups, days to decision), computed once from the code lists in
``schemas/codes`` and stamped ``valid_from = M``. The state of a report as of month M is its row with the
latest ``valid_from ≤ M``: a decision arriving next month supersedes the undecided row, and a re-delivered
month (already swapped in by stage 2) replaces what that delivery said before. Appending one partition per
extract keeps a monthly load cheap, instead of rewriting a snapshot of every report every month.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import duckdb

from pipelines.core import db
from pipelines.core.atomic import atomic_dir
from pipelines.core.digest import sha256_of
from pipelines.core.files import REGISTER_DIGEST_FILE as DIGEST_FILE
from pipelines.core.files import REGISTER_FILE
from pipelines.core.schemas import code_table
from pipelines.core.settings import Paths, settings

# Beside each partition, DIGEST_FILE holds the SHA-256 of its register file. What was derived from a partition
# is valid only while the same content is in place (stage 4's carried state checks it).
KEY = "municipality_code, report_id"


def _sql_map(pairs: dict[str, str]) -> str:
    body = ", ".join(f"'{k}': '{v}'" for k, v in pairs.items())
    return f"MAP {{{body}}}"


def entries_sql(reports: Path, month: str) -> str:
    """SELECT turning one extract month's pseudonymised rows into register entries."""
    causes = code_table("causes")
    cause_map = _sql_map(dict(zip(causes["code"].to_pylist(), causes["group"].to_pylist(), strict=True)))
    outcomes = code_table("outcomes").to_pylist()
    decided = ", ".join(f"'{o['code']}'" for o in outcomes if o["decided"] == "true")
    # Reporter groups whose reporter must be told whether an investigation was opened (återkoppling).
    professional = _professional_groups()
    bands = " ".join(
        f"WHEN age_years BETWEEN {b['min_age']} AND {b['max_age']} THEN '{b['code']}'"
        for b in code_table("age_bands").to_pylist()
    )
    return f"""
    SELECT
      municipality_code, county_code, report_id,
      child_pseudonym, key_id, child_identified, is_coordination_number,
      age_years, CASE {bands} END AS age_band, legal_sex,
      date_received, date_trunc('month', date_received)::DATE AS month_received,
      l.reporter, coalesce(up.group, r.group) AS reporter_group,
      causes, list_sort(list_distinct(list_transform(causes, lambda c: {cause_map}[c]))) AS cause_groups,
      outcome, outcome IN ({decided}) AS decided, decision_date,
      date_diff('day', date_received, decision_date) AS days_to_decision,
      coalesce(up.group, r.group) IN ({professional}) AS professional_reporter,
      -- Contract v2: feedback_delivered = the extract had the column (else the feedback is unknown).
      feedback_date, feedback_date_delivered AS feedback_delivered,
      date_diff('day', decision_date, feedback_date) AS days_decision_to_feedback,
      org_unit, '{month}' AS valid_from
    FROM read_parquet('{reports}') l
    LEFT JOIN code_reporters r ON r.code = l.reporter
    -- A code added later (Försäkringskassan from 2026-01-15) counts in the group of the code it was split
    -- from (other authority), so published reporter groups stay comparable over time.
    LEFT JOIN code_reporters up ON up.code = r.rolls_up_to
    ORDER BY municipality_code, report_id
    """


def build_entries(paths: Paths, month: str) -> dict[str, int]:
    """Write ``3_register/extract_month=M/register.parquet``; return aggregate counts only: entries, and
    entries beyond one per report (``duplicate_keys``, 0 unless stage 2 let a report through twice)."""
    con = duckdb.connect(":memory:")
    con.execute("SET temp_directory = ''")
    con.register("code_reporters", code_table("reporters"))
    reports = paths.extract_month(month) / "reports.parquet"
    with atomic_dir(paths.register / f"extract_month={month}") as out:
        con.execute(
            f"""COPY ({entries_sql(reports, month)}) TO '{out / REGISTER_FILE}'
            ({db.PARQUET}, KV_METADATA {{extract_month: '{month}'}})"""
        )
        (out / DIGEST_FILE).write_text(sha256_of(out / REGISTER_FILE) + "\n", encoding="ascii")
        # Counted here, one partition at a time on the month's own thread: one count over every partition
        # a backfill wrote took 1.3-1.6 s on one core after them (120 months).
        entries, duplicates = con.execute(
            f"SELECT count(*), count(*) - count(DISTINCT ({KEY})) FROM read_parquet('{out / REGISTER_FILE}')"
        ).fetchall()[0]
    con.close()
    return {"entries": entries, "duplicate_keys": duplicates}


def build_months(paths: Paths, months: list[str]) -> dict[str, dict[str, int]]:
    """``build_entries`` for several extract months, as many at a time as stage 2 loads (settings.yaml
    ``extract.parallel_months``): each month is its own small DuckDB query (and its own atomic swap),
    and DuckDB releases the GIL, so threads use every core."""
    workers = min(len(months), os.cpu_count() or 1, int(settings()["extract"]["parallel_months"]))
    if workers < 2:
        return {month: build_entries(paths, month) for month in months}
    with ThreadPoolExecutor(max_workers=workers) as pool:
        counts = pool.map(lambda month: build_entries(paths, month), months)
        return dict(zip(months, counts, strict=True))


def _professional_groups() -> str:
    """Reporter groups under the duty to report (codes/reporter_groups.csv ``professional``), as SQL."""
    groups = code_table("reporter_groups").to_pylist()
    return ", ".join(f"'{g['code']}'" for g in groups if g["professional"] == "true")


def added_columns() -> dict[str, str]:
    """Columns added to the register after its first version, with what an entry written before them
    holds: contract v2's feedback (an extract loaded before it had no feedback column: unknown)."""
    return {
        "professional_reporter": f"reporter_group IN ({_professional_groups()})",
        "feedback_delivered": "false",
        "feedback_date": "NULL::DATE",
        "days_decision_to_feedback": "NULL::BIGINT",
    }


def entries(paths: Paths, month: str = "*") -> str:
    """A FROM item over the register's entries (every extract month, or one). Files written by an older
    orostat lack the columns added since: they read as ``added_columns`` says, so an upgrade does not
    need a reload of every month (files are unified by column name, not position)."""
    glob = paths.register / f"extract_month={month}" / REGISTER_FILE
    files = f"read_parquet('{glob}', union_by_name = true)"
    if not any(paths.register.glob(f"extract_month={month}/{REGISTER_FILE}")):
        return files  # DuckDB's own "No files found" when it is queried, as before
    present = {name for name, *_ in db.rows(f"DESCRIBE SELECT * FROM {files}")}
    added = added_columns()
    filled = [
        f"coalesce({name}, {default}) AS {name}" if name in present else f"{default} AS {name}"
        for name, default in added.items()
    ]
    replaced = ", ".join(name for name in added if name in present)
    star = f"* EXCLUDE ({replaced})" if replaced else "*"
    return f"(SELECT {star}, {', '.join(filled)} FROM {files})"


def history(paths: Paths, up_to: str) -> str:
    """Every register entry up to extract month ``up_to``, with when it stopped being current."""
    return f"""(
      SELECT *, lead(valid_from) OVER (PARTITION BY {KEY} ORDER BY valid_from) AS valid_to
      FROM {entries(paths)} WHERE valid_from <= '{up_to}'
    )"""


def latest_extract_month(paths: Paths) -> str | None:
    """The latest extract month the register holds, or None before the first load."""
    folders = sorted(paths.register.glob("extract_month=*")) if paths.register.exists() else []
    return folders[-1].name.split("=")[1] if folders else None


def as_of(paths: Paths, month: str) -> str:
    """A FROM item: the current state of every report as of extract month ``month``."""
    return f"""(
      SELECT * EXCLUDE (valid_to) FROM {history(paths, month)}
      WHERE valid_to IS NULL
    )"""


def register_health(paths: Paths, month: str, only_latest_extract: bool = False) -> dict[str, int]:
    """Counts for the register's checks, as of ``month``: reports, duplicates, key ids, undecided.

    ``only_latest_extract``: over the entries of extract ``month`` alone, not the whole history (which
    needs every entry of every month sorted: seconds for a 10-year register, on every monthly load).
    """
    source = entries(paths, month) if only_latest_extract else as_of(paths, month)
    reports, duplicates, keys, undecided = db.one(
        f"""SELECT count(*), count(*) - count(DISTINCT ({KEY})), count(DISTINCT key_id),
                   count(*) FILTER (WHERE outcome = 'ej_beslutat')
            FROM {source}"""
    )
    return {"reports": reports, "duplicate_keys": duplicates, "key_ids": keys, "undecided": undecided}
