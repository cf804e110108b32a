"""Issue 25, reader side: every structurally broken or hostile file is refused whole with a reason code
(never a traceback, never a silent loss of rows), in bounded memory. One test per class of failure."""

from __future__ import annotations

import ast
import datetime as dt
import io
import re
import zipfile
from pathlib import Path

import pytest

from pipelines.core.schemas import quarantine_reasons
from pipelines.core.settings import PROJECT_ROOT, settings
from pipelines.stage1_landing.delivery import FileRejected, is_delivery_name, parse_file_name
from pipelines.stage1_landing.read import read_extract
from tests.corpus.build import HEADER, MONTH, MUNICIPALITY, NAME, clean_rows, row, write_csv
from tests.extracts import XLSX_HEADER, child, write_xlsx

XLSX_NAME = f"{MUNICIPALITY}_{MONTH}.xlsx"


def _rejected(path: Path) -> FileRejected:
    with pytest.raises(FileRejected) as caught:
        read_extract(path)
    return caught.value


def _xlsx_rows() -> list[list[object]]:
    received, decided = dt.date(2025, 3, 3), dt.date(2025, 3, 10)
    kids = [child(dt.date(2015, 1, 1), 100 + i) for i in range(3)]
    return [
        [MUNICIPALITY, f"X{i}", kids[i], received, "POL", "V1", "inleds", decided, "Norr"] for i in range(3)
    ]


def test_every_file_level_code_has_swedish_and_english_text() -> None:
    raised = set()
    for path in (PROJECT_ROOT / "pipelines").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "FileRejected":
                raised.add(node.args[0].value)
    texts = {r["code"]: r for r in quarantine_reasons()["file_level"]}
    assert raised <= set(texts), raised - set(texts)
    assert all(texts[code]["sv"] and texts[code]["en"] for code in texts)


# --- duplicated and missing columns -------------------------------------------------------------------


@pytest.mark.parametrize("second", ["Personnummer", "PERSONNUMMER ", "Personnr"])
def test_a_column_given_twice_is_refused_not_a_traceback(tmp_path: Path, second: str) -> None:
    rows = [[*r, r[2]] for r in clean_rows()]
    err = _rejected(write_csv(tmp_path / NAME, rows, header=[*HEADER, second]))
    assert err.code == "dubbel_kolumn" and "personal_number" in str(err)


def test_a_column_given_twice_in_a_spreadsheet_is_refused(tmp_path: Path) -> None:
    import xlsxwriter

    path = tmp_path / XLSX_NAME
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet()
    sheet.write_row(0, 0, [*XLSX_HEADER, "ReportId"])
    for r, values in enumerate(_xlsx_rows(), start=1):
        sheet.write_row(r, 0, [str(v) for v in values] + [values[1]])
    book.close()
    assert _rejected(path).code == "dubbel_kolumn"


def test_a_file_without_the_personnummer_column_is_refused(tmp_path: Path) -> None:
    keep = [i for i, h in enumerate(HEADER) if h != "Personnummer"]
    rows = [[r[i] for i in keep] for r in clean_rows()]
    err = _rejected(write_csv(tmp_path / NAME, rows, header=[HEADER[i] for i in keep]))
    assert err.code == "okand_dialekt" and "personal_number" in str(err)


# --- quoting and field size ---------------------------------------------------------------------------


def _eleven_rows_one_open_quote(tmp_path: Path, delimiter: str = ";", quote_row: int = 1) -> Path:
    rows = [row(f"Q{i}", "") for i in range(11)]
    rows[quote_row][8] = '"Norr'
    lines = [delimiter.join(HEADER), *(delimiter.join(r) for r in rows)]
    path = tmp_path / NAME
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("utf-8"))
    return path


@pytest.mark.parametrize("quote_row", [0, 1, 9])
def test_a_quote_never_closed_rejects_the_file_instead_of_swallowing_rows(
    tmp_path: Path, quote_row: int
) -> None:
    err = _rejected(_eleven_rows_one_open_quote(tmp_path, quote_row=quote_row))
    assert err.code == "citattecken" and f"row {quote_row + 2}" in str(err)


def test_a_quote_closed_lines_later_still_rejects(tmp_path: Path) -> None:
    rows = [row(f"Q{i}", "") for i in range(6)]
    rows[1][8] = '"Norr'
    rows[4][8] = 'Söder"'
    raw = "\r\n".join([";".join(HEADER), *(";".join(r) for r in rows)]) + "\r\n"
    (tmp_path / NAME).write_bytes(raw.encode("utf-8"))
    assert _rejected(tmp_path / NAME).code == "citattecken"


@pytest.mark.parametrize("column", [0, 4, 8])
def test_a_quoted_line_break_inside_a_field_is_still_one_record(tmp_path: Path, column: int) -> None:
    rows = clean_rows()
    rows[0][column] = "Norr;\nHisingen"
    landed = read_extract(write_csv(tmp_path / NAME, rows))
    assert landed.records == 3


def test_a_field_over_the_csv_limit_is_refused(tmp_path: Path) -> None:
    rows = clean_rows()
    rows[1][8] = "x" * 200_000
    path = write_csv(tmp_path / NAME, rows)
    assert _rejected(path).code == "falt_for_stort"
    # The same with a blank line, which sends the file to the record-by-record reader.
    path.write_bytes(path.read_bytes().replace(b"\r\n", b"\r\n\r\n", 1))
    assert _rejected(path).code == "falt_for_stort"


# --- file names ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["0763_2025-13.csv", "0763_2025-00.csv", "0763_2025-13_rattad.xlsx"])
def test_a_month_that_does_not_exist_is_a_refused_name(name: str) -> None:
    assert not is_delivery_name(name)
    with pytest.raises(FileRejected) as caught:
        parse_file_name(Path(name))
    assert caught.value.code == "filnamn"


# --- spreadsheets too large to read -------------------------------------------------------------------


def _rezip(source: Path, target: Path, change: dict[str, bytes]) -> Path:
    out = io.BytesIO()
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as new:
        for member in old.infolist():
            new.writestr(member, change.get(member.filename, old.read(member)))
    target.write_bytes(out.getvalue())
    return target


def test_a_far_cell_is_refused_before_the_reader_allocates_the_range(tmp_path: Path) -> None:
    import xlsxwriter

    path = tmp_path / XLSX_NAME
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet()
    sheet.write_row(0, 0, XLSX_HEADER)
    for r, values in enumerate(_xlsx_rows(), start=1):
        sheet.write_row(r, 0, [str(v) for v in values])
    sheet.write_string(1048575, 16383, "x")  # XFD1048576: the reader aborted the process (SIGABRT)
    book.close()
    err = _rejected(path)
    assert err.code == "xlsx_for_stor" and "1048576" in str(err)


def test_a_declared_dimension_alone_is_refused(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "plain.xlsx", _xlsx_rows())
    sheet = zipfile.ZipFile(path).read("xl/worksheets/sheet1.xml")
    far = re.sub(rb'<dimension ref="[^"]*"/>', b'<dimension ref="A1:ZZ900000"/>', sheet)
    assert _rejected(_rezip(path, tmp_path / XLSX_NAME, {"xl/worksheets/sheet1.xml": far})).code == (
        "xlsx_for_stor"
    )


def _padded_sheet(path: Path, padding: int) -> bytes:
    sheet = zipfile.ZipFile(path).read("xl/worksheets/sheet1.xml")
    head, rest = sheet.split(b"<sheetData>", 1)
    return head + b"<sheetData>" + b" " * padding + rest


def _bomb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A small spreadsheet whose sheet unpacks to 2 MiB, with the limit lowered to 1 MiB."""
    monkeypatch.setitem(settings()["extract"], "xlsx_max_unpacked_bytes", 1 << 20)
    path = write_xlsx(tmp_path / "plain.xlsx", _xlsx_rows())
    return _rezip(path, tmp_path / XLSX_NAME, {"xl/worksheets/sheet1.xml": _padded_sheet(path, 2 << 20)})


def test_a_spreadsheet_that_unpacks_beyond_the_limit_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bomb = _bomb(tmp_path, monkeypatch)
    assert bomb.stat().st_size < 30_000  # a small file that inflates a hundredfold
    err = _rejected(bomb)
    assert err.code == "xlsx_for_stor" and "unpacks" in str(err)


def test_a_member_that_understates_its_size_is_caught(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The header says small, the content is large: zipfile stops at the declared size, the CRC fails."""
    bomb = _bomb(tmp_path, monkeypatch)
    raw = bytearray(bomb.read_bytes())
    with zipfile.ZipFile(bomb) as book:
        info = book.getinfo("xl/worksheets/sheet1.xml")
    small = (4096).to_bytes(4, "little")
    raw[info.header_offset + 22 : info.header_offset + 26] = small  # local header: uncompressed size
    central = raw.rfind(b"xl/worksheets/sheet1.xml") - 46  # the name's last occurrence: the directory
    raw[central + 24 : central + 28] = small  # central directory: uncompressed size
    bomb.write_bytes(bytes(raw))
    assert _rejected(bomb).code == "inte_tabell"
