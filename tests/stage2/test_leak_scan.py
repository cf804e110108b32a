"""The leak scanner finds a planted identifier in every place a run could leave one."""

from __future__ import annotations

import datetime as dt
import gzip
import sqlite3
import zipfile
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipelines.stage2_pseudonymise.leak_scan import Needles, scan
from tests.extracts import child, dash10

PNR = child(dt.date(2012, 12, 24), 501)


def _plant(kind: str, folder: Path) -> None:
    ten = dash10(PNR)
    if kind == "log":
        (folder / "run.log").write_text(f"failed on {PNR[2:]}")
    elif kind == "utf16":
        (folder / "export.txt").write_bytes(f"x {ten}".encode("utf-16"))
    elif kind == "parquet_value":
        pq.write_table(pa.table({"id": [f"pre{PNR}"]}), folder / "a.parquet", compression="zstd")
    elif kind == "parquet_metadata":
        schema = pa.schema([("n", pa.int64())], metadata={"note": PNR})
        pq.write_table(pa.table({"n": [1]}, schema=schema), folder / "b.parquet")
    elif kind == "parquet_number":
        pq.write_table(pa.table({"n": [int(PNR)]}), folder / "c.parquet", compression="zstd")
    elif kind == "sqlite":
        con = sqlite3.connect(folder / "events.db")
        con.execute("CREATE TABLE event_logs (body TEXT)")
        con.execute("INSERT INTO event_logs VALUES (?)", (f'{{"error": "bad {ten}"}}',))
        con.commit()
        con.close()
    elif kind == "duckdb":
        con = duckdb.connect(str(folder / "x.duckdb"))
        con.execute(f"CREATE TABLE t AS SELECT '{ten}' AS v FROM range(1000)")
        con.close()
    elif kind == "zip":
        with zipfile.ZipFile(folder / "book.xlsx", "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("xl/sharedStrings.xml", f"<t>{PNR}</t>" * 50)
    elif kind == "gzip":
        (folder / "log.gz").write_bytes(gzip.compress(f"{ten}\n".encode() * 100))


KINDS = [
    "log",
    "utf16",
    "parquet_value",
    "parquet_metadata",
    "parquet_number",
    "sqlite",
    "duckdb",
    "zip",
    "gzip",
]


@pytest.mark.parametrize("kind", KINDS)
def test_planted_identifier_is_found(tmp_path: Path, kind: str) -> None:
    _plant(kind, tmp_path)
    findings = scan(tmp_path, Needles([PNR]))
    assert findings, kind
    assert all(PNR[-10:] not in f.where for f in findings)  # findings never quote the number


def test_clean_folder_and_other_numbers_give_no_findings(tmp_path: Path) -> None:
    other = child(dt.date(2012, 12, 24), 502)
    (tmp_path / "ok.log").write_text(f"counts 1234567890123456 {other} 2025-03-01")
    assert scan(tmp_path, Needles([PNR])) == []


def test_excluded_folders_are_skipped(tmp_path: Path) -> None:
    (tmp_path / "landing").mkdir()
    (tmp_path / "landing" / "in.csv").write_text(PNR)
    assert scan(tmp_path, Needles([PNR]), exclude=[tmp_path / "landing"]) == []
