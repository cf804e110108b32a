"""The landing folder: which delivered files it holds and for which month each one is; and the rows read
from them as one table (``landed_table``), which stage 2 validates.

A file's name says which municipality and month it delivers (``read.parse_file_name``); a name that says
neither is listed as unrecognised so that its refusal is recorded, never silently skipped.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pyarrow as pa

from pipelines.stage1_landing.delivery import (
    DATE_FIELDS,
    DELIVERED_FLAGS,
    TEXT_FIELDS,
    FileRejected,
    Landed,
    is_delivery_name,
    masked_name,
    parse_file_name,
)


def delivered_files(landing: Path, month: str | None = None) -> list[tuple[Path, str]]:
    """(file, month it delivers) for every landing file whose name says which month it delivers.

    With ``month``, only that month's files. A 10-year landing folder holds ~35,000 files and every
    month's load lists it, so names that cannot deliver ``month`` are skipped before they are parsed.
    """
    if not landing.exists():
        return []
    found = []
    with os.scandir(landing) as entries:
        names = sorted(
            e.name
            for e in entries
            if not e.name.startswith(".") and (month is None or month in e.name) and _is_delivered(e)
        )
    for name in names:
        try:
            _, period = parse_file_name(Path(name))
        except FileRejected:
            continue
        if month is None or period == month:
            found.append((landing / name, period))
    return found


def _is_delivered(entry: os.DirEntry) -> bool:
    """A regular file, or a symbolic link: listed so that it is refused and recorded (``symlank``),
    never followed (it could point at the key file or anything else outside the landing folder)."""
    return entry.is_symlink() or entry.is_file(follow_symlinks=False)


def landing_files(landing: Path, month: str) -> list[Path]:
    """Files in the landing folder whose name says they deliver ``month``."""
    return [path for path, _ in delivered_files(landing, month)]


def unrecognised_files(landing: Path) -> list[str]:
    """Landing files whose name gives no municipality and month: they cannot be loaded, so say so.

    Names are masked like any other text: a file could be named after a child's personnummer.
    """
    return [masked_name(name) for name in unrecognised_names(landing)]


def unrecognised_names(landing: Path) -> list[str]:
    """The unmasked names of :func:`unrecognised_files` (never to be logged or stored as they are)."""
    if not landing.exists():
        return []
    # Names, not Path objects: sorting, stat-ing and parsing 35,000 Paths took half a second per load.
    with os.scandir(landing) as entries:
        listed = sorted(e.name for e in entries if not e.name.startswith(".") and _is_delivered(e))
    return [name for name in listed if not is_delivery_name(name)]


def landed_table(landed: list[Landed]) -> pa.Table:
    """The month's contract rows, each with its file's name and the municipality the name gives."""
    if not landed:
        return _empty_landed()
    index = np.repeat(np.arange(len(landed)), [item.rows.num_rows for item in landed])
    table = pa.concat_tables([item.rows for item in landed], promote_options="permissive")
    names = pa.array([item.path.name for item in landed], pa.string())
    codes = pa.array([item.municipality_code for item in landed], pa.string())
    return table.append_column("source_file", names.take(index)).append_column(
        "file_municipality_code", codes.take(index)
    )


def _empty_landed() -> pa.Table:
    text = [f for f in TEXT_FIELDS if f not in DATE_FIELDS]
    names = ["row_number", *text, *(f"{f}_raw" for f in DATE_FIELDS), "list_separator", "dialect"]
    schema = {n: pa.string() for n in names} | {"row_number": pa.int32()}
    schema |= {n: pa.bool_() for n in DELIVERED_FLAGS}
    schema |= {"source_file": pa.string(), "file_municipality_code": pa.string()}
    return pa.table({n: pa.array([], t) for n, t in schema.items()})
