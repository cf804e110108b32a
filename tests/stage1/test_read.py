"""Stage 1: every supported dialect reads into the contract's fields; unreadable files are rejected."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.stage1_landing.delivery import FileRejected
from pipelines.stage1_landing.read import land, parse_extract, read_extract
from tests.extracts import child, dash10, dash12, write_comma, write_semicolon, write_xlsx

PNR = child(dt.date(2014, 6, 1))


def test_semicolon_utf8_with_bom(tmp_path: Path) -> None:
    path = write_semicolon(
        tmp_path / "0180_2025-03.csv",
        [["0180", "A1", dash12(PNR), "2025-03-02", "POL", "V1,F1", "inleds", "2025-03-09", "Söder"]],
    )
    landed = read_extract(path)
    assert (landed.dialect, landed.encoding, landed.delimiter) == ("semikolon_utf8", "utf-8-sig", ";")
    row = landed.rows.to_pylist()[0]
    assert row["row_number"] == 2
    assert (row["date_received_raw"], row["dialect"]) == ("2025-03-02", "semikolon_utf8")
    assert row["org_unit"] == "Söder"
    assert row["causes"] == "V1,F1" and row["list_separator"] == ","


def test_cp1252_comma_maps_words_and_day_first_dates(tmp_path: Path) -> None:
    path = write_comma(
        tmp_path / "1480_2025-03.csv",
        [["1480", "B1", dash10(PNR), "05.03.2025", "Sjukvård", "F2|B4", "Inleds ej", "12.03.2025", "Väster"]],
    )
    landed = read_extract(path)
    assert (landed.dialect, landed.encoding, landed.delimiter) == ("komma_cp1252", "cp1252", ",")
    row = landed.rows.to_pylist()[0]
    assert (row["reporter"], row["outcome"]) == ("HSV", "inleds_ej")
    assert row["decision_date_raw"] == "12.03.2025"  # parsed strictly in stage 2, per dialect
    assert row["org_unit"] == "Väster"  # decoded from Windows-1252, not mangled


def test_xlsx_dates_and_text_numbers(tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "1280_2025-03.xlsx",
        [["1280", "C1", PNR, dt.date(2025, 3, 7), "SKO", "B3", "inleds", dt.date(2025, 3, 20), ""]],
    )
    landed = read_extract(path)
    assert landed.dialect == "xlsx_export"
    row = landed.rows.to_pylist()[0]
    assert row["personal_number"] == PNR
    assert row["date_received_raw"] == "2025-03-07"  # an Excel date cell, as ISO text
    assert row["org_unit"] is None


def test_headers_match_case_and_accent_insensitively(tmp_path: Path) -> None:
    header = "KOMMUNKOD;anmalanid;PERSONNUMMER;inkomstdatum;ANMALARE;orsaker;beslut;BESLUTSDATUM;Extra kolumn"
    path = write_semicolon(
        tmp_path / "0180_2025-03.csv",
        [["0180", "A1", dash12(PNR), "2025-03-02", "POL", "V1", "inleds", "2025-03-09", "x"]],
        header=header,
    )
    landed = read_extract(path)
    assert landed.dialect == "semikolon_utf8"
    assert landed.ignored_columns == ["Extra kolumn"]


def test_quoted_newline_is_one_record_and_bad_rows_are_numbered(tmp_path: Path) -> None:
    rows = [
        ["0180", "A1", dash12(PNR), "2025-03-02", "POL", "V1", "inleds", "2025-03-09", '"Stadsdel\nNorr"'],
        ["0180", "A2", "", "2025-03-03", "POL", "V1"],  # too few fields
        ["0180", "A3", "", "2025-03-04", "ANO", "O2", "ej_beslutat", "", ""],
    ]
    landed = read_extract(write_semicolon(tmp_path / "0180_2025-03.csv", rows))
    # Row numbers count records as a spreadsheet shows them (header = 1), not physical lines.
    assert landed.records == 3
    assert landed.unreadable_rows == [(3, "fel_antal_falt")]
    assert landed.rows.column("report_id").to_pylist() == ["A1", "A3"]
    assert landed.rows.column("row_number").to_pylist() == [2, 4]
    assert landed.rows.column("org_unit").to_pylist()[0] == "Stadsdel\nNorr"


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (b"", "tom_fil"),
        ("Kommunkod;AnmälanID;Personnummer;Inkomstdatum;Anmälare;Orsaker;Beslut\n".encode(), "bara_rubrik"),
        (b"<!DOCTYPE html><html><body>Error 500</body></html>", "inte_tabell"),
        (b"\x00\x01\x02binary\x00", "inte_tabell"),
        (b"a;b;c\n1;2;3\n", "okand_dialekt"),
    ],
)
def test_file_level_rejections(tmp_path: Path, content: bytes, code: str) -> None:
    path = tmp_path / "0180_2025-03.csv"
    path.write_bytes(content)
    with pytest.raises(FileRejected) as err:
        read_extract(path)
    assert err.value.code == code


def test_unknown_dialect_names_missing_columns(tmp_path: Path) -> None:
    path = tmp_path / "0180_2025-03.csv"
    path.write_text("Kommunkod;AnmälanID;Personnummer\n0180;A1;\n", encoding="utf-8")
    with pytest.raises(FileRejected) as err:
        read_extract(path)
    assert "date_received" in str(err.value) and "semikolon_utf8" in str(err.value)


def test_bad_file_name_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "extract march.csv"
    path.write_text("x\n", encoding="utf-8")
    with pytest.raises(FileRejected) as err:
        read_extract(path)
    assert err.value.code == "filnamn"


def test_a_month_lands_at_once_as_each_file_alone(tmp_path: Path) -> None:
    """land() brings many files into the contract in one pass: words are mapped by each row's own
    dialect, and a wrong file is rejected without touching its neighbours."""
    other = child(dt.date(2013, 2, 3), 456)
    semicolon = write_semicolon(
        tmp_path / "0180_2025-03.csv",
        [
            [" 0180 ", "A1", dash12(PNR), "2025-03-02", "POL", "V1", "Inleds ej", "", " "],
            ["0180", "A2", dash12(other), "2025-03-04", "SKO", "F1", "inleds", "2025-03-09", "Söder"],
        ],
    )
    wrong_municipality = write_semicolon(
        tmp_path / "0114_2025-03.csv",
        [["0180", f"W{i}", dash12(PNR), "2025-03-02", "POL", "V1", "inleds", "", ""] for i in range(3)],
    )
    comma = write_comma(
        tmp_path / "1480_2025-03.csv",
        [["1480", "B1", dash10(PNR), "05.03.2025", "Sjukvård", "F2|B4", "Inleds ej", "12.03.2025", "Väster"]],
    )
    wrong_period = write_semicolon(
        tmp_path / "2480_2025-03.csv",
        [["2480", f"P{i}", dash12(PNR), "2024-06-02", "POL", "V1", "inleds", "", ""] for i in range(2)],
    )
    spreadsheet = write_xlsx(
        tmp_path / "1280_2025-03.xlsx",
        [["1280", "C1", PNR, dt.date(2025, 3, 7), "SKO", "B3", "Inleds ej", dt.date(2025, 3, 20), ""]],
    )
    paths = [semicolon, wrong_municipality, comma, wrong_period, spreadsheet]
    landed = land([parse_extract(path) for path in paths])

    assert [type(item).__name__ for item in landed] == [
        "Landed", "FileRejected", "Landed", "FileRejected", "Landed"
    ]  # fmt: skip
    assert (landed[1].code, landed[3].code) == ("fel_kommun", "fel_period")
    for path, item in zip(paths, landed, strict=True):
        if isinstance(item, FileRejected):
            with pytest.raises(FileRejected) as alone:
                read_extract(path)
            assert (alone.value.code, str(alone.value)) == (item.code, str(item))
        else:
            assert item.rows.to_pylist() == read_extract(path).rows.to_pylist()
    first, second = landed[0].rows.to_pylist()
    assert (first["municipality_code"], first["decision_date_raw"], first["org_unit"]) == ("0180", None, None)
    # Only the comma dialect has words for outcomes: elsewhere the text goes on to validation as it is.
    assert first["outcome"] == "Inleds ej" and second["outcome"] == "inleds"
    assert landed[2].rows.column("outcome").to_pylist() == ["inleds_ej"]
    assert landed[2].rows.column("reporter").to_pylist() == ["HSV"]
    assert landed[4].rows.column("outcome").to_pylist() == ["Inleds ej"]
    assert [item.records for item in (landed[0], landed[2], landed[4])] == [2, 1, 1]


PLAIN = st.text(st.sampled_from(list("ab1 åé")), max_size=4)
ODD = st.text(st.sampled_from(list('ab1;,\t"åé \r\n')), max_size=4)


@st.composite
def csv_file(draw, usual: tuple[list[str], str, str, str]) -> bytes:
    """A small CSV file like a month's deliveries: mostly in the month's usual header, delimiter, line
    ending and encoding, with every oddity that changes how records are split: quotes, carriage
    returns, blank and short lines, a missing final newline."""
    header, delimiter, newline, encoding = usual
    if draw(st.integers(0, 4)) == 0:
        header = draw(
            st.sampled_from([["Kommun", "Id", "Datum"], ["Kommun", "Id"], ["kommun", "Id", "Datum"]])
        )
        delimiter = draw(st.sampled_from([";", ","]))
        newline = draw(st.sampled_from(["\n", "\r\n"]))
        encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "cp1252"]))
    fields = st.one_of(*[PLAIN] * 9, ODD)
    width = (
        st.integers(len(header) - 1, len(header) + 1)
        if draw(st.integers(0, 4)) == 0
        else st.just(len(header))
    )
    rows = draw(st.lists(width.flatmap(lambda n: st.lists(fields, min_size=n, max_size=n)), max_size=4))
    text = newline.join(delimiter.join(row) for row in [header, *rows])
    text += draw(st.sampled_from(["", newline, newline, newline + newline]))
    return text.encode(encoding, errors="replace")


USUAL = st.tuples(
    st.sampled_from([["Kommun", "Id", "Datum"], ["Kommun", "Id"]]),
    st.sampled_from([";", ","]),
    st.sampled_from(["\n", "\r\n"]),
    st.sampled_from(["utf-8", "utf-8-sig", "cp1252"]),
)
MONTHS_FILES = USUAL.flatmap(lambda usual: st.lists(csv_file(usual), max_size=6))


@settings(max_examples=300, deadline=None)
@given(MONTHS_FILES)
def test_csv_files_read_together_give_what_each_gives_alone(contents: list[bytes]) -> None:
    """Whatever the files hold, a file read with others has the header, rows and texts it has read alone,
    and a file that cannot be read that way is left to be read alone."""
    from pipelines.stage1_landing.csv_text import read_csv, read_csv_together, text_format

    together = read_csv_together(contents)
    assert len(together) == len(contents)
    for raw, read in zip(contents, together, strict=True):
        if read is None:
            continue
        header, table, unreadable = read_csv(raw, *text_format(raw))
        assert read[0] == header and read[2] == unreadable == []
        assert read[1].to_pydict() == table.to_pydict()


def test_a_month_of_plain_csv_files_is_read_together(tmp_path: Path) -> None:
    """Files sharing header, encoding and delimiter are read in one call (the speed it exists for); a
    file with a quoted field, or alone in its kind, is read alone."""
    from pipelines.stage1_landing.csv_text import read_csv_together

    plain = [b"Kommun;Id\n0180;A1\n0180;A2\n", b"Kommun;Id\r\n0114;B1", b"Kommun;Id\n1280;C1\n"]
    quoted = b'Kommun;Id\n0180;"A\n3"\n'
    alone = b"Kommun,Id\n0180,A4\n"
    together = read_csv_together([*plain, quoted, alone])
    assert [read is not None for read in together] == [
        True,
        False,
        True,
        False,
        False,
    ]  # \r\n: another header line
    assert together[0][1].to_pydict() == {"Kommun": ["0180", "0180"], "Id": ["A1", "A2"]}
    assert together[2][1].to_pydict() == {"Kommun": ["1280"], "Id": ["C1"]}


def test_a_small_windows_1252_file_ending_in_a_swedish_letter_is_not_taken_for_utf8(tmp_path: Path) -> None:
    """The allowance for a character cut by the 64 KiB sample does not apply to a file that fits in it."""
    from pipelines.stage1_landing.csv_text import text_format

    raw = "Kommun;Ort\n0180;Tranå".encode("cp1252")
    assert text_format(raw) == ("cp1252", ";")
