"""What a delivered extract is before its rows are read: its name (municipality and month), its size limit,
what reading it gives (``Parsed``, ``Landed``) and why it can be refused as a whole (``FileRejected``).

File names are stored and logged, so a name that carries what looks like a personnummer is refused and
only ever shown masked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import pyarrow as pa

from pipelines.core.schemas import delivered_flags, extract_contract
from pipelines.core.settings import settings

TEXT_FIELDS = list(extract_contract()["fields"])
# Date fields stay text through stage 1 (as ``<field>_raw``): stage 2 parses them strictly per dialect.
DATE_FIELDS = [name for name, spec in extract_contract()["fields"].items() if spec["type"] == "date"]
# Per row, whether the row's file had the optional field's column at all (``<field>_delivered``).
DELIVERED_FLAGS = [f"{name}_delivered" for name in delivered_flags()]
XLSX_MAGIC = b"PK\x03\x04"


class FileRejected(Exception):
    """The whole file cannot be loaded. ``code`` is stable; the message is safe to show and log.

    ``sv`` is the same message in Swedish where it says more than the code's Swedish text in
    ``quarantine_reasons.yaml`` (which column is missing, in the file's own column names)."""

    def __init__(self, code: str, message: str, sv: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.sv = sv


@dataclass
class Parsed:
    """One extract parsed and matched to its dialect: ``rows`` holds ``row_number`` and the contract's
    fields exactly as delivered (not yet trimmed, mapped or checked; see :func:`land`)."""

    path: Path
    municipality_code: str
    period: str
    dialect: str
    encoding: str
    delimiter: str
    rows: pa.Table
    unreadable_rows: list[tuple[int, str]] = field(default_factory=list)  # (row number, reason code)
    ignored_columns: list[str] = field(default_factory=list)


@dataclass
class Landed(Parsed):
    """One extract in the contract's fields (:func:`land`): ``rows`` has one row per data record, all text."""

    @property
    def records(self) -> int:
        """The file's data records: the rows read and the records that could not be split into fields."""
        return self.rows.num_rows + len(self.unreadable_rows)


@cache
def _compiled(pattern: str, flags: int = 0) -> re.Pattern[str]:
    return re.compile(pattern, flags)


def _name_rules() -> tuple[re.Pattern[str], re.Pattern[str]]:
    """(what looks like a personnummer, the landing file name pattern), from settings.yaml."""
    return (
        _compiled(settings()["masking"]["identifier_regex"]),
        _compiled(settings()["extract"]["file_name_pattern"], re.IGNORECASE),
    )


def is_delivery_name(name: str) -> bool:
    """Whether :func:`parse_file_name` accepts ``name`` (without building its error)."""
    identifier, pattern = _name_rules()
    match = pattern.match(name) if identifier.search(name) is None else None
    return match is not None and _is_month(match["period"])


def _is_month(period: str) -> bool:
    """The pattern only says YYYY-MM; month 13 (or 00) names no month and must be refused like any
    other bad name, not loaded under a partition that does not exist."""
    return 1 <= int(period[5:7]) <= 12


def parse_file_name(path: Path) -> tuple[str, str]:
    """(municipality code, period YYYY-MM) from a landing file name, per settings.yaml's pattern."""
    masked = masked_name(path.name)
    if masked != path.name:
        # The name is stored (ledger, quarantine, feedback, Dagster metadata), so it must not carry a number.
        raise FileRejected(
            "filnamn_id",
            f"The file name {masked!r} contains what looks like a personnummer; rename it to"
            " <kommunkod>_<ÅÅÅÅ-MM>.csv|.txt|.xlsx.",
        )
    match = _name_rules()[1].match(path.name)
    if not match or not _is_month(match["period"]):
        raise FileRejected(
            "filnamn",
            f"The file name {masked!r} does not follow <kommunkod>_<ÅÅÅÅ-MM>.csv|.txt|.xlsx.",
        )
    return match["municipality_code"], match["period"]


def masked_name(name: str) -> str:
    """A file name with anything that looks like a personnummer replaced, safe to log and store."""
    return _name_rules()[0].sub("XXXXXX-XXXX", name)


def check_size(size: int) -> None:
    """Reject an empty file, or one larger than settings.yaml allows, before reading (or decrypting) it."""
    limit = settings()["extract"]["max_file_bytes"]
    if size == 0:
        raise FileRejected("tom_fil", "The file is empty.")
    if size > limit:
        raise FileRejected("for_stor", f"The file is {size} bytes; the limit is {limit} bytes.")
