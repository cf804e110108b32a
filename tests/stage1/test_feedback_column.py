"""Contract v2's optional feedback_date: read in every dialect when present; a file without it stays valid
and its rows' feedback is unknown (flagged as not delivered), never "no feedback"."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from pipelines.core.schemas import extract_contract
from pipelines.stage1_landing.read import read_extract
from tests.extracts import (
    COMMA_HEADER,
    SEMICOLON_HEADER,
    XLSX_HEADER,
    child,
    dash12,
    write_comma,
    write_semicolon,
    write_xlsx,
)

KID = child(dt.date(2014, 6, 1), 345)


def test_contract_v2_extends_v1_with_an_optional_feedback_date() -> None:
    contract = extract_contract()
    assert contract["version"] == 2
    assert list(contract["fields"])[-1] == "feedback_date"
    feedback = contract["fields"]["feedback_date"]
    assert (feedback["required"], feedback["since_version"], feedback["type"]) == (False, 2, "date")
    assert contract["fields"]["personal_number"]["required"] is True  # v1's fields are all there


def _semicolon(path: Path, with_column: bool) -> Path:
    row = ["0180", "S1", dash12(KID), "2025-03-03", "SKO", "V1", "inleds", "2025-03-10", ""]
    empty = ["0180", "S2", dash12(KID), "2025-03-04", "POL", "V1", "inleds_ej", "2025-03-11", ""]
    if not with_column:
        return write_semicolon(path / "0180_2025-03.csv", [row, empty])
    return write_semicolon(
        path / "0180_2025-03.csv",
        [[*row, "2025-03-12"], [*empty, ""]],
        header=SEMICOLON_HEADER + ";Återkopplingsdatum",
    )


def _comma(path: Path, with_column: bool) -> Path:
    row = ["1480", "K1", dash12(KID), "03.03.2025", "Skola", "V1", "Inleds", "10.03.2025", ""]
    empty = ["1480", "K2", dash12(KID), "04.03.2025", "Polis", "V1", "Inleds ej", "11.03.2025", ""]
    if not with_column:
        return write_comma(path / "1480_2025-03.csv", [row, empty])
    return write_comma(
        path / "1480_2025-03.csv",
        [[*row, "12.03.2025"], [*empty, ""]],
        header=COMMA_HEADER + ",Återkoppling_datum",
    )


def _xlsx(path: Path, with_column: bool) -> Path:
    day = dt.date
    row = ["1280", "X1", dash12(KID), day(2025, 3, 3), "SKO", "V1", "inleds", day(2025, 3, 10), ""]
    empty = ["1280", "X2", dash12(KID), day(2025, 3, 4), "POL", "V1", "inleds_ej", day(2025, 3, 11), ""]
    if not with_column:
        return write_xlsx(path / "1280_2025-03.xlsx", [row, empty])
    return write_xlsx(
        path / "1280_2025-03.xlsx",
        [[*row, day(2025, 3, 12)], [*empty, ""]],
        header=[*XLSX_HEADER, "FeedbackDate"],
    )


WRITERS = {"semikolon_utf8": _semicolon, "komma_cp1252": _comma, "xlsx_export": _xlsx}


@pytest.mark.parametrize("dialect", WRITERS)
def test_feedback_date_is_read_in_every_dialect(dialect: str, tmp_path: Path) -> None:
    landed = read_extract(WRITERS[dialect](tmp_path, with_column=True))
    assert landed.dialect == dialect
    raw = landed.rows.column("feedback_date_raw").to_pylist()
    assert raw[0] is not None and "12" in raw[0]  # the delivered date, still text (stage 2 parses it)
    assert raw[1] is None  # an empty cell: no feedback given
    assert landed.rows.column("feedback_date_delivered").to_pylist() == [True, True]
    assert "Återkopplingsdatum" not in landed.ignored_columns


@pytest.mark.parametrize("dialect", WRITERS)
def test_a_file_without_the_column_is_valid_and_its_feedback_unknown(dialect: str, tmp_path: Path) -> None:
    landed = read_extract(WRITERS[dialect](tmp_path, with_column=False))
    assert landed.dialect == dialect and landed.rows.num_rows == 2
    assert landed.rows.column("feedback_date_raw").to_pylist() == [None, None]
    assert landed.rows.column("feedback_date_delivered").to_pylist() == [False, False]
