"""The malformed-file corpus: every kind of input a municipal analyst might hand over, written at test time.

Nothing here is a committed fixture: each builder writes one small file (or a pair) into a folder and
returns what it wrote, with every personnummer it used. Every personnummer is generated with
``personnummer.generate`` (via ``tests.extracts.child``), never copied from anywhere.

Conventions: the delivering municipality is 0180, the month 2025-03 (period 2025-03-01 … 2025-03-31,
lookback from 2024-12-01). Row 1 is the header, so the first data row is row 2. A "row case" file has
three clean rows (2, 3, 4) and then the row(s) under test (5, …), so that the file is never mistaken for
another municipality's or month's delivery.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.stage2_pseudonymise.personnummer import luhn_check_digit
from tests.extracts import COMMA_HEADER, SEMICOLON_HEADER, XLSX_HEADER, child, dash10, dash12

MONTH = "2025-03"
MUNICIPALITY = "0180"
NAME = f"{MUNICIPALITY}_{MONTH}.csv"

# Children aged 0-17 in March 2025, generated.
KIDS = [
    child(dt.date(2013, 2, 14), 321),
    child(dt.date(2016, 9, 30), 654),
    child(dt.date(2020, 1, 5), 77),
]
BAD_ROW_KID = child(dt.date(2011, 5, 6), 432)
ADULT = child(dt.date(2005, 1, 1), 210)  # 20 years old on the date received
COORDINATION = child(dt.date(2019, 1, 5), 88, coordination=True)
IN_FREE_TEXT = child(dt.date(2014, 8, 19), 515)
IN_FILE_NAME = child(dt.date(2015, 4, 2), 246)

Row = list[str]
HEADER = SEMICOLON_HEADER.split(";")
# Contract v2's optional column, for the cases that test it (the others deliver v1's columns only).
FEEDBACK_HEADER = [*HEADER, "Återkopplingsdatum"]


@dataclass
class Built:
    """What a builder wrote: the files (in landing order) and every generated number it used."""

    files: list[Path]
    numbers: list[str] = field(default_factory=list)

    @property
    def path(self) -> Path:
        return self.files[0]


def row(
    report_id: str,
    pnr: str = "",
    received: str = "2025-03-03",
    reporter: str = "POL",
    causes: str = "V1",
    outcome: str = "inleds",
    decision: str = "2025-03-10",
    org_unit: str = "Norr",
    municipality: str = MUNICIPALITY,
) -> Row:
    """One semicolon-dialect row (contract order), clean unless told otherwise."""
    return [municipality, report_id, pnr, received, reporter, causes, outcome, decision, org_unit]


def clean_rows() -> list[Row]:
    """Rows 2-4: three valid reports about three different children, in three written forms."""
    return [
        row("R1", dash12(KIDS[0])),
        row("R2", KIDS[1]),
        row("R3", dash10(KIDS[2]), causes="F1,F2", outcome="ej_beslutat", decision=""),
    ]


def to_text(rows: list[Row], header: list[str] = HEADER, delimiter: str = ";", newline: str = "\r\n") -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator=newline)
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def write_csv(
    path: Path,
    rows: list[Row],
    encoding: str = "utf-8-sig",
    delimiter: str = ";",
    header: list[str] = HEADER,
) -> Path:
    path.write_bytes(to_text(rows, header, delimiter).encode(encoding))
    return path


def _numbers(_rows: object = None) -> list[str]:
    """Every number the corpus generates (the leak scan looks for all of them in every case)."""
    return [*KIDS, BAD_ROW_KID, ADULT, COORDINATION, IN_FREE_TEXT]


def row_case(folder: Path, *bad: Row) -> Built:
    """Three clean rows, then the row(s) under test."""
    rows = [*clean_rows(), *bad]
    return Built([write_csv(folder / NAME, rows)], _numbers(rows))


def _pnr12_with_check(eleven: str) -> str:
    return eleven + luhn_check_digit(eleven[-9:])


# --- file-level rejections --------------------------------------------------------------------------


def empty_file(folder: Path) -> Built:
    (folder / NAME).write_bytes(b"")
    return Built([folder / NAME])


def blank_lines_only(folder: Path) -> Built:
    (folder / NAME).write_bytes(b"\r\n  \r\n\r\n")
    return Built([folder / NAME])


def header_only(folder: Path) -> Built:
    return Built([write_csv(folder / NAME, [])])


def header_only_xlsx(folder: Path) -> Built:
    return Built([_xlsx(folder / f"{MUNICIPALITY}_{MONTH}.xlsx", [])])


def binary_file(folder: Path) -> Built:
    """An image saved with a .csv name: many NUL bytes, no text."""
    body = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x01\x02IDAT\x7f\xfe" * 400
    (folder / NAME).write_bytes(body)
    return Built([folder / NAME])


def html_error_page(folder: Path) -> Built:
    page = "<!DOCTYPE html>\n<html><head><title>500</title></head><body>Internal Server Error</body></html>\n"
    (folder / NAME).write_text(page, encoding="utf-8")
    return Built([folder / NAME])


def unknown_dialect(folder: Path) -> Built:
    header = ["Datum", "Namn", "Belopp", "Kommentar"]
    return Built([write_csv(folder / NAME, [["2025-03-03", "Kalle", "12", "x"]], header=header)])


def missing_required_column(folder: Path) -> Built:
    """The semicolon dialect without its cause column ('Orsaker'): the message names what is missing."""
    header = [h for h in HEADER if h != "Orsaker"]
    rows = [[v for i, v in enumerate(r) if HEADER[i] != "Orsaker"] for r in clean_rows()]
    return Built([write_csv(folder / NAME, rows, header=header)], _numbers(rows))


def bad_file_name(folder: Path) -> Built:
    return Built([write_csv(folder / "orosanmalningar_mars.csv", clean_rows())], _numbers([]))


def number_in_file_name(folder: Path) -> Built:
    """A loadable name with a child's number after the month: refused, the number never stored."""
    name = f"{MUNICIPALITY}_{MONTH}_{dash10(IN_FILE_NAME)}.csv"
    return Built([write_csv(folder / name, clean_rows())], [*_numbers([]), IN_FILE_NAME])


def unknown_municipality(folder: Path) -> Built:
    rows = [row(f"R{i}", KIDS[i], municipality="0000") for i in range(3)]
    return Built([write_csv(folder / f"0000_{MONTH}.csv", rows)], _numbers(rows))


def other_municipality(folder: Path) -> Built:
    """Named 0180, but every row belongs to 1480 (Göteborg)."""
    rows = [row(f"R{i}", KIDS[i], municipality="1480") for i in range(3)]
    return Built([write_csv(folder / NAME, rows)], _numbers(rows))


def wrong_period(folder: Path) -> Built:
    """Named 2025-03, but the reports arrived in June 2024."""
    rows = [row(f"R{i}", KIDS[i], received="2024-06-03", decision="2024-06-10") for i in range(3)]
    return Built([write_csv(folder / NAME, rows)], _numbers(rows))


def too_large(folder: Path) -> Built:
    """A normal file; the test lowers ``extract.max_file_bytes`` below its size."""
    return Built([write_csv(folder / NAME, clean_rows())], _numbers([]))


# --- reading ------------------------------------------------------------------------------------------


def utf8_no_bom(folder: Path) -> Built:
    return Built([write_csv(folder / NAME, clean_rows(), encoding="utf-8")], _numbers([]))


def utf16_le_bom_tab(folder: Path) -> Built:
    """Excel's "Unicode text": UTF-16 LE with BOM, tab-separated."""
    text = to_text(clean_rows(), delimiter="\t")
    (folder / NAME).write_bytes(b"\xff\xfe" + text.encode("utf-16-le"))
    return Built([folder / NAME], _numbers([]))


def utf16_le_no_bom(folder: Path) -> Built:
    text = to_text(clean_rows(), delimiter="\t")
    (folder / NAME).write_bytes(text.encode("utf-16-le"))
    return Built([folder / NAME], _numbers([]))


CP1252_UNIT = "Västra Hisingen Åby Öster"


def windows_1252(folder: Path) -> Built:
    """The older system: cp1252, comma, DD.MM.YYYY, words for outcome and reporter, å ä ö in a value."""
    rows = [
        ["0180", "K1", dash10(KIDS[0]), "03.03.2025", "Polis", "V1", "Inleds", "10.03.2025", CP1252_UNIT],
        ["0180", "K2", dash10(KIDS[1]), "04.03.2025", "Förskola", "F3|F1", "Pågående", "", "Östermalm"],
        ["0180", "K3", dash10(KIDS[2]), "05.03.2025", "Skola", "B3", "Ej beslutad", "", ""],
    ]
    return Built(
        [write_csv(folder / NAME, rows, encoding="cp1252", delimiter=",", header=COMMA_HEADER.split(","))],
        _numbers(rows),
    )


def windows_1252_late_accent(folder: Path) -> Built:
    """cp1252 with an ASCII header and the first å ä ö only after the first 64 KiB (1,300 plain rows)."""
    header = [*HEADER_VARIANT[:-1], "Handlaggare"]
    rows = [[*row(f"P{i}", outcome="ej_beslutat", decision=""), "Anna"] for i in range(1300)]
    rows.append([*row("LAST", outcome="ej_beslutat", decision="", org_unit=CP1252_UNIT), "Åsa"])
    return Built([write_csv(folder / NAME, rows, encoding="cp1252", header=header)], _numbers())


def tab_utf8(folder: Path) -> Built:
    return Built([write_csv(folder / NAME, clean_rows(), encoding="utf-8", delimiter="\t")], _numbers([]))


def quoted_newline(folder: Path) -> Built:
    """A unit name with a line break inside quotes (one record over two lines), then a bad row."""
    rows = [*clean_rows()]
    rows[0][-1] = "Norr\r\nHisingen"
    rows.append(row("R4", BAD_ROW_KID, reporter="QQQ"))
    return Built([write_csv(folder / NAME, rows)], _numbers(rows))


def blank_line_in_the_middle(folder: Path) -> Built:
    """An empty line between records (an analyst edited the file by hand), then a bad row."""
    lines = to_text([*clean_rows(), row("R4", BAD_ROW_KID, reporter="QQQ")]).split("\r\n")
    lines.insert(3, "")  # header, R1, R2, <blank>, R3, R4
    (folder / NAME).write_bytes("\r\n".join(lines).encode("utf-8-sig"))
    return Built([folder / NAME], _numbers([]))


def _xlsx(
    path: Path, rows: list[list[object]], sheets: list[str] | None = None, data_sheet: str = ""
) -> Path:
    import xlsxwriter

    book = xlsxwriter.Workbook(str(path))
    date_format = book.add_format({"num_format": "yyyy-mm-dd"})
    for name in sheets or []:
        if name != data_sheet:
            info = book.add_worksheet(name)
            info.write_row(0, 0, ["Uttag gjort", "2025-04-02"])
            info.write_row(1, 0, ["System", "Testsystem"])
            continue
        _xlsx_sheet(book.add_worksheet(name), rows, date_format)
    if not sheets:
        _xlsx_sheet(book.add_worksheet(), rows, date_format)
    book.close()
    return path


def _xlsx_sheet(sheet, rows: list[list[object]], date_format) -> None:
    sheet.write_row(0, 0, XLSX_HEADER)
    for r, values in enumerate(rows, start=1):
        for c, value in enumerate(values):
            if isinstance(value, dt.date):
                sheet.write_datetime(r, c, dt.datetime.combine(value, dt.time()), date_format)
            elif value != "":
                sheet.write_string(r, c, str(value))


def _xlsx_rows() -> list[list[object]]:
    d = dt.date
    return [
        ["0180", "X1", KIDS[0], d(2025, 3, 3), "POL", "V1;F1", "inleds", d(2025, 3, 10), "Norr"],
        ["0180", "X2", dash12(KIDS[1]), d(2025, 3, 4), "BVC", "F3", "inleds_ej", d(2025, 3, 6), ""],
        ["0180", "X3", dash10(KIDS[2]), d(2025, 3, 5), "SKO", "B3", "ej_beslutat", "", ""],
        ["0180", "X4", BAD_ROW_KID, d(2025, 3, 5), "SKO", "B3", "inleds", "", ""],  # no decision date
    ]


def xlsx_first_sheet(folder: Path) -> Built:
    return Built([_xlsx(folder / f"{MUNICIPALITY}_{MONTH}.xlsx", _xlsx_rows())], _numbers([]))


def xlsx_named_sheet(folder: Path) -> Built:
    """The data on 'Orosanmälningar', which is the second sheet; the first is a cover sheet."""
    path = _xlsx(
        folder / f"{MUNICIPALITY}_{MONTH}.xlsx",
        _xlsx_rows(),
        sheets=["Information", "Orosanmälningar"],
        data_sheet="Orosanmälningar",
    )
    return Built([path], _numbers([]))


HEADER_VARIANT = [
    "KOMMUNKOD",
    "anmalanid",
    "PERSONNUMMER",
    "inkomstdatum ",
    "ANMALARE",
    "orsaker",
    "BESLUT",
    "beslutsdatum",
    "STADSDEL",
    "Handläggare",
]


def header_variant_and_extra_column(folder: Path) -> Built:
    """Header names in other case, without accents, with a trailing space, plus an unknown column."""
    rows = [[*r, "Anna"] for r in clean_rows()]
    return Built([write_csv(folder / NAME, rows, header=HEADER_VARIANT)], _numbers(rows))


# --- row-level quarantine: each row with exactly one defect ---------------------------------------


def _wrong_check_digit(number: str) -> str:
    return number[:-1] + str((int(number[-1]) + 1) % 10)


ROW_DEFECTS: dict[str, Callable[[], list[Row]]] = {
    "kommunkod_okand": lambda: [row("R4", BAD_ROW_KID, municipality="")],
    "kommunkod_fel_kommun": lambda: [row("R4", BAD_ROW_KID, municipality="1480")],
    "anmalan_id_saknas": lambda: [row("", BAD_ROW_KID)],
    "anmalan_id_for_langt": lambda: [row("R" * 65, BAD_ROW_KID)],
    "anmalan_id_dubblett": lambda: [row("R4", BAD_ROW_KID), row("R4", BAD_ROW_KID, causes="V2")],
    "personnummer_format": lambda: [row("R4", f"{BAD_ROW_KID[:8]}-{BAD_ROW_KID[8:10]}A{BAD_ROW_KID[11:]}")],
    "personnummer_langd": lambda: [row("R4", BAD_ROW_KID[:-1])],
    # 2013-02-30 with a correct Luhn digit: only the date is impossible.
    "personnummer_datum": lambda: [row("R4", _pnr12_with_check("20130230432"))],
    "personnummer_kontrollsiffra": lambda: [row("R4", dash12(_wrong_check_digit(BAD_ROW_KID)))],
    "alder_utanfor_0_17": lambda: [row("R4", dash12(ADULT))],
    "inkomstdatum_saknas": lambda: [row("R4", BAD_ROW_KID, received="")],
    "inkomstdatum_ogiltigt": lambda: [row("R4", BAD_ROW_KID, received="2025-03-3x")],
    # An impossible calendar date, not just bad text: must not roll over to 2025-03-02.
    "inkomstdatum_ogiltigt_30_feb": lambda: [row("R4", BAD_ROW_KID, received="2025-02-30")],
    "inkomstdatum_utanfor_period": lambda: [
        row("R4", BAD_ROW_KID, received="2024-10-15", outcome="ej_beslutat", decision="")
    ],
    "anmalare_saknas": lambda: [row("R4", BAD_ROW_KID, reporter="")],
    "anmalare_okand": lambda: [row("R4", BAD_ROW_KID, reporter="Polisen")],
    "anmalare_ej_giltig_datum": lambda: [row("R4", BAD_ROW_KID, reporter="OVA")],
    "orsak_saknas": lambda: [row("R4", BAD_ROW_KID, causes="")],
    "orsak_okand": lambda: [row("R4", BAD_ROW_KID, causes="V1,Skolfranvaro")],
    "utfall_saknas": lambda: [row("R4", BAD_ROW_KID, outcome="", decision="")],
    "utfall_okant": lambda: [row("R4", BAD_ROW_KID, outcome="inled")],
    "beslutsdatum_ogiltigt": lambda: [row("R4", BAD_ROW_KID, decision="2025-13-01")],
    "beslutsdatum_ogiltigt_30_feb": lambda: [
        row("R4", BAD_ROW_KID, received="2025-02-20", decision="2025-02-30")
    ],
    "beslutsdatum_saknas": lambda: [row("R4", BAD_ROW_KID, decision="")],
    "beslutsdatum_utan_beslut": lambda: [row("R4", BAD_ROW_KID, outcome="pagaende")],
    "beslut_fore_inkomst": lambda: [row("R4", BAD_ROW_KID, received="2025-03-10", decision="2025-03-05")],
    "beslut_i_framtiden": lambda: [row("R4", BAD_ROW_KID, received="2025-03-28", decision="2025-04-02")],
    "aterkoppling_ogiltigt": lambda: [[*row("R4", BAD_ROW_KID), "2025-03-3x"]],
    "aterkoppling_fore_inkomst": lambda: [[*row("R4", BAD_ROW_KID, received="2025-03-10"), "2025-03-09"]],
    "aterkoppling_i_framtiden": lambda: [[*row("R4", BAD_ROW_KID, received="2025-03-05"), "2025-04-01"]],
    "id_nummer_i_fritext": lambda: [row("R4", BAD_ROW_KID, org_unit=f"Ring om {dash12(IN_FREE_TEXT)}")],
    "enhet_for_lang": lambda: [row("R4", BAD_ROW_KID, org_unit="E" * 101)],
    "nul_tecken": lambda: [row("R4", BAD_ROW_KID, org_unit="No\x00rr")],
    # 300 characters of valid causes: only the length is wrong.
    "falt_for_langt": lambda: [row("R4", BAD_ROW_KID, causes=",".join(["V1"] * 100))],
    "fel_antal_falt": lambda: [[*row("R4", BAD_ROW_KID), "extra"]],
}


def reason_of(kind: str) -> str:
    """The reason code a row-defect kind must produce ('inkomstdatum_ogiltigt_30_feb' → its rule)."""
    return kind.removesuffix("_30_feb")


def row_defect(code: str) -> Callable[[Path], Built]:
    def build(folder: Path) -> Built:
        if code.startswith("aterkoppling"):  # the feedback column, empty on the clean rows
            rows = [*([*r, ""] for r in clean_rows()), *ROW_DEFECTS[code]()]
            return Built([write_csv(folder / NAME, rows, header=FEEDBACK_HEADER)], _numbers(rows))
        return row_case(folder, *ROW_DEFECTS[code]())

    build.__name__ = f"row_{code}"
    return build


def received_after_period(folder: Path) -> Built:
    return row_case(folder, row("R4", BAD_ROW_KID, received="2025-04-02", outcome="ej_beslutat", decision=""))


def coordination_number(folder: Path) -> Built:
    return row_case(folder, row("R4", dash10(COORDINATION)))


def unidentified_child(folder: Path) -> Built:
    return row_case(folder, row("R4", "", reporter="ANO"), row("R5", "   ", reporter="ANO"))


FORMULAS = {
    "report_id": ['=HYPERLINK("http://example.invalid","klicka")', "-1"],
    "org_unit": ["+46 8 12 34", "@SUM(A1:A9)"],
}


def formula_text(folder: Path) -> Built:
    """Spreadsheet formulas in report_id and org_unit, on rows quarantined for an unknown reporter."""
    return row_case(
        folder,
        row(FORMULAS["report_id"][0], BAD_ROW_KID, reporter="QQQ"),
        row(FORMULAS["report_id"][1], BAD_ROW_KID, reporter="QQQ", causes="V2"),
        row("R6", BAD_ROW_KID, reporter="QQQ", causes="V3", org_unit=FORMULAS["org_unit"][0]),
        row("R7", BAD_ROW_KID, reporter="QQQ", causes="V4", org_unit=FORMULAS["org_unit"][1]),
    )


def same_file_twice(folder: Path) -> Built:
    """The same bytes under two names; the copy is the newer file."""
    first = row_case(folder, row("R4", BAD_ROW_KID, reporter="QQQ"))
    copy = folder / f"{MUNICIPALITY}_{MONTH}_kopia.csv"
    copy.write_bytes(first.path.read_bytes())
    os.utime(first.path, (1_700_000_000, 1_700_000_000))
    os.utime(copy, (1_700_000_100, 1_700_000_100))
    return Built([first.path, copy], first.numbers)


def corrected_redelivery(folder: Path) -> Built:
    """The first delivery (R3 undecided, R4 with a wrong check digit); ``correct`` writes the fix."""
    return row_case(folder, row("R4", _wrong_check_digit(BAD_ROW_KID)))


def correct(folder: Path) -> Path:
    """The corrected delivery for the same municipality and month, under the same name."""
    rows = [*clean_rows(), row("R4", BAD_ROW_KID)]
    rows[2] = row("R3", dash10(KIDS[2]), causes="F1,F2", outcome="inleds_ej", decision="2025-03-20")
    return write_csv(folder / NAME, rows)


FILE_LEVEL: dict[str, tuple[Callable[[Path], Built], str]] = {
    "empty_file": (empty_file, "tom_fil"),
    "blank_lines_only": (blank_lines_only, "tom_fil"),
    "header_only": (header_only, "bara_rubrik"),
    "header_only_xlsx": (header_only_xlsx, "bara_rubrik"),
    "binary_file": (binary_file, "inte_tabell"),
    "html_error_page": (html_error_page, "inte_tabell"),
    "unknown_dialect": (unknown_dialect, "okand_dialekt"),
    "missing_required_column": (missing_required_column, "okand_dialekt"),
    "bad_file_name": (bad_file_name, "filnamn"),
    "number_in_file_name": (number_in_file_name, "filnamn_id"),
    "unknown_municipality": (unknown_municipality, "kommun_okand"),
    "other_municipality": (other_municipality, "fel_kommun"),
    "wrong_period": (wrong_period, "fel_period"),
    "too_large": (too_large, "for_stor"),
}

READ_CLEAN: dict[str, Callable[[Path], Built]] = {
    "utf8_no_bom": utf8_no_bom,
    "utf16_le_bom_tab": utf16_le_bom_tab,
    "utf16_le_no_bom": utf16_le_no_bom,
    "windows_1252": windows_1252,
    "tab_utf8": tab_utf8,
    "header_variant_and_extra_column": header_variant_and_extra_column,
}
