"""Carried state: each statistic's additive parts as of an extract month, so the next month continues.

Every statistic is built from parts that add up over extract months (counts of reports, distinct
children from the month each is first counted, days-to-decision histograms; see ``compute``). The parts
as of month P, kept here, plus what extracts after P added give the parts as of any later month: a
monthly load then reads the month's new entries and the histories of the reports and children in them,
not two years of register.

A state is used only while the register it was computed from is in place: it records a fingerprint of
the register partitions up to P (the SHA-256 stage 3 writes beside each), the statistics contract and
the settings. A re-delivered month that changes its partition makes every state from that month on stop
matching, and the run computes from the register instead. The parts are aggregates per group (no
pseudonym); the undecided reports carried for delivery monitoring are keys (municipality, report id).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import yaml
from cryptography.hazmat.primitives import hashes

from pipelines.core.settings import SCHEMAS, Paths, settings
from pipelines.stage3_register.register import DIGEST_FILE

# Bump when what a part holds changes: older states then no longer match and are recomputed.
STATE_VERSION = "1"
FINGERPRINT = "register_fingerprint"


def folder(paths: Paths, name: str, month: str) -> Path:
    return paths.statistics_state / name / f"as_of_month={month}"


def fingerprint(paths: Paths, month: str) -> str | None:
    """What statistics as of ``month`` depend on; None if a register partition has no digest."""
    digest = hashes.Hash(hashes.SHA256())
    contract = (SCHEMAS / "statistics.yaml").read_bytes()
    # The settings statistics read: earlier years covered, the decision deadline, the synthetic label.
    rules = yaml.safe_dump({k: settings()[k] for k in ("statistics", "decisions", "demo")}).encode()
    for part in (STATE_VERSION.encode(), contract, rules):
        digest.update(part + b"\0")
    partitions = sorted(paths.register.glob("extract_month=*")) if paths.register.exists() else []
    for partition in partitions:
        if partition.name.split("=")[1] > month:
            continue
        written = partition / DIGEST_FILE
        if not written.exists():
            return None
        digest.update(partition.name.encode() + b"=" + written.read_bytes().strip() + b"\0")
    return digest.finalize().hex()


def usable(paths: Paths, names: list[str], month: str, parts: dict[str, list[str]]) -> bool:
    """Whether every statistic in ``names`` has all its parts as of ``month``, from the register as it is."""
    expected = fingerprint(paths, month)
    if expected is None:
        return False
    for name in names:
        for part in parts[name]:
            path = folder(paths, name, month) / f"{part}.parquet"
            try:
                found = (pq.read_metadata(path).metadata or {}).get(FINGERPRINT.encode())
            except (OSError, pa.ArrowException):  # missing or damaged: computed from the register instead
                return False
            if found != expected.encode():
                return False
    return True


def previous_month(month: str) -> str:
    year, number = map(int, month.split("-"))
    return f"{year - 1}-12" if number == 1 else f"{year}-{number - 1:02d}"


def months_to_keep(as_of_months: list[str]) -> set[str]:
    """The as-of months whose state a run writes: the last of each calendar year (the next year's
    computation continues from it) and the last two of the run (the next month's load, and a
    re-delivery of the latest month, continue from them)."""
    ordered = sorted(as_of_months)
    ends = {max(m for m in ordered if m[:4] == year) for year in {m[:4] for m in ordered}}
    return ends | set(ordered[-2:])


def prune(paths: Paths, name: str, written: set[str]) -> None:
    """Delete the states of ``name`` no load will continue from.

    Kept: the states this run wrote (``written``), the last month of every year (a backfill or a
    re-delivered older month continues from the December before it) and the two latest months (the
    next month's load and a re-delivery of the latest month). Without this a monthly load would leave
    one state per month for good (≈ 2 MB each for the statistics).
    """
    months = sorted(p.name.split("=", 1)[1] for p in (paths.statistics_state / name).glob("as_of_month=*"))
    keep = written | {m for m in months if m.endswith("-12")} | set(months[-2:])
    for month in months:
        if month not in keep:
            shutil.rmtree(folder(paths, name, month), ignore_errors=True)
