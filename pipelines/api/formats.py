"""A selection as rows of the release (csv, xlsx, parquet): the Parquet's own columns and values, filtered.

Unlike JSON-stat's dense cube these hold only the cells the release publishes; a hidden value is empty with
its symbol in ``status``, as in the release's own files.
"""

from __future__ import annotations

import io

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import xlsxwriter

MEDIA = {
    "json-stat2": "application/json; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "parquet": "application/vnd.apache.parquet",
}


def write(rows: pa.Table, output_format: str) -> bytes:
    return {"csv": _csv, "xlsx": _xlsx, "parquet": _parquet}[output_format](rows)


def _csv(rows: pa.Table) -> bytes:
    sink = io.BytesIO()
    pacsv.write_csv(rows, sink)
    return sink.getvalue()


def _parquet(rows: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(rows, sink)
    return sink.getvalue()


def _xlsx(rows: pa.Table) -> bytes:
    sink = io.BytesIO()
    book = xlsxwriter.Workbook(sink, {"in_memory": True})
    sheet = book.add_worksheet("data")
    for j, name in enumerate(rows.column_names):
        sheet.write_string(0, j, name)
    for j, column in enumerate(rows.columns):
        for i, value in enumerate(column.to_pylist(), start=1):
            if isinstance(value, str):
                sheet.write_string(i, j, value)  # text stays text: no cell becomes a formula
            elif value is not None:
                sheet.write_number(i, j, value)
    book.close()
    return sink.getvalue()
