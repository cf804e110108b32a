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

import codecs
import csv
import io
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from pipelines.core.schemas import dialects, extract_contract, fold
from pipelines.core.settings import settings

TEXT_FIELDS = list(extract_contract()["fields"])
XLSX_MAGIC = b"PK\x03\x04"


class FileRejected(Exception):
    """The whole file cannot be loaded. ``code`` is stable; the message is safe to show and log."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


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

        header, records, unreadable = read_xlsx(raw, _sheet_names())
        encoding, delimiter = "xlsx", ""
        dialect_format = "xlsx"
    else:
        encoding, delimiter = _text_format(raw)
        header, records, unreadable = read or _read_csv(raw, encoding, delimiter)
        dialect_format = "csv"
    name, mapping, ignored = match_dialect(header, dialect_format)
    return Parsed(
        path=path,
        municipality_code=municipality,
        period=period,
        dialect=name,
        encoding=encoding,
        delimiter=delimiter,
        rows=_renamed(records, mapping),
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


def check_size(size: int) -> None:
    """Reject an empty file, or one larger than settings.yaml allows, before reading (or decrypting) it."""
    limit = settings()["extract"]["max_file_bytes"]
    if size == 0:
        raise FileRejected("tom_fil", "The file is empty.")
    if size > limit:
        raise FileRejected("for_stor", f"The file is {size} bytes; the limit is {limit} bytes.")


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


def detect_encoding(head: bytes) -> str:
    """BOMs first; UTF-16 by its zero bytes; then UTF-8 if it decodes; otherwise Windows-1252."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    zeros = head.count(b"\x00")
    if zeros:
        # Excel's "Unicode text" without BOM: every other byte of ASCII text is zero.
        if zeros >= len(head) // 3 and head[1::2].count(0) > len(head) // 3:
            return "utf-16-le"
        if zeros >= len(head) // 3 and head[0::2].count(0) > len(head) // 3:
            return "utf-16-be"
        if zeros > max(16, len(head) // 100):
            raise FileRejected("inte_tabell", "The file holds binary data, not a text table.")
        # A few stray NUL bytes are a row problem (quarantined), not a reason to reject the file.
    try:
        head.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as err:
        # A multi-byte character cut at the end of the sample is still UTF-8.
        if err.start >= len(head) - 3:
            return "utf-8"
    return "cp1252"


def _confirm_utf8(raw: bytes) -> str:
    """The whole file must decode as UTF-8, not just its first 64 KiB (whose end may cut a character);
    otherwise it is Windows-1252."""
    try:
        raw.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        return "cp1252"


def _first_line(head: bytes, encoding: str) -> str:
    text = head.decode(encoding, errors="replace")
    line = text.splitlines()[0] if text.strip() else ""
    if not line.strip():
        raise FileRejected("tom_fil", "The file has no header row.")
    if line.lstrip().lower().startswith(("<!doctype", "<html", "<?xml")):
        raise FileRejected("inte_tabell", "The file is a web page or XML document, not a table.")
    return line


def sniff_delimiter(header_line: str) -> str:
    """The most frequent of ; , tab | outside quotes in the header row."""
    unquoted = re.sub(r'"[^"]*"', "", header_line)
    counts = {d: unquoted.count(d) for d in (";", ",", "\t", "|")}
    best = max(counts, key=lambda d: counts[d])
    if counts[best] == 0:
        raise FileRejected("inte_tabell", "No column separator (; , tab or |) found in the header row.")
    return best


def _text_format(raw: bytes) -> tuple[str, str]:
    """(encoding, delimiter) of a delimited text file (FileRejected when it is not a table)."""
    head = raw[:65536]
    encoding = detect_encoding(head)
    if encoding == "utf-8":  # also a file within the sample: its last bytes were not cut by the sample
        encoding = _confirm_utf8(raw)
    return encoding, sniff_delimiter(_first_line(head, encoding))


def _has_blank_line(raw: bytes) -> bool:
    return re.search(rb"\n[ \t\r]*\n", raw.lstrip(b"\r\n")) is not None


def read_csv_together(contents: list[bytes | None]) -> list[tuple[list[str], pa.Table, list] | None]:
    """The rows of many small CSV files, read by one pyarrow call per shared header, encoding and
    delimiter instead of one per file (a national month's 247 CSV files: 0.13 -> 0.02 s of CPU; the
    call's own overhead was most of the work). Per file: what :func:`_read_csv` would give it, or None
    where the file is read alone (a spreadsheet, a quote or a lone carriage return that could make a
    record span lines, a blank or malformed line, a file alone in its group, anything not a table)."""
    groups: dict[tuple[str, str, bytes], list[tuple[int, bytes, int]]] = {}
    for i, raw in enumerate(contents):
        key = _batchable(raw) if raw is not None else None
        if key is not None:
            header_line, body = raw.split(b"\n", 1)
            rows = body.count(b"\n") + (not body.endswith(b"\n"))
            groups.setdefault((*key, header_line), []).append(
                (i, body if body.endswith(b"\n") else body + b"\n", rows)
            )
    out: list[tuple[list[str], pa.Table, list] | None] = [None] * len(contents)
    for (encoding, delimiter, header_line), members in groups.items():
        if len(members) < 2:
            continue
        raw = b"".join([header_line, b"\n", *(body for _, body, _ in members)])
        table = _arrow_csv(raw, encoding, delimiter)
        if table is None or table.num_rows != sum(rows for _, _, rows in members) or _has_huge_field(table):
            continue  # each file alone finds (and numbers) what is wrong
        start = 0
        for i, _, rows in members:
            out[i] = (table.column_names, table.slice(start, rows), [])
            start += rows
    return out


def _batchable(raw: bytes) -> tuple[str, str] | None:
    """(encoding, delimiter) of a CSV file whose records are exactly its lines after the header."""
    if raw.startswith(XLSX_MAGIC) or raw.startswith((b"\n", b"\r")) or b'"' in raw:
        return None
    if raw.count(b"\r") != raw.count(b"\r\n") or _has_blank_line(raw) or not raw.partition(b"\n")[2].strip():
        return None
    try:
        encoding, delimiter = _text_format(raw)
    except FileRejected:
        return None
    return None if encoding.startswith("utf-16") else (encoding, delimiter)


def _read_csv(raw: bytes, encoding: str, delimiter: str) -> tuple[list[str], pa.Table, list]:
    """Fast path with pyarrow; the exact csv-module reader where row numbers could drift.

    Row numbers must match what the analyst sees in Excel. pyarrow drops blank lines without counting
    them, so a file with a blank line (or in UTF-16, where that is hard to see in bytes) and a file with
    any malformed record are read record by record instead.
    """
    if encoding.startswith("utf-16") or _has_blank_line(raw):
        return _read_csv_exact(raw, encoding, delimiter)
    table = _arrow_csv(raw, encoding, delimiter)
    # A record spanning lines (a quoted line break, or a quote never closed that swallows the rest of the
    # file) or an oversized field: the exact reader decides whether that is a record or a broken file.
    if table is None or table.num_rows != _data_lines(raw) or _has_huge_field(table):
        return _read_csv_exact(raw, encoding, delimiter)
    if table.num_rows == 0:
        raise FileRejected("bara_rubrik", "The file has a header row but no data rows.")
    return table.column_names, table, []


def _arrow_csv(raw: bytes, encoding: str, delimiter: str) -> pa.Table | None:
    """Every field as text by pyarrow, or None if any record is malformed or the text will not decode."""
    bad: list[int] = []

    def on_invalid(_row: Any) -> str:
        bad.append(1)
        return "skip"

    try:
        # Handed over as UTF-8: pyarrow decodes a malformed record's text as UTF-8 for the handler, and
        # a Windows-1252 letter there printed a traceback instead of counting the record.
        utf8 = raw if encoding == "utf-8" else raw.decode(encoding).encode("utf-8")
        table = pacsv.read_csv(
            pa.BufferReader(utf8),
            read_options=pacsv.ReadOptions(encoding="utf-8", use_threads=False, block_size=1 << 24),
            parse_options=pacsv.ParseOptions(
                delimiter=delimiter, newlines_in_values=True, invalid_row_handler=on_invalid
            ),
            convert_options=pacsv.ConvertOptions(
                column_types=_all_text(raw, encoding, delimiter), strings_can_be_null=False
            ),
        )
    except (pa.ArrowInvalid, UnicodeDecodeError):
        return None
    return None if bad else table


def _all_text(raw: bytes, encoding: str, delimiter: str) -> dict[str, pa.DataType]:
    first = raw[:65536].decode(encoding, errors="replace")
    header = next(csv.reader(io.StringIO(first, newline=""), delimiter=delimiter))
    return {name: pa.string() for name in header}


def _data_lines(raw: bytes) -> int:
    """The physical lines after the header (CR LF, LF or CR each end one), for an ASCII-compatible
    encoding: what the deliverer sees as rows when every record is one line."""
    ends = raw.count(b"\n") + raw.count(b"\r") - raw.count(b"\r\n")
    return ends - (raw.endswith((b"\n", b"\r")))


def _has_huge_field(table: pa.Table) -> bool:
    """Whether any value exceeds what the exact reader (and Python's csv module) accepts in a field."""
    limit = csv.field_size_limit()
    return any((pc.max(pc.binary_length(column)).as_py() or 0) > limit for column in table.columns)


class _Lines:
    """The text's physical lines, remembering those the csv reader took for its latest record."""

    def __init__(self, text: str) -> None:
        self._lines = io.StringIO(text, newline="")
        self.taken: list[str] = []

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        line = next(self._lines)
        self.taken.append(line)
        return line


def _records(text: str, delimiter: str) -> Iterator[tuple[list[str], list[str]]]:
    """(record, the physical lines it was read from) for every record, header first.

    Python's csv module stops with an error at a field over its size limit (often a quote never closed);
    that is a whole-file rejection with a reason, never a traceback."""
    lines = _Lines(text)
    reader = csv.reader(lines, delimiter=delimiter, strict=False)
    while True:
        lines.taken = []
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error:
            raise FileRejected(
                "falt_for_stort",
                f"A field is longer than {csv.field_size_limit()} characters; the file cannot be read "
                "(check for a quote that is not closed).",
            ) from None
        yield record, lines.taken


def _check_spanned_lines(record_number: int, taken: list[str], width: int, delimiter: str) -> None:
    """A record may span lines only through a quoted line break inside a field. Two signs that a quote
    was never closed instead: an odd number of quote characters (the field runs to the end of the file),
    or two records' worth of separators (whole lines were swallowed into one field). Counting such a
    record as one row would lose rows, so the file is rejected: rows in must be the lines delivered."""
    if len(taken) < 2:
        return
    text = "".join(taken)
    if text.count('"') % 2 or text.count(delimiter) >= 2 * max(width - 1, 1):
        raise FileRejected(
            "citattecken",
            f"A quote on row {record_number} is not closed: {len(taken)} lines would be read as one row.",
        )


def _read_csv_exact(raw: bytes, encoding: str, delimiter: str) -> tuple[list[str], pa.Table, list]:
    """Record by record, so that every malformed record is reported by its row number."""
    text = raw.decode(encoding, errors="replace")
    records = _records(text, delimiter)
    header, taken = next(records)
    if len(taken) > 1:  # a header never holds a line break: a quote in it is not closed
        raise FileRejected("citattecken", f"A quote in the header row is not closed: {len(taken)} lines.")
    columns: list[list[str]] = [[] for _ in header]
    row_numbers: list[int] = []
    unreadable: list[tuple[int, str]] = []
    for record_number, (record, taken) in enumerate(records, start=2):
        _check_spanned_lines(record_number, taken, len(header), delimiter)
        if not record or all(not v.strip() for v in record):
            continue
        if len(record) != len(header):
            unreadable.append((record_number, "fel_antal_falt"))
            continue
        for values, value in zip(columns, record, strict=True):
            values.append(value)
        row_numbers.append(record_number)
    if not row_numbers and not unreadable:
        raise FileRejected("bara_rubrik", "The file has a header row but no data rows.")
    table = pa.table(
        {name: pa.array(values, pa.string()) for name, values in zip(header, columns, strict=True)}
    )
    table = table.append_column("__row_number", pa.array(row_numbers, pa.int32()))
    return header, table, unreadable


def _sheet_names() -> list[str]:
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
        detail = (
            f" Closest dialect {closest!r} lacks: {', '.join(missing_by_dialect[closest])}."
            if closest
            else ""
        )
        raise FileRejected("okand_dialekt", f"The header matches no known dialect.{detail}")
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
        raise FileRejected(
            "dubbel_kolumn",
            f"The header has more than one column for: {', '.join(doubled)} (dialect {dialect['dialect']!r}).",
        )


@cache
def _alias_fields(dialect: str) -> dict[str, str]:
    """A dialect's column aliases, folded, to the field each names."""
    columns = dialects()[dialect]["columns"]
    return {fold(alias): name for name, aliases in columns.items() for alias in aliases}


def _renamed(table: pa.Table, mapping: dict[str, str]) -> pa.Table:
    """``row_number`` and the contract's fields under their own names; a field the dialect lacks is null."""
    n = table.num_rows
    if "__row_number" in table.column_names:
        row_numbers = table.column("__row_number")
    else:
        row_numbers = pa.array(np.arange(2, n + 2, dtype=np.int32))
    columns = [row_numbers]
    for name in TEXT_FIELDS:
        column = table.column(mapping[name]) if name in mapping else pa.nulls(n, pa.string())
        columns.append(column if column.type == pa.string() else column.cast(pa.string()))
    return pa.table(columns, names=["row_number", *TEXT_FIELDS])


def _contract(raw: pa.Table, parsed: list[Parsed], file_index: np.ndarray) -> pa.Table:
    """Trim, blank to null, dialect words to codes; dates stay text (stage 2 parses them strictly)."""
    dialect = _per_row([item.dialect for item in parsed], pa.string(), file_index)
    out: dict[str, Any] = {"row_number": raw.column("row_number")}
    out |= {name: _blank_to_null(raw.column(name)) for name in TEXT_FIELDS}
    for name, words in _dialect_words().items():
        out[name] = _map_words(out[name], dialect, words)
    for name in ("date_received", "decision_date"):
        out[f"{name}_raw"] = out.pop(name)
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


@cache
def _dialect_words() -> dict[str, dict[tuple[str, str], str]]:
    """field → {(dialect, word folded to lower case): code}, over every dialect's ``values``."""
    words: dict[str, dict[tuple[str, str], str]] = {}
    for name, spec in dialects().items():
        for field_name, mapping in (spec.get("values") or {}).items():
            for word, code in mapping.items():
                words.setdefault(field_name, {})[(name, word.strip().lower())] = code
    return words


def _map_words(
    column: pa.ChunkedArray, dialect: pa.Array, words: dict[tuple[str, str], str]
) -> pa.ChunkedArray:
    """Each row's dialect words to codes, case-insensitively; unmapped values pass through for
    validation. The key joins dialect and word with a unit separator, which no dialect name contains."""
    keys = pa.array([f"{d}\x1f{w}" for d, w in words], pa.string())
    codes = pa.array(list(words.values()), pa.string())
    index = pc.index_in(pc.binary_join_element_wise(dialect, pc.utf8_lower(column), "\x1f"), value_set=keys)
    return pc.coalesce(pc.take(codes, index), column)


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
