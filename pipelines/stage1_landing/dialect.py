"""Dialects (``schemas/dialects/*.yaml``): which system exported a file, told by its header names (case- and
accent-insensitively), which column holds which contract field, and the dialect's own words for codes.
"""

from __future__ import annotations

from collections import Counter
from functools import cache
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.core.schemas import delivered_flags, dialects, extract_contract, fold
from pipelines.stage1_landing.delivery import DELIVERED_FLAGS, TEXT_FIELDS, FileRejected


def sheet_names() -> list[str]:
    """Sheet names the spreadsheet dialects look for before falling back to the first sheet."""
    return [n for d in dialects().values() if d["format"] == "xlsx" for n in d.get("sheet_names", [])]


def match_dialect(header: list[str], file_format: str) -> tuple[str, dict[str, str], list[str]]:
    """The dialect whose aliases cover every required field; returns (name, field→column, ignored)."""
    required = [f for f, spec in extract_contract()["fields"].items() if spec.get("required")]
    folded = {fold(h): h for h in header}
    best: tuple[int, str, dict[str, str]] | None = None
    missing_by_dialect: dict[str, list[str]] = {}
    for name, spec in dialects().items():
        if spec["format"] != file_format:
            continue
        mapping = {
            field_name: folded[fold(alias)]
            for field_name, aliases in spec["columns"].items()
            for alias in aliases
            if fold(alias) in folded
        }
        missing = [f for f in required if f not in mapping]
        missing_by_dialect[name] = missing
        if not missing and (best is None or len(mapping) > best[0]):
            best = (len(mapping), name, mapping)
    if best is None:
        closest = min(missing_by_dialect, key=lambda n: len(missing_by_dialect[n]), default=None)
        if closest is None:
            raise FileRejected(
                "okand_dialekt",
                f"The header matches no known dialect for a {file_format} file.",
                f"Rubrikraden passar inget känt format för en {file_format}-fil.",
            )
        # Named as the dialect names the columns (never as the file's header cells, which are delivered
        # content): what the municipality must add.
        columns = ", ".join(column_names(closest, f) for f in missing_by_dialect[closest])
        fields = ", ".join(f"{column_names(closest, f)} ({f})" for f in missing_by_dialect[closest])
        raise FileRejected(
            "okand_dialekt",
            f"The header matches no known dialect; the closest, {closest!r}, needs the columns: {fields}.",
            f"Rubrikraden passar inget känt format; närmast är {closest!r}, som också behöver kolumnerna: {columns}.",
        )
    _, name, mapping = best
    _check_one_column_per_field(header, dialects()[name])
    used = set(mapping.values())
    return name, mapping, [h for h in header if h not in used]


def _check_one_column_per_field(header: list[str], dialect: dict[str, Any]) -> None:
    """Reject a header in which a field's column occurs twice (``Personnummer`` twice, or both
    ``Personnummer`` and ``Personnr``): which one holds the child's number cannot be known, and
    silently taking one would load the other's rows wrong."""
    fields = _alias_fields(dialect["dialect"])
    counts = Counter(fields[fold(cell)] for cell in header if fold(cell) in fields)
    doubled = sorted(f for f, n in counts.items() if n > 1)
    if doubled:
        # Field names, not header text: a header cell is delivered content.
        names = "; ".join(column_names(dialect["dialect"], f) for f in doubled)
        fields = "; ".join(f"{column_names(dialect['dialect'], f)} ({f})" for f in doubled)
        raise FileRejected(
            "dubbel_kolumn",
            f"The header has more than one column for the same field: {fields} (dialect {dialect['dialect']!r}).",
            f"Rubrikraden har mer än en kolumn för samma uppgift: {names} (format {dialect['dialect']!r}).",
        )


def column_names(dialect: str, field_name: str) -> str:
    """A field as the dialect's columns name it, e.g. ``Personnummer/Personnr``."""
    return "/".join(dialects()[dialect]["columns"].get(field_name, [field_name]))


@cache
def _alias_fields(dialect: str) -> dict[str, str]:
    """A dialect's column aliases, folded, to the field each names."""
    columns = dialects()[dialect]["columns"]
    return {fold(alias): name for name, aliases in columns.items() for alias in aliases}


def renamed(table: pa.Table, mapping: dict[str, str]) -> pa.Table:
    """``row_number`` and the contract's fields under their own names; a field the dialect lacks is null.

    An optional field with a ``delivered_flag`` also gets ``<field>_delivered``: whether the file had its
    column (an empty value then means "none", a missing column "unknown")."""
    n = table.num_rows
    if "__row_number" in table.column_names:
        row_numbers = table.column("__row_number")
    else:
        row_numbers = pa.array(np.arange(2, n + 2, dtype=np.int32))
    columns = [row_numbers]
    for name in TEXT_FIELDS:
        column = table.column(mapping[name]) if name in mapping else pa.nulls(n, pa.string())
        columns.append(column if column.type == pa.string() else column.cast(pa.string()))
    columns += [pa.repeat(pa.scalar(name in mapping), n) for name in delivered_flags()]
    return pa.table(columns, names=["row_number", *TEXT_FIELDS, *DELIVERED_FLAGS])


@cache
def dialect_words() -> dict[str, dict[tuple[str, str], str]]:
    """field → {(dialect, word folded to lower case): code}, over every dialect's ``values``."""
    words: dict[str, dict[tuple[str, str], str]] = {}
    for name, spec in dialects().items():
        for field_name, mapping in (spec.get("values") or {}).items():
            for word, code in mapping.items():
                words.setdefault(field_name, {})[(name, word.strip().lower())] = code
    return words


def map_words(
    column: pa.ChunkedArray, dialect: pa.Array, words: dict[tuple[str, str], str]
) -> pa.ChunkedArray:
    """Each row's dialect words to codes, case-insensitively; unmapped values pass through for
    validation. The key joins dialect and word with a unit separator, which no dialect name contains."""
    keys = pa.array([f"{d}\x1f{w}" for d, w in words], pa.string())
    codes = pa.array(list(words.values()), pa.string())
    index = pc.index_in(pc.binary_join_element_wise(dialect, pc.utf8_lower(column), "\x1f"), value_set=keys)
    return pc.coalesce(pc.take(codes, index), column)
