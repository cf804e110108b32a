"""Tiny hand-made extracts in each dialect, for unit tests. Personnummer are generated, never copied."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from pipelines.stage2_pseudonymise.personnummer import generate

SEMICOLON_HEADER = (
    "Kommunkod;AnmälanID;Personnummer;Inkomstdatum;Anmälare;Orsaker;Beslut;Beslutsdatum;Stadsdel"
)
COMMA_HEADER = "Kommun_kod,Arende_id,Pnr,Ankomstdatum,Anmälartyp,Skäl,Utfall,Beslut_datum,Distrikt"
XLSX_HEADER = [
    "MunicipalityCode",
    "ReportId",
    "PersonalIdentityNumber",
    "ReceivedDate",
    "ReporterCategory",
    "Causes",
    "Outcome",
    "DecisionDate",
    "District",
]


def child(born: dt.date, number: int = 123, coordination: bool = False) -> str:
    """A valid synthetic 12-digit number."""
    return generate(born, number, coordination=coordination)


def dash12(pnr: str) -> str:
    return f"{pnr[:8]}-{pnr[8:]}"


def dash10(pnr: str) -> str:
    return f"{pnr[2:8]}-{pnr[8:]}"


def write_semicolon(path: Path, rows: list[list[str]], header: str = SEMICOLON_HEADER) -> Path:
    body = "\n".join(";".join(r) for r in rows)
    path.write_text(f"{header}\n{body}\n", encoding="utf-8-sig")
    return path


def write_comma(
    path: Path, rows: list[list[str]], encoding: str = "cp1252", header: str = COMMA_HEADER
) -> Path:
    body = "\r\n".join(",".join(r) for r in rows)
    path.write_bytes(f"{header}\r\n{body}\r\n".encode(encoding))
    return path


def write_xlsx(path: Path, rows: list[list[object]], header: list[str] = XLSX_HEADER) -> Path:
    import xlsxwriter

    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet()
    date_format = book.add_format({"num_format": "yyyy-mm-dd"})
    sheet.write_row(0, 0, header)
    for r, row in enumerate(rows, start=1):
        for c, value in enumerate(row):
            if isinstance(value, dt.date):
                sheet.write_datetime(r, c, dt.datetime.combine(value, dt.time()), date_format)
            else:
                sheet.write_string(r, c, str(value))
    book.close()
    return path
