"""Read delivered extracts, whatever system exported them, into the contract's fields (all text).

A file is matched to a dialect in ``schemas/dialects/`` by its header names (case- and accent-
insensitively). Encoding and delimiter are detected, not trusted from the dialect, because the same
system is configured differently in different municipalities.

Two steps: :func:`parse_extract` does what is per file (name, size, encoding, parsing, dialect);
:func:`land` then brings any number of parsed files into the contract in one pass (trimming, dialect
words to codes) and rejects a file that is plainly another municipality's or month's delivery. Stage 2
lands a month's 290 files at once; :func:`read_extract` is the two for one file.

Nothing here validates values: that is stage 2's job, on the whole month at once in DuckDB. Errors never
quote cell contents, because a cell may hold a personnummer.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.core.schemas import dialects
from pipelines.stage1_landing.csv_text import read_csv, text_format
from pipelines.stage1_landing.delivery import (
    DATE_FIELDS,
    DELIVERED_FLAGS,
    TEXT_FIELDS,
    XLSX_MAGIC,
    FileRejected,
    Landed,
    Parsed,
    check_size,
    parse_file_name,
)
from pipelines.stage1_landing.dialect import dialect_words, map_words, match_dialect, renamed, sheet_names


def read_extract(path: Path, content: bytes | None = None) -> Landed:
    """Read one landing file, or raise FileRejected with a clear reason.

    ``content`` holds the file's bytes when they do not come from ``path`` (an archived extract decrypted
    in memory, so that its plaintext never touches the disk); ``path`` then only names the delivery.
    """
    (landed,) = land([parse_extract(path, content)])
    if isinstance(landed, FileRejected):
        raise landed
    return landed


def parse_extract(
    path: Path, content: bytes | None = None, read: tuple[list[str], pa.Table, list] | None = None
) -> Parsed:
    """The file-level half of reading: name, size, encoding, delimiter, parse, dialect (FileRejected).

    ``read``: the file's CSV rows when :func:`read_csv_together` has read them with other files."""
    municipality, period = parse_file_name(path)
    check_size(path.stat().st_size if content is None else len(content))
    raw = path.read_bytes() if content is None else content
    head = raw[:65536]
    if head.startswith(XLSX_MAGIC):
        from pipelines.stage1_landing.spreadsheet import read_xlsx

        header, records, unreadable = read_xlsx(raw, sheet_names())
        encoding, delimiter = "xlsx", ""
        dialect_format = "xlsx"
    else:
        encoding, delimiter = text_format(raw)
        header, records, unreadable = read or read_csv(raw, encoding, delimiter)
        dialect_format = "csv"
    name, mapping, ignored = match_dialect(header, dialect_format)
    return Parsed(
        path=path,
        municipality_code=municipality,
        period=period,
        dialect=name,
        encoding=encoding,
        delimiter=delimiter,
        rows=renamed(records, mapping),
        unreadable_rows=unreadable,
        ignored_columns=ignored,
    )


def land(parsed: list[Parsed]) -> list[Landed | FileRejected]:
    """Every parsed file into the contract at once; a file that is plainly another municipality's or
    another month's delivery comes back as its FileRejected instead.

    One pass over a month's rows, not one per file: for a national month (290 files of ≈ 200 rows) the
    per-call overhead of a dozen Arrow calls per file cost more than the work itself (0.15 s of CPU a
    month, an eighth of stage 2).
    """
    if not parsed:
        return []
    lengths = [item.rows.num_rows for item in parsed]
    file_index = np.repeat(np.arange(len(parsed)), lengths)  # each row's file, as a position in ``parsed``
    rows = _contract(pa.concat_tables([item.rows for item in parsed]), parsed, file_index)
    verdicts = _delivery_verdicts(rows, parsed, lengths, file_index)
    out: list[Landed | FileRejected] = []
    start = 0
    for item, n, verdict in zip(parsed, lengths, verdicts, strict=True):
        out.append(verdict or Landed(**{**vars(item), "rows": rows.slice(start, n)}))
        start += n
    return out


def _delivery_verdicts(
    rows: pa.Table, parsed: list[Parsed], lengths: list[int], file_index: np.ndarray
) -> list[FileRejected | None]:
    """Reject a file that is plainly another municipality's or another month's delivery.

    A few rows with another code or date are row problems (quarantined); a file where most rows
    disagree with its name is a wrong file, and loading it would put reports in the wrong place.
    Counted for every file at once; the message is built only for a file that is rejected.
    """
    from pipelines.core.partitions import month_bounds

    own_code = _per_row([item.municipality_code for item in parsed], pa.string(), file_index)
    codes = rows.column("municipality_code")
    own = _per_file(pc.equal(codes, own_code), file_index, len(parsed))
    other = _per_file(pc.not_equal(codes, own_code), file_index, len(parsed))
    bounds = [month_bounds(item.period) for item in parsed]
    dates = pc.cast(_rough_dates(rows), pa.date32())
    lookback = _per_row([b[2] for b in bounds], pa.date32(), file_index)
    end = _per_row([b[1] for b in bounds], pa.date32(), file_index)
    dated = _per_file(pc.is_valid(dates), file_index, len(parsed))
    inside = _per_file(
        pc.and_(pc.greater_equal(dates, lookback), pc.less_equal(dates, end)), file_index, len(parsed)
    )
    verdicts: list[FileRejected | None] = []
    start = 0
    for i, (item, n) in enumerate(zip(parsed, lengths, strict=True)):
        part = slice(start, start + n)
        start += n
        if item.municipality_code not in _known_municipalities():
            verdicts.append(
                FileRejected(
                    "kommun_okand",
                    f"The file name's municipality code {item.municipality_code} is not one of the 290.",
                )
            )
        elif other[i] and own[i] * 2 < other[i]:
            verdicts.append(_wrong_municipality(codes[part], item.municipality_code))
        elif dated[i] and inside[i] * 2 < dated[i]:
            verdicts.append(_wrong_period(dates[part], item.period))
        else:
            verdicts.append(None)
    return verdicts


def _per_row(values: list[Any], type_: pa.DataType, file_index: np.ndarray) -> pa.Array:
    """A value per file, repeated for each of the file's rows."""
    return pa.array(values, type_).take(file_index)


def _per_file(flags: pa.ChunkedArray | pa.Array, file_index: np.ndarray, files: int) -> np.ndarray:
    """How many rows of each file the flag is true for (null counts as false)."""
    weights = pc.fill_null(flags, False).to_numpy(zero_copy_only=False)
    return np.bincount(file_index, weights=weights, minlength=files).astype(int)


@cache
def _known_municipalities() -> frozenset[str]:
    from pipelines.core.schemas import code_table

    return frozenset(code_table("municipalities").column("municipality_code").to_pylist())


def _wrong_municipality(codes: pa.ChunkedArray, municipality: str) -> FileRejected:
    counts = pc.value_counts(pc.drop_null(codes)).to_pylist()
    other = sorted((c for c in counts if c["values"] != municipality), key=lambda c: -c["counts"])
    # Only values shaped like a kommunkod are echoed: the column could hold anything.
    shown = ", ".join(c["values"] if re.fullmatch(r"\d{4}", c["values"]) else "…" for c in other[:3])
    return FileRejected(
        "fel_kommun",
        f"Most rows carry another municipality code ({shown}) than the delivering municipality "
        f"{municipality} in the file name.",
    )


def _wrong_period(dates: pa.ChunkedArray, period: str) -> FileRejected:
    first, last = pc.min(dates).as_py(), pc.max(dates).as_py()
    return FileRejected(
        "fel_period",
        f"The file name says {period}, but most dates received lie outside it ({first} … {last}).",
    )


def _contract(raw: pa.Table, parsed: list[Parsed], file_index: np.ndarray) -> pa.Table:
    """Trim, blank to null, dialect words to codes; dates stay text (stage 2 parses them strictly)."""
    dialect = _per_row([item.dialect for item in parsed], pa.string(), file_index)
    out: dict[str, Any] = {"row_number": raw.column("row_number")}
    out |= {name: _blank_to_null(raw.column(name)) for name in TEXT_FIELDS}
    for name, words in dialect_words().items():
        out[name] = map_words(out[name], dialect, words)
    for name in DATE_FIELDS:
        out[f"{name}_raw"] = out.pop(name)
    out |= {name: raw.column(name) for name in DELIVERED_FLAGS}
    out["dialect"] = dialect
    # Split into a list in SQL (stage 2), where trimming and dropping empty parts is one expression.
    separators = [dialects()[item.dialect].get("list_separator", ",") for item in parsed]
    out["list_separator"] = _per_row(separators, pa.string(), file_index)
    return pa.table(out)


def _blank_to_null(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Trimmed, with blank values as null. Column by column over the month's chunks, never laid end to
    end: a month's text could exceed what one Arrow string array can hold."""
    trimmed = pc.utf8_trim_whitespace(column)
    return pc.if_else(pc.equal(trimmed, ""), None, trimmed)


def _rough_dates(rows: pa.Table) -> pa.Array:
    """Dates received, parsed leniently in each row's dialect formats, only to judge which month a file
    is about (the strict parse is stage 2's)."""
    column = rows.column("date_received_raw")
    dialect = rows.column("dialect")
    parsed: pa.Array = pa.nulls(len(column), pa.timestamp("s"))
    for name in pc.unique(dialect).to_pylist():
        formats = dialects()[name]["date_formats"]
        dates = pc.coalesce(*[pc.strptime(column, format=f, unit="s", error_is_null=True) for f in formats])
        parsed = pc.if_else(pc.equal(dialect, name), dates, parsed)
    return parsed
