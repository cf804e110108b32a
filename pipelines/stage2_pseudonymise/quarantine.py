"""The quarantine: every refused row with all its reasons, masked (digits of a personnummer replaced by X),
with the reason texts and correction suggestions an analyst reads; and the semicolon CSV they open in Excel.

Built in DuckDB over stage 2's ``checked`` table; used by the monthly load and by ``orostat validate``.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import duckdb
import pyarrow as pa

from pipelines.core.schemas import code_table, quarantine_reasons
from pipelines.stage1_landing.delivery import Landed
from pipelines.stage2_pseudonymise.suggest import suggestions
from pipelines.stage2_pseudonymise.validate import mask_sql


def connect(threads: int | None = None) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(":memory:")
    # Row-level data must never be spilled to disk: keep DuckDB entirely in memory.
    con.execute("SET temp_directory = ''")
    if threads is not None:
        con.execute(f"SET threads = {int(threads)}")
    con.register("code_reporters", code_table("reporters"))
    return con


def _reason_table() -> pa.Table:
    spec = quarantine_reasons()
    entries = spec["rules"] + spec.get("structural", [])
    return pa.table(
        {
            "code": [e["code"] for e in entries],
            "field": [e["field"] for e in entries],
            "text_sv": [e["sv"] for e in entries],
            "text_en": [e["en"] for e in entries],
        }
    )


def build_quarantine(con: duckdb.DuckDBPyConnection, landed: list[Landed]) -> None:
    """Temp table ``quarantine_out``: rejected rows with every reason, masked so no personnummer
    can be read from them, plus records the reader could not split into fields."""
    structural = [(item.path.name, row, reason) for item in landed for row, reason in item.unreadable_rows]
    con.register(
        "unreadable",
        pa.table(
            {
                "source_file": pa.array([s[0] for s in structural], pa.string()),
                "row_number": pa.array([s[1] for s in structural], pa.int32()),
                "reason": pa.array([s[2] for s in structural], pa.string()),
            }
        ),
    )
    con.register("reason_texts", _reason_table())
    con.register("suggestions", suggestions(con))
    masked = {
        name: mask_sql(name)
        for name in (
            "report_id",
            "date_received_raw",
            "reporter",
            "causes",
            "outcome",
            "decision_date_raw",
            "org_unit",
            "feedback_date_raw",
        )
    }
    masked_sql = ", ".join(f"{expr} AS {name}" for name, expr in masked.items())
    con.execute(
        f"""CREATE TEMP TABLE quarantine AS
        SELECT source_file, row_number::INTEGER AS row_number, reasons,
               (SELECT string_agg(s.field || ': ' || s.suggestion, '; ' ORDER BY s.field, s.suggestion)
                FROM suggestions s
                WHERE (s.field = 'reporter' AND s.value = c.reporter)
                   OR (s.field = 'outcome' AND s.value = c.outcome)
                   OR (s.field = 'causes' AND list_contains(c.cause_list, s.value))) AS suggestion,
               {mask_sql("municipality_code")} AS municipality_code, regexp_replace(personal_number, '[^+ -]', 'X', 'g') AS personal_number_masked,
               {masked_sql}
        FROM checked c WHERE len(reasons) > 0
        UNION ALL BY NAME
        SELECT source_file, row_number, [reason] AS reasons FROM unreadable"""
    )
    con.execute(
        """CREATE TEMP TABLE quarantine_out AS
        SELECT q.*, (SELECT string_agg(t.text_sv, ' ' ORDER BY list_position(q.reasons, t.code))
                     FROM reason_texts t WHERE list_contains(q.reasons, t.code)) AS reason_text
        FROM quarantine q ORDER BY source_file, row_number"""
    )


FORMULA_START = re.compile(r"^[=+\-@\t\r]")


def neutralise(value: object) -> str:
    """Text a spreadsheet would execute as a formula gets a leading apostrophe (OWASP CSV injection)."""
    if value is None:
        return ""
    if isinstance(value, list):
        value = ",".join(str(v) for v in value)
    text = str(value).replace("\x00", "␀")  # a NUL byte breaks Excel's CSV import
    return "'" + text if FORMULA_START.match(text) else text


def write_analyst_csv(table: pa.Table, path: Path) -> None:
    """Semicolon CSV with BOM: opens with åäö intact in Swedish Excel."""
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh, delimiter=";")
        writer.writerow(table.column_names)
        for row in table.to_pylist():
            writer.writerow([neutralise(v) for v in row.values()])
