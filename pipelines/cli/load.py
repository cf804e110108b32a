"""The operator's loading commands: load a month or a range, backfill years, rotate the key."""

from __future__ import annotations

import argparse
import os
import sys

from pipelines.cli.common import CommandError, add_command, check_months, month
from pipelines.cli.read import print_summary
from pipelines.core.settings import paths, settings


def add_commands(sub: argparse._SubParsersAction) -> None:
    load = add_command(
        sub,
        "load",
        _load,
        "load one extract month, or a range, through Dagster (headless)",
        "Read, validate and pseudonymise the landing folder's files for the month(s), then rebuild the\n"
        "register and the internal statistics. A month already loaded is loaded again (a re-delivery\n"
        "replaces the earlier file), and every later loaded month is recomputed with it. The pseudonymisation\n"
        "key comes from OROSTAT_KEY_FILE (or OROSTAT_KEY); a missing or changed key stops before any work.",
        ["orostat load --month 2025-03", "orostat load --from 2025-01 --to 2025-12"],
    )
    load.add_argument("--month", type=month, help="one extract month YYYY-MM")
    load.add_argument("--from", dest="first", type=month, help="first month YYYY-MM of a range")
    load.add_argument("--to", dest="last", type=month, help="last month YYYY-MM of a range")
    backfill = add_command(
        sub,
        "backfill",
        _backfill,
        "load a range of extract months (years) as one Dagster run",
        "Like load --from/--to, with a live status; at most operations.max_backfill_years (settings.yaml).",
        ["orostat backfill --from 2016-01 --to 2025-12"],
    )
    backfill.add_argument("--from", dest="first", type=month, required=True, help="first month YYYY-MM")
    backfill.add_argument("--to", dest="last", type=month, required=True, help="last month YYYY-MM")
    add_command(
        sub,
        "rotate-key",
        _rotate_key,
        "rebuild every loaded month from the retained extracts with a new key",
        "Configure the new pseudonymisation key first (OROSTAT_KEY_FILE); every loaded extract must still be\n"
        "retained (landing folder or encrypted archive). Exit 0 done, 1 the rebuild failed, 2 refused.",
        ["OROSTAT_KEY_FILE=/secure/orostat-2027.key orostat rotate-key"],
    )


def _load(args: argparse.Namespace) -> int:
    from pipelines.stage2_pseudonymise.key_check import check_keys

    first = args.month or args.first
    last = args.month or args.last or first
    if not first or (args.month and (args.first or args.last)):
        raise CommandError("Give --month YYYY-MM, or --from YYYY-MM [--to YYYY-MM].")
    problem = check_months(first, last)
    if problem:
        raise CommandError(problem)
    ensure_key()
    check_keys(paths())  # every key, and that it is the loaded data's, before any work (main: exit 2)
    later = _latest_loaded()
    if later and later > last:
        # A re-delivery for a month already published: every later as-of month changes too.
        print(f"Extract months up to {later} are already loaded: recomputing {first} … {later}.")
        last = later
    ok = run_load(first, last)
    if ok:
        print_outputs(last)
    return 0 if ok else 1


def _backfill(args: argparse.Namespace) -> int:
    """A range of months (years) as one single-run backfill, with a live status while it runs."""
    from rich.console import Console

    from pipelines.core.partitions import months_between

    problem = check_months(args.first, args.last)
    if problem:
        raise CommandError(problem)
    months = months_between(args.first, args.last)
    limit = 12 * int(settings()["operations"]["max_backfill_years"])
    if len(months) > limit:
        raise CommandError(f"{len(months)} months is more than {limit} in one run: split the backfill.")
    print(f"Backfill: {len(months)} extract months, {args.first} … {args.last}, in one Dagster run.")
    with Console(stderr=True).status(f"Loading {len(months)} months (one run) …"):
        return _load(argparse.Namespace(month=None, first=args.first, last=args.last))


def _rotate_key(args: argparse.Namespace) -> int:
    from pipelines.operations.key_rotation import rotate_key

    return rotate_key(args)


def ensure_key(demo: bool = False) -> None:
    """Use the configured key; for the demo, create a demo key once and say so."""
    from pipelines.core.keys import MissingKeyError, load_key, new_key_file

    try:
        load_key()
        return
    except MissingKeyError:
        if not demo:
            raise
    key_file = paths().secrets / "demo.key"
    if not key_file.exists():
        key_file.parent.mkdir(parents=True, exist_ok=True)
        new_key_file(key_file)
        print(f"Created a DEMO pseudonymisation key at {key_file} (demo only: never use it for real data).")
    os.environ["OROSTAT_KEY_FILE"] = str(key_file)
    _ensure_demo_archive_key()


def _ensure_demo_archive_key() -> None:
    """The demo keeps its loaded extracts encrypted too, with a separate demo archive key."""
    from pipelines.core.keys import new_key_file
    from pipelines.stage1_landing.archive import MissingArchiveKeyError, load_archive_key

    try:
        load_archive_key()
        return
    except MissingArchiveKeyError:
        pass
    key_file = paths().secrets / "demo-archive.key"
    if not key_file.exists():
        new_key_file(key_file)
        print(
            f"Created a DEMO archive key at {key_file}: loaded extracts are kept encrypted in data/1_archive/."
        )
    os.environ[settings()["archive"]["key_file_env"]] = str(key_file)


def which_run(run_id: str) -> str:
    """A refused run (the lock, a daemon run in progress) never started: it has no run id to name."""
    return f"Dagster run {run_id}" if run_id else "Not started"


def run_load(first: str, last: str) -> bool:
    from pipelines.run import run_months

    print(f"Running the monthly load through Dagster for {first} … {last} (headless) …")
    outcome = run_months(first, last)
    if outcome.success:
        print(f"  Dagster run {outcome.run_id}: success")
        for message in outcome.warnings:
            print(f"    {message} (see `orostat status`)")
    else:
        print(f"  {which_run(outcome.run_id)}: FAILED", file=sys.stderr)
        for message in outcome.errors:
            print(f"    {message}", file=sys.stderr)
    return outcome.success


def _latest_loaded() -> str | None:
    from pipelines.stage3_register.register import latest_extract_month

    return latest_extract_month(paths())


def print_outputs(as_of: str) -> None:
    home = paths()
    print("\nOutputs (INTERNAL statistics: not disclosure-controlled, do not publish):")
    for label, folder in [
        ("pseudonymised reports, quarantine, ledger", home.pseudonymised),
        ("report register (one partition per extract month)", home.register),
        ("statistics (Parquet, hive-partitioned by as_of_month)", home.statistics),
    ]:
        print(f"  {label:55} {folder}")
    print_summary(as_of)
