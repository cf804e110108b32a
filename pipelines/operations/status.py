"""``orostat status``: what is loaded, what is missing, per extract month (from the monitoring tables).

Exit codes: 0 = every loaded month is complete, clean and reconciled; 1 = municipalities missing, files
rejected or rows unaccounted for; 2 = nothing loaded yet (or the month asked for is not loaded).
"""

from __future__ import annotations

import sys

from rich.console import Console
from rich.table import Table

from pipelines.core import db
from pipelines.core.files import STATISTICS_FILE
from pipelines.core.settings import Paths
from pipelines.stage3_register.register import REGISTER_FILE
from pipelines.stage4_statistics.deliveries import TABLES
from pipelines.stage5_protection.release import release_folder

MISSING_SHOWN = 120  # characters of missing municipality names per month before "…"


def _as_of_months(home: Paths, table: str) -> list[str]:
    folder = home.statistics / table
    return sorted(p.name.split("=")[1] for p in folder.glob("as_of_month=*")) if folder.exists() else []


def _truncate(text: str | None, limit: int = MISSING_SHOWN) -> str:
    text = text or ""
    return text[:limit] + ("…" if len(text) > limit else "")


def _console() -> Console:
    return Console(width=max(Console().width, 160))


def print_status(home: Paths, month: str | None = None, kommun: str | None = None) -> int:
    """Print the per-month summary, one month's per-municipality detail, or one municipality's months;
    return the exit code."""
    months = _as_of_months(home, "deliveries")
    if not months:
        print("Nothing loaded yet: run `orostat load --month YYYY-MM` (or `make demo`).", file=sys.stderr)
        return 2
    if month and month not in months:
        print(f"Extract month {month} is not loaded (loaded: {months[0]} … {months[-1]}).", file=sys.stderr)
        return 2
    if kommun:
        problems = _print_municipality(home, kommun, month)
    else:
        problems = _print_months(home, month)
        if month:
            _print_month_detail(home, month)
    _print_keys_and_statistics(home, months[-1])
    return 1 if problems else 0


def _print_months(home: Paths, month: str | None) -> bool:
    """One row per extract month; True when any month has a gap, a rejected file or unreconciled rows."""
    glob = home.statistics / "deliveries" / "as_of_month=*" / STATISTICS_FILE
    where = f"WHERE as_of_month = '{month}'" if month else ""
    rows = db.rows(
        f"""SELECT as_of_month, count(*) FILTER (WHERE delivered), count(*), sum(files_loaded),
                   sum(files_rejected), sum(rows_in), sum(quarantined),
                   sum(rows_in) - sum(accepted) - sum(quarantined), sum(undecided_over_deadline),
                   sum(late_decisions), coalesce(sum(rejected_updates), 0),
                   string_agg(municipality_name, ', ' ORDER BY municipality_code) FILTER (WHERE NOT delivered)
            -- union_by_name: months written before rejected_updates existed read it as null
            FROM read_parquet('{glob}', hive_partitioning = false, union_by_name = true) {where}
            GROUP BY 1 ORDER BY 1"""
    )
    headers = ["extract month", "delivered", "files", "rejected", "rows", "quarantined", "unreconciled"]
    table = Table(title=f"orostat status: {home.home}")
    for header in [*headers, "undecided >14 d", "late decisions", "rejected updates", "missing"]:
        table.add_column(header, justify="left" if header == "missing" else "right", overflow="fold")
    problems = False
    for as_of, delivered, total, *counts, missing in rows:
        files, rejected, rows_in, quarantined, unreconciled, undecided, late, rejected_updates = counts
        problems |= delivered < total or rejected > 0 or unreconciled != 0
        figures = [files, rejected, rows_in, quarantined, unreconciled, undecided, late, rejected_updates]
        table.add_row(as_of, f"{delivered}/{total}", *(f"{n:,}" for n in figures), _truncate(missing))
    _console().print(table)
    return problems


def _print_month_detail(home: Paths, month: str) -> None:
    """Every municipality that delivered or had a file rejected in the month, then the missing ones."""
    folder = home.statistics / "deliveries" / f"as_of_month={month}" / STATISTICS_FILE
    reasons = home.statistics / "deliveries_by_reason" / f"as_of_month={month}" / STATISTICS_FILE
    rows = db.rows(
        f"""SELECT d.municipality_code, d.municipality_name, files_loaded, files_rejected, files_superseded,
                   rows_in, accepted, quarantined, coalesce(printf('%.2f %%', 100 * rejection_rate), ''),
                   undecided_over_deadline, late_decisions, coalesce(rejected_updates, 0)
            FROM read_parquet('{folder}', union_by_name = true) d
            WHERE delivered OR files_rejected > 0
            ORDER BY d.municipality_code"""
    )
    table = Table(title=f"Extract month {month}, per municipality")
    for header in ["code", "municipality", "files", "rejected", "superseded", "rows", "accepted"]:
        table.add_column(header, justify="left" if header == "municipality" else "right")
    for header in ["quarantined", "rate", "undecided >14 d", "late decisions", "rejected updates"]:
        table.add_column(header, justify="right")
    for code, name, *figures, rate, undecided, late, updates in rows:
        later = (f"{undecided:,}", f"{late:,}", f"{updates:,}")
        table.add_row(code, name, *(f"{n:,}" for n in figures), rate, *later)
    _console().print(table)
    _print_reasons(reasons, f"Quarantine reasons in extract month {month}")
    if any(row[-1] for row in rows):
        print(
            "Rejected updates: quarantined rows for reports an earlier extract delivered; each such report "
            "stays as that extract had it (usually undecided) until a corrected file is loaded."
        )
    missing = db.rows(
        f"SELECT municipality_code || ' ' || municipality_name FROM read_parquet('{folder}') "
        "WHERE NOT delivered ORDER BY municipality_code"
    )
    names = ", ".join(name for (name,) in missing)
    print(f"Missing ({len(missing)} of 290): {_truncate(names, 600) or 'none'}")


def _print_reasons(reasons_file, title: str, where: str = "true") -> None:
    """One row per municipality and reason: a reason code is never split across lines."""
    rows = db.rows(
        f"""SELECT municipality_code, reason, sum(rows) AS n
            FROM read_parquet('{reasons_file}', hive_partitioning = false)
            WHERE {where} GROUP BY ALL ORDER BY municipality_code, n DESC, reason"""
    )
    if not rows:
        return
    table = Table(title=title)
    for header in ["code", "reason", "rows"]:
        table.add_column(header, justify="right" if header == "rows" else "left", no_wrap=True)
    for code, reason, count in rows:
        table.add_row(code, reason, f"{count:,}")
    _console().print(table)


def _print_municipality(home: Paths, kommun: str, month: str | None) -> bool:
    """One municipality's deliveries per extract month (or the one month asked for), then its reasons."""
    glob = home.statistics / "deliveries" / "as_of_month=*" / STATISTICS_FILE
    where = f"municipality_code = '{kommun}'" + (f" AND as_of_month = '{month}'" if month else "")
    rows = db.rows(
        f"""SELECT as_of_month, municipality_name, delivered, files_loaded, files_rejected, files_superseded,
                   rows_in, accepted, quarantined, rows_in - accepted - quarantined,
                   undecided_over_deadline, late_decisions, coalesce(rejected_updates, 0)
            FROM read_parquet('{glob}', hive_partitioning = false, union_by_name = true)
            WHERE {where} ORDER BY as_of_month"""
    )
    name = rows[0][1] if rows else kommun
    table = Table(title=f"{kommun} {name}: deliveries per extract month")
    headers = ["extract month", "delivered", "files", "rejected", "superseded", "rows", "accepted"]
    for header in [
        *headers,
        "quarantined",
        "unreconciled",
        "undecided >14 d",
        "late decisions",
        "rejected updates",
    ]:
        table.add_column(header, justify="right")
    problems = False
    for as_of, _, delivered, *figures in rows:
        rejected, unreconciled = figures[1], figures[6]
        problems |= not delivered or rejected > 0 or unreconciled != 0
        table.add_row(as_of, "yes" if delivered else "MISSING", *(f"{n:,}" for n in figures))
    _console().print(table)
    partition = f"as_of_month={month}" if month else "as_of_month=*"
    if list((home.statistics / "deliveries_by_reason").glob(f"{partition}/{STATISTICS_FILE}")):
        reasons = home.statistics / "deliveries_by_reason" / partition / STATISTICS_FILE
        span = month or "all extract months"
        _print_reasons(
            reasons, f"{kommun} {name}: quarantine reasons, {span}", f"municipality_code = '{kommun}'"
        )
    return problems


def _print_keys_and_statistics(home: Paths, latest: str) -> None:
    """The pseudonym key id(s) in use, the latest statistics as-of month and the latest release."""
    glob = home.register / "extract_month=*" / REGISTER_FILE
    keys = [
        k
        for (k,) in db.rows(
            f"SELECT DISTINCT key_id FROM read_parquet('{glob}') WHERE key_id IS NOT NULL ORDER BY 1"
        )
    ]
    statistics = sorted(
        {
            m
            for p in home.statistics.iterdir()
            if p.is_dir() and p.name not in TABLES
            for m in _as_of_months(home, p.name)
        }
    )
    released = (
        sorted(p.name.split("=")[1] for p in home.protected.glob("release=*"))
        if home.protected.exists()
        else []
    )
    print(f"Pseudonym key id(s) in the register: {', '.join(keys) or 'none'}")
    print(
        f"Latest extract month loaded: {latest}; latest statistics as of: {statistics[-1] if statistics else 'none'}"
    )
    print(f"Releases: {', '.join(released) or 'none'}")
    if released:
        print(f"Latest release: {release_folder(home, released[-1])}")
