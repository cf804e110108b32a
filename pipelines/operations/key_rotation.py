"""``orostat rotate-key``: rebuild every loaded month from the retained extracts with the key now configured.

An operation over every stage: it checks that each loaded extract is still retained (landing folder or
archive) and decrypts, then runs the monthly load over all loaded months with the new key, and checks that
every pseudonym afterwards carries the new key id. The README's "Key rotation" says when and how.
"""

from __future__ import annotations

import argparse
import sys

from pipelines.core import db
from pipelines.core.digest import sha256_of
from pipelines.core.files import LEDGER_FILE
from pipelines.core.keys import load_key
from pipelines.core.settings import Paths, paths
from pipelines.run import run_months
from pipelines.stage1_landing.archive import (
    ArchiveError,
    InvalidArchiveKeyError,
    MissingArchiveKeyError,
    archive_key_or_none,
    archived_extracts,
    load_archive_key,
    verify,
)
from pipelines.stage1_landing.landing import landing_files
from pipelines.stage2_pseudonymise.key_check import key_ids, loaded_months


def unretained(paths: Paths, month: str) -> int:
    """How many files the month's ledger lists whose exact content is neither archived nor in landing."""
    ledger = paths.extract_month(month) / LEDGER_FILE
    listed = set(db.rows(f"SELECT source_file, sha256 FROM read_parquet('{ledger}')"))
    available = {(a.name, a.sha256) for a in archived_extracts(paths, month)}
    available |= {(p.name, sha256_of(p)) for p in landing_files(paths.landing, month)}
    return len(listed - available)


def _preflight(home: Paths, months: list[str]) -> str | None:
    """Why the rotation must not start, or None: every loaded file is retained and its archive readable."""
    try:
        missing = {month: n for month in months if (n := unretained(home, month))}
        archived = [a for month in months for a in archived_extracts(home, month)]
    except ArchiveError as err:
        return f"{err} Restore the archive from backup before rotating."
    if missing:
        listed = ", ".join(f"{month} ({n} files)" for month, n in missing.items())
        return (
            "Not every loaded extract is retained, so a rebuild would change the statistics: "
            f"{listed}. Put the delivered files back in {home.landing} (or restore {home.archive}) first."
        )
    if not archived:
        return None
    try:
        key = load_archive_key()
        for item in archived:  # prove every archived file decrypts before anything is replaced
            verify(item.path, key, item.sha256)
    except (MissingArchiveKeyError, InvalidArchiveKeyError, ArchiveError) as err:
        return f"{len(archived)} loaded extracts are archived, but: {err}"
    return None


def rotate_key(args: argparse.Namespace | None = None) -> int:
    """``orostat rotate-key``: rebuild every loaded month from the retained extracts with the key now
    configured, so that every pseudonym carries its key id. Exit 0 done, 1 the rebuild failed, 2 refused."""
    del args  # no options: the new key comes from the environment like every load's
    home = paths()
    try:
        key = load_key()
    except (RuntimeError, ValueError) as err:
        print(f"No usable new pseudonymisation key: {err}", file=sys.stderr)
        return 2
    archive_key_or_none()  # an unusable archive key is refused now, not after the rebuild
    months = loaded_months(home)
    if not months:
        print("Nothing is loaded: there is nothing to rebuild with a new key.", file=sys.stderr)
        return 2
    before = key_ids(home)
    if before["pseudonymised"] | before["register"] == {key.key_id}:
        print(f"Every pseudonym already carries key {key.key_id}: nothing to rotate.")
        return 0
    problem = _preflight(home, months)
    if problem:
        print(f"Key rotation refused: {problem}", file=sys.stderr)
        return 2
    old = ", ".join(sorted(before["register"] | before["pseudonymised"])) or "none"
    print(
        f"Rotating key {old} → {key.key_id}: rebuilding {len(months)} loaded months, {months[0]} … {months[-1]}."
    )
    outcome = run_months(months[0], months[-1], rotation=True)
    if not outcome.success:
        print(f"  Dagster run {outcome.run_id}: FAILED; the old key is still needed.", file=sys.stderr)
        for message in outcome.errors:
            print(f"    {message}", file=sys.stderr)
        return 1
    after = key_ids(home)
    if after["pseudonymised"] | after["register"] != {key.key_id}:
        print(f"  Key ids after the rebuild: {after}; expected only {key.key_id}.", file=sys.stderr)
        return 1
    print(
        f"  Dagster run {outcome.run_id}: success. Every pseudonym now carries key {key.key_id}. "
        "Check `orostat status`, then destroy the old key."
    )
    return 0
