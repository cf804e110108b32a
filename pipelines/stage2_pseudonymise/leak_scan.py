"""Prove that no personnummer survives ingest: scan everything a run left behind.

Needles are every number found in the landing files' personnummer column, valid or not, in every
written form: a match is any run of 10 or 12 digits (with or without - + or space before the last four)
whose digits equal a needle's 12 digits or its last 10. Formats are opened, not just grepped:

* Parquet: every value, the footer's min/max statistics and all key-value metadata;
* SQLite (Dagster's run and event storage) and DuckDB files: every value of every table;
* XLSX/ZIP members, gzip streams; everything else as raw bytes, also read as UTF-16.

Findings name the file and where in it, never the number.
"""

from __future__ import annotations

import gzip
import re
import sqlite3
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

CANDIDATE = re.compile(rb"(?<!\d)(\d{6}|\d{8})[-+ ]?(\d{4})(?!\d)")
LONG_RUN = re.compile(rb"\d{10,}")


@dataclass(frozen=True)
class Finding:
    path: Path
    where: str
    count: int


class Needles:
    """The identifiers to look for, kept as digit strings (12 digits, and the 10-digit tail)."""

    def __init__(self, raw_values: Iterable[str]) -> None:
        self.ten: set[bytes] = set()
        for value in raw_values:
            digits = re.sub(r"\D", "", value or "")
            if len(digits) in (10, 12):
                self.ten.add(digits[-10:].encode())

    def __len__(self) -> int:
        return len(self.ten)

    def count_in(self, blob: bytes) -> int:
        hits = sum(1 for m in CANDIDATE.finditer(blob) if (m[1] + m[2])[-10:] in self.ten)
        # A number glued inside a longer digit run (e.g. '19…' after an id) is checked window by window.
        for run in LONG_RUN.finditer(blob):
            digits = run[0]
            if len(digits) > 12:
                hits += sum(digits[i : i + 10] in self.ten for i in range(len(digits) - 9))
        return hits


def needles_from_landing(landing: Path) -> Needles:
    """Every personnummer value delivered in the landing folder, read the way the pipeline reads it."""
    from pipelines.stage1_landing.delivery import FileRejected
    from pipelines.stage1_landing.read import read_extract

    values: list[str] = []
    for path in sorted(landing.iterdir()) if landing.exists() else []:
        if not path.is_file() or path.name.startswith("."):
            continue
        try:
            landed = read_extract(path)
        except FileRejected:
            continue
        values.extend(v for v in landed.rows.column("personal_number").to_pylist() if v)
    return Needles(values)


def scan(root: Path, needles: Needles, exclude: Iterable[Path] = ()) -> list[Finding]:
    """Every finding under ``root`` (files under ``exclude`` are skipped: the input itself, the keys)."""
    excluded = [p.resolve() for p in exclude]
    findings = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        if any(path.resolve().is_relative_to(e) for e in excluded):
            continue
        for where, blob in _texts(path):
            n = needles.count_in(blob)
            if n:
                findings.append(Finding(path, where, n))
    return findings


def _texts(path: Path) -> Iterator[tuple[str, bytes]]:
    raw = path.read_bytes()
    yield "bytes", raw
    yield "bytes as UTF-16", raw.replace(b"\x00", b"")
    if raw.startswith(b"PAR1"):
        yield from _parquet(path)
    elif raw.startswith(b"SQLite format 3"):
        yield from _sqlite(path)
    elif raw[8:12] == b"DUCK":
        yield from _duckdb(path)
    elif raw.startswith(b"PK\x03\x04"):
        with zipfile.ZipFile(path) as archive:
            for name in archive.namelist():
                yield f"zip member {name}", archive.read(name)
    elif raw.startswith(b"\x1f\x8b"):
        yield "gzip", gzip.decompress(raw)


def _parquet(path: Path) -> Iterator[tuple[str, bytes]]:
    meta = pq.ParquetFile(path).metadata
    yield "parquet key-value metadata", repr(meta.metadata).encode()
    for g in range(meta.num_row_groups):
        group = meta.row_group(g)
        for c in range(group.num_columns):
            stats = group.column(c).statistics
            if stats is not None and stats.has_min_max:
                yield (
                    f"parquet statistics {group.column(c).path_in_schema}",
                    f"{stats.min!r} {stats.max!r}".encode(),
                )
    table = pq.read_table(path)
    for name in table.column_names:
        yield f"parquet column {name}", _column_text(table.column(name))


def _column_text(column: pa.ChunkedArray) -> bytes:
    return "\n".join(map(str, column.to_pylist())).encode()


def _sqlite(path: Path) -> Iterator[tuple[str, bytes]]:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            rows = con.execute(f'SELECT * FROM "{table}"').fetchall()
            yield f"sqlite table {table}", "\n".join(map(repr, rows)).encode()
    finally:
        con.close()


def _duckdb(path: Path) -> Iterator[tuple[str, bytes]]:
    import duckdb

    con = duckdb.connect(str(path), read_only=True)
    try:
        for schema, table in con.execute("SELECT schema_name, table_name FROM duckdb_tables()").fetchall():
            rows = con.execute(f'SELECT * FROM "{schema}"."{table}"').fetchall()
            yield f"duckdb table {table}", "\n".join(map(repr, rows)).encode()
    finally:
        con.close()
