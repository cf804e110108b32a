"""``orostat status``: what is loaded, what is missing, per extract month (from the monitoring tables)."""

from __future__ import annotations

import sys

from pipelines.core import db
from pipelines.core.settings import Paths
from pipelines.stage4_statistics.compute import STATISTICS_FILE
from pipelines.stage5_protection.release import release_folder


def _months(home: Paths) -> list[str]:
    folder = home.statistics / "deliveries"
    return sorted(p.name.split("=")[1] for p in folder.glob("as_of_month=*")) if folder.exists() else []


def print_status(home: Paths, month: str | None = None) -> int:
    """0 = every loaded month complete and clean; 1 = municipalities missing or files rejected; 2 = nothing."""
    from rich.console import Console
    from rich.table import Table

    months = _months(home)
    if not months:
        print("Nothing loaded yet: run `orostat load --month YYYY-MM` (or `make demo`).", file=sys.stderr)
        return 2
    glob = home.statistics / "deliveries" / "as_of_month=*" / STATISTICS_FILE
    where = f"WHERE as_of_month = '{month}'" if month else ""
    rows = db.rows(
        f"""SELECT as_of_month, count(*) FILTER (WHERE delivered), count(*), sum(files_loaded),
                   sum(files_rejected), sum(rows_in), sum(quarantined), sum(undecided_over_deadline),
                   string_agg(municipality_name, ', ' ORDER BY municipality_code) FILTER (WHERE NOT delivered)
            FROM read_parquet('{glob}', hive_partitioning = false) {where} GROUP BY 1 ORDER BY 1"""
    )
    table = Table(title=f"orostat status: {home.home}")
    for header in [
        "extract month",
        "delivered",
        "files",
        "rejected",
        "rows",
        "quarantined",
        "undecided >14 d",
        "missing",
    ]:
        table.add_column(header, justify="left" if header == "missing" else "right", overflow="fold")
    problems = False
    for as_of, delivered, total, files, rejected, rows_in, quarantined, late, missing in rows:
        problems |= delivered < total or rejected > 0
        shown = (missing or "")[:120] + ("…" if missing and len(missing) > 120 else "")
        table.add_row(
            as_of,
            f"{delivered}/{total}",
            f"{files:,}",
            f"{rejected:,}",
            f"{rows_in:,}",
            f"{quarantined:,}",
            f"{late:,}",
            shown,
        )
    Console(width=max(Console().width, 140)).print(table)
    _print_keys_and_releases(home, months[-1])
    return 1 if problems else 0


def _print_keys_and_releases(home: Paths, latest: str) -> None:
    glob = home.register / "extract_month=*" / "register.parquet"
    keys = [
        k
        for (k,) in db.rows(
            f"SELECT DISTINCT key_id FROM read_parquet('{glob}') WHERE key_id IS NOT NULL ORDER BY 1"
        )
    ]
    released = (
        sorted(p.name.split("=")[1] for p in home.protected.glob("release=*"))
        if home.protected.exists()
        else []
    )
    print(f"Pseudonym key id(s) in the register: {', '.join(keys) or 'none'}")
    print(f"Latest extract month loaded: {latest}; releases: {', '.join(released) or 'none'}")
    if released:
        print(f"Latest release: {release_folder(home, released[-1])}")
