"""Stage 1, spreadsheets: the Arrow reader gives exactly what the cell-by-cell reader gives, or steps aside."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest
import xlsxwriter
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.stage1_landing import spreadsheet
from pipelines.stage1_landing.spreadsheet import _read_arrow, _read_cells, cell_text, read_xlsx, sheet_columns
from tests.extracts import write_xlsx

CELLS = st.one_of(
    st.none(),
    st.just(""),
    st.text(max_size=6),
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=False, allow_infinity=False),
    st.dates(),
    st.datetimes(),
    st.booleans(),
)


@settings(max_examples=200, deadline=None)
@given(
    width=st.integers(0, 5),
    rows=st.lists(st.lists(CELLS, max_size=7), max_size=8),
)
def test_spreadsheet_cells_read_column_by_column_as_row_by_row(width: int, rows: list[list[object]]) -> None:
    """Each cell as the text a person sees, blank rows left out with their numbers kept, cells beyond
    the header not read: the column-wise conversion agrees with converting row by row."""
    expected_rows, expected_numbers = [], []
    for number, row in enumerate(rows, start=2):
        texts = [cell_text(value) for value in row]
        if any(texts):
            expected_rows.append(texts[:width] + [""] * (width - len(texts)))
            expected_numbers.append(number)
    columns, numbers = sheet_columns(rows, width)
    assert numbers.to_pylist() == expected_numbers
    assert len(columns) == width
    assert all(len(column) == len(expected_numbers) for column in columns)
    if width:
        assert [list(row) for row in zip(*(c.to_pylist() for c in columns), strict=True)] == expected_rows


# Cells as a municipality's system writes them: text, numbers, dates (with or without a time of day),
# times, booleans, blanks. Excel's dates start in 1900 (and 1900-02-29 does not exist).
EXCEL_DAYS = st.dates(dt.date(1900, 3, 1), dt.date(2200, 12, 31))
SHEET_CELLS = st.one_of(
    st.none(),
    st.text(max_size=5),
    st.sampled_from(["Anmälan", "2025-03-01", "0180", " ", "x_1"]),
    st.integers(-(10**15), 10**15),
    st.floats(-1e18, 1e18, allow_nan=False),
    EXCEL_DAYS,
    st.builds(
        dt.datetime.combine, EXCEL_DAYS, st.sampled_from([dt.time(), dt.time(13, 5), dt.time(23, 59, 59)])
    ),
    st.sampled_from([dt.time(8, 30), dt.time(0, 0, 1)]),
    st.booleans(),
)
HEADERS = st.one_of(
    st.none(), st.sampled_from(["Datum", "Datum_1", "Kommun", "a", "x", "_1", ""]), st.integers(0, 9)
)


def _sheet(header: list[object], rows: list[list[object]], top: int, left: int) -> bytes:
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_numbers": False})
    sheet = book.add_worksheet()
    day, moment = book.add_format({"num_format": "yyyy-mm-dd"}), book.add_format({"num_format": "hh:mm"})
    for r, row in enumerate([header, *rows]):
        for c, value in enumerate(row):
            at = (top + r, left + c)
            if value is None:
                continue
            if isinstance(value, dt.datetime | dt.date):
                sheet.write_datetime(*at, value, day)
            elif isinstance(value, dt.time):
                sheet.write_datetime(*at, value, moment)
            elif isinstance(value, bool):
                sheet.write_boolean(*at, value)
            elif isinstance(value, int | float):
                sheet.write_number(*at, value)
            else:
                sheet.write_string(*at, value)
    book.close()
    return buffer.getvalue()


def _both(raw: bytes) -> tuple[object, object]:
    def outcome(reader):  # a result, or the rejection's code
        try:
            header, table, unreadable = reader(raw, [])
        except spreadsheet.FileRejected as err:
            return err.code
        return header, table.to_pydict(), table.schema.names, unreadable

    return outcome(read_xlsx), outcome(_read_cells)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    header=st.lists(HEADERS, max_size=5),
    rows=st.lists(st.lists(SHEET_CELLS, max_size=6), max_size=6),
    top=st.sampled_from([0, 0, 0, 2]),
    left=st.sampled_from([0, 0, 0, 1]),
)
def test_the_arrow_reader_gives_what_the_cell_reader_gives(
    header: list[object], rows: list[list[object]], top: int, left: int
) -> None:
    """Whatever a sheet holds, reading it gives the cell-by-cell reader's header, texts, row numbers
    and rejections: the fast reader takes only what it converts exactly."""
    fast, exact = _both(_sheet(header, rows, top, left))
    assert fast == exact


def test_plain_extracts_take_the_arrow_reader(tmp_path: Path) -> None:
    """A sheet of text, whole numbers and dates, with a blank row, is read by fastexcel (or the speed
    this module exists for is gone), and its rows keep their numbers."""
    path = write_xlsx(
        tmp_path / "1280_2025-03.xlsx",
        [["1280", "R-1", "", dt.date(2025, 3, 4), "Skola", "Våld", "Inleds", dt.date(2025, 3, 9), ""]],
    )
    raw = path.read_bytes()
    blank_row = _sheet(["Datum", "Antal"], [[dt.date(2025, 3, 4), 3], [None, None], ["", 4.0]], 0, 0)
    for content in (raw, blank_row):
        fast = _read_arrow(content, [])
        assert fast is not None
        header, table, _ = fast
        exact_header, exact_table, _ = _read_cells(content, [])
        assert (header, table.to_pydict()) == (exact_header, exact_table.to_pydict())
    assert table.to_pydict() == {"Datum": ["2025-03-04", ""], "Antal": ["3", "4"], "__row_number": [2, 4]}


@pytest.mark.parametrize(
    "rows",
    [
        [[dt.date(2025, 3, 4)], ["okänt"]],  # dates and text in one column
        [[dt.datetime(2025, 3, 4, 13, 5)]],  # a time of day
        [[2.5]],  # a fraction
        [[True]],  # a boolean
    ],
)
def test_cells_only_python_writes_exactly_go_to_the_cell_reader(rows: list[list[object]]) -> None:
    raw = _sheet(["Datum"], rows, 0, 0)
    assert _read_arrow(raw, []) is None
    assert read_xlsx(raw, [])[1].to_pydict() == _read_cells(raw, [])[1].to_pydict()
