"""The malformed-file corpus: for every kind of input, the exact outcome through the public paths.

Each case is written by ``tests/corpus/build.py`` at test time and checked through
``read_extract`` (file-level codes), ``load_month`` (counts, reasons per row, ledger, feedback JSON,
suggestions, no personnummer in any output) and ``orostat validate`` (exit status and printed summary).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from pipelines.cli import main
from pipelines.core import db
from pipelines.core.settings import Paths, settings
from pipelines.stage1_landing.delivery import FileRejected
from pipelines.stage1_landing.read import read_extract
from pipelines.stage2_pseudonymise.ingest import (
    FEEDBACK_FOLDER,
    LEDGER_FILE,
    QUARANTINE_CSV,
    QUARANTINE_FILE,
    REPORTS_FILE,
    load_month,
)
from pipelines.stage2_pseudonymise.leak_scan import Needles, scan
from tests.corpus import build
from tests.corpus.build import MONTH, NAME, Built

SUGGESTIONS = {
    "anmalare_okand": "reporter: POL (Polis)",
    "orsak_okand": "causes: B3 (Skolfrånvaro)",
    "utfall_okant": "outcome: inleds (Utredning inleds)",
}


def _table(home: Paths, file: str) -> list[dict]:
    path = home.extract_month(MONTH) / file
    return db.table(f"SELECT * FROM read_parquet('{path}')").to_pylist()


def _feedback(home: Paths, file: str = NAME) -> dict:
    return json.loads((home.extract_month(MONTH) / FEEDBACK_FOLDER / f"{file}.json").read_text("utf-8"))


def _analyst_csv(path: Path) -> list[dict[str, str]]:
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), "the analyst CSV must start with a UTF-8 BOM"
    return list(csv.DictReader(raw.decode("utf-8-sig").splitlines(), delimiter=";"))


def _assert_no_leak(home: Paths, built: Built) -> None:
    needles = Needles(built.numbers)
    assert len(needles) == len(set(built.numbers))
    assert scan(home.extract_month(MONTH), needles) == []


def _load(home: Paths, key, built: Built, accepted: int, reasons: dict[int, list[str]]):
    """Load the month and assert counts, reasons per row, the ledger row, the feedback and no leak."""
    load = load_month(MONTH, key, home)
    assert (load.accepted, load.quarantined) == (accepted, len(reasons))
    assert {r["row_number"]: r["reasons"] for r in _table(home, QUARANTINE_FILE)} == reasons
    assert len(_table(home, REPORTS_FILE)) == accepted
    ledger = {r["source_file"]: r for r in _table(home, LEDGER_FILE)}
    loaded = (
        ledger[built.path.name]
        if len(built.files) == 1
        else next(r for r in ledger.values() if r["status"] == "inläst")
    )
    assert (loaded["status"], loaded["rejection_code"]) == ("inläst", None)
    assert (loaded["rows_in"], loaded["accepted"], loaded["quarantined"]) == (
        accepted + len(reasons),
        accepted,
        len(reasons),
    )
    feedback = _feedback(home, loaded["source_file"])
    assert (feedback["status"], feedback["accepted"], feedback["quarantined"]) == (
        "inläst",
        accepted,
        len(reasons),
    )
    by_code: dict[str, list[int]] = {}
    for number, codes in sorted(reasons.items()):
        for code in codes:
            by_code.setdefault(code, []).append(number)
    assert {p["code"]: p["row_numbers"] for p in feedback["problems"]} == by_code
    _assert_no_leak(home, built)
    return load, ledger, feedback


def _validate(path: Path, out: Path, capsys, *extra: str) -> tuple[int, str]:
    code = main(["validate", str(path), "--feedback", str(out), *extra])
    return code, capsys.readouterr().out


# --- file-level rejections --------------------------------------------------------------------------


@pytest.fixture
def tiny_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(settings()["extract"], "max_file_bytes", 100)


@pytest.mark.parametrize("kind", sorted(build.FILE_LEVEL))
def test_file_level_rejection(kind: str, home: Paths, key, tmp_path: Path, capsys, request) -> None:
    builder, code = build.FILE_LEVEL[kind]
    if code == "for_stor":
        request.getfixturevalue("tiny_limit")
    folder = tmp_path / "in"
    folder.mkdir()
    built = builder(folder)
    with pytest.raises(FileRejected) as caught:
        read_extract(built.path)
    assert caught.value.code == code
    for number in built.numbers:  # a rejection message never quotes a cell
        assert number[-4:] not in str(caught.value) or number[-10:] not in str(caught.value)

    exit_code, out = _validate(built.path, tmp_path / "feedback.json", capsys)
    assert exit_code == 2
    assert "AVVISAS" in out
    assert json.loads((tmp_path / "feedback.json").read_text("utf-8"))["rejection_code"] == code
    exit_code, out_en = _validate(built.path, tmp_path / "feedback_en.json", capsys, "--english")
    assert (exit_code, "REJECTED" in out_en) == (2, True)
    written = out + out_en + (tmp_path / "feedback.json").read_text("utf-8")
    # No number in any written form, not even the one in the file's own name.
    assert Needles(built.numbers).count_in(written.encode("utf-8")) == 0

    if code in ("filnamn", "filnamn_id"):
        # A file whose name gives no month, or carries a number, belongs to no month's load.
        builder(home.landing)
        load = load_month(MONTH, key, home)
        assert (load.files_rejected, load.rows_in) == (0, 0)
        return
    landed = builder(home.landing)
    load = load_month(MONTH, key, home)
    assert (load.files_rejected, load.accepted, load.quarantined, load.rows_in) == (1, 0, 0, 0)
    (ledger,) = _table(home, LEDGER_FILE)
    assert (ledger["source_file"], ledger["status"], ledger["rejection_code"]) == (
        landed.path.name,
        "avvisad",
        code,
    )
    assert (ledger["rows_in"], ledger["accepted"], ledger["quarantined"]) == (None, 0, 0)
    feedback = _feedback(home, landed.path.name)
    assert (feedback["status"], feedback["rejection_code"]) == ("avvisad", code)
    assert _table(home, REPORTS_FILE) == [] and _table(home, QUARANTINE_FILE) == []
    _assert_no_leak(home, landed)


def test_missing_column_message_names_it(tmp_path: Path) -> None:
    with pytest.raises(FileRejected) as caught:
        read_extract(build.missing_required_column(tmp_path).path)
    assert "semikolon_utf8" in str(caught.value) and "causes" in str(caught.value)


# --- reading: every encoding, delimiter and dialect loads clean ---------------------------------------

READ_EXPECTED = {
    "utf8_no_bom": ("semikolon_utf8", "utf-8"),
    "utf16_le_bom_tab": ("semikolon_utf8", "utf-16"),
    "utf16_le_no_bom": ("semikolon_utf8", "utf-16-le"),
    "windows_1252": ("komma_cp1252", "cp1252"),
    "tab_utf8": ("semikolon_utf8", "utf-8"),
    "header_variant_and_extra_column": ("semikolon_utf8", "utf-8-sig"),
}


@pytest.mark.parametrize("kind", sorted(build.READ_CLEAN))
def test_reading_loads_clean(kind: str, home: Paths, key, tmp_path: Path, capsys) -> None:
    built = build.READ_CLEAN[kind](home.landing)
    landed = read_extract(built.path)
    assert (landed.dialect, landed.encoding) == READ_EXPECTED[kind]
    load, ledger, feedback = _load(home, key, built, accepted=3, reasons={})
    assert (ledger[NAME]["dialect"], ledger[NAME]["encoding"]) == READ_EXPECTED[kind]
    assert load.distinct_children == 3
    reports = _table(home, REPORTS_FILE)
    assert len({r["child_pseudonym"] for r in reports} - {None}) == 3
    if kind == "windows_1252":
        by_id = {r["report_id"]: r for r in reports}
        assert by_id["K1"]["org_unit"] == build.CP1252_UNIT
        assert by_id["K2"]["org_unit"] == "Östermalm"
        assert [by_id[k]["outcome"] for k in ("K1", "K2", "K3")] == ["inleds", "pagaende", "ej_beslutat"]
        assert [by_id[k]["reporter"] for k in ("K1", "K2", "K3")] == ["POL", "FSK", "SKO"]
        assert by_id["K2"]["causes"] == ["F3", "F1"]
    if kind == "header_variant_and_extra_column":
        assert feedback["ignored_columns"] == ["Handläggare"]
    else:
        assert feedback["ignored_columns"] == []
    exit_code, out = _validate(built.path, tmp_path / "feedback.csv", capsys)
    assert exit_code == 0
    assert READ_EXPECTED[kind][0] in out
    if kind == "header_variant_and_extra_column":
        assert "Kolumner som ignoreras: Handläggare" in out


# --- row-level quarantine: one defect, one reason ----------------------------------------------------


@pytest.mark.parametrize("kind", build.ROW_DEFECTS)
def test_row_defect(kind: str, home: Paths, key, tmp_path: Path, capsys) -> None:
    code = build.reason_of(kind)
    built = build.row_defect(kind)(home.landing)
    reasons = {5: [code], 6: [code]} if code == "anmalan_id_dubblett" else {5: [code]}
    _load(home, key, built, accepted=3, reasons=reasons)
    (quarantined, *_) = _table(home, QUARANTINE_FILE)
    assert quarantined["suggestion"] == SUGGESTIONS.get(code)
    assert quarantined["reason_text"]
    rows = "5, 6" if code == "anmalan_id_dubblett" else "5"
    exit_code, out = _validate(built.path, tmp_path / "feedback.csv", capsys)
    assert exit_code == 1
    assert f"[{code}]" in out and f"rader: {rows};" in out
    exit_code, out = _validate(built.path, tmp_path / "feedback_en.csv", capsys, "--english")
    assert exit_code == 1
    assert f"[{code}]" in out and f"rows: {rows};" in out
    assert {r["row_number"] for r in _analyst_csv(tmp_path / "feedback_en.csv")} == set(rows.split(", "))


def test_every_reason_code_has_a_corpus_case() -> None:
    from pipelines.core.schemas import quarantine_reasons

    spec = quarantine_reasons()
    assert {r["code"] for r in spec["rules"] + spec["structural"]} == {
        build.reason_of(k) for k in build.ROW_DEFECTS
    }


def test_received_after_the_period(home: Paths, key) -> None:
    _load(home, key, build.received_after_period(home.landing), 3, {5: ["inkomstdatum_utanfor_period"]})


def test_quoted_newline_stays_one_record(home: Paths, key) -> None:
    built = build.quoted_newline(home.landing)
    _load(home, key, built, accepted=3, reasons={5: ["anmalare_okand"]})
    unit = {r["report_id"]: r["org_unit"] for r in _table(home, REPORTS_FILE)}["R1"]
    assert unit.splitlines() == ["Norr", "Hisingen"]


def test_blank_line_keeps_row_numbers(home: Paths, key) -> None:
    built = build.blank_line_in_the_middle(home.landing)
    _load(home, key, built, accepted=3, reasons={6: ["anmalare_okand"]})


def test_windows_1252_with_the_first_accent_after_64_kib(home: Paths, key) -> None:
    built = build.windows_1252_late_accent(home.landing)
    assert built.path.stat().st_size > 65536
    _load(home, key, built, accepted=1301, reasons={})
    units = {r["report_id"]: r["org_unit"] for r in _table(home, REPORTS_FILE)}
    assert units["LAST"] == build.CP1252_UNIT


@pytest.mark.parametrize("builder", [build.xlsx_first_sheet, build.xlsx_named_sheet])
def test_xlsx(builder, home: Paths, key, tmp_path: Path, capsys) -> None:
    built = builder(home.landing)
    landed = read_extract(built.path)
    assert (landed.dialect, landed.encoding) == ("xlsx_export", "xlsx")
    _load(home, key, built, accepted=3, reasons={5: ["beslutsdatum_saknas"]})
    reports = {r["report_id"]: r for r in _table(home, REPORTS_FILE)}
    assert set(reports) == {"X1", "X2", "X3"}
    assert str(reports["X1"]["date_received"]) == "2025-03-03"
    assert reports["X1"]["causes"] == ["V1", "F1"]
    exit_code, out = _validate(built.path, tmp_path / "feedback.csv", capsys)
    assert exit_code == 1 and "[beslutsdatum_saknas]" in out and "rader: 5;" in out


def test_samordningsnummer_is_accepted(home: Paths, key) -> None:
    _load(home, key, build.coordination_number(home.landing), accepted=4, reasons={})
    r4 = {r["report_id"]: r for r in _table(home, REPORTS_FILE)}["R4"]
    assert (r4["is_coordination_number"], r4["child_identified"], r4["age_years"]) == (True, True, 6)
    assert r4["child_pseudonym"] is not None


def test_unidentified_child_counts_as_a_report_not_a_child(home: Paths, key) -> None:
    load, _, _ = _load(home, key, build.unidentified_child(home.landing), accepted=5, reasons={})
    assert load.distinct_children == 3
    reports = {r["report_id"]: r for r in _table(home, REPORTS_FILE)}
    for report_id in ("R4", "R5"):
        assert (reports[report_id]["child_pseudonym"], reports[report_id]["key_id"]) == (None, None)
        assert reports[report_id]["child_identified"] is False


def _neutralised(rows: list[dict[str, str]]) -> None:
    report_ids = {r["report_id"] for r in rows}
    units = {r["org_unit"] for r in rows}
    for text in build.FORMULAS["report_id"]:
        assert "'" + text in report_ids
    for text in build.FORMULAS["org_unit"]:
        assert "'" + text in units
    for r in rows:
        for value in r.values():
            assert not value or value[0] not in "=+-@"


def test_formula_text_is_neutralised_in_every_analyst_csv(home: Paths, key, tmp_path: Path, capsys) -> None:
    built = build.formula_text(home.landing)
    _load(home, key, built, accepted=3, reasons={n: ["anmalare_okand"] for n in (5, 6, 7, 8)})
    folder = home.extract_month(MONTH)
    _neutralised(_analyst_csv(folder / QUARANTINE_CSV))
    _neutralised(_analyst_csv(folder / FEEDBACK_FOLDER / f"{NAME}.csv"))
    assert main(["validate", str(built.path), "--feedback", str(tmp_path / "fb.csv")]) == 1
    _neutralised(_analyst_csv(tmp_path / "fb.csv"))
    capsys.readouterr()


def test_same_file_under_two_names_counts_once(home: Paths, key) -> None:
    built = build.same_file_twice(home.landing)
    load, ledger, _ = _load(home, key, built, accepted=3, reasons={5: ["anmalare_okand"]})
    assert {name: r["status"] for name, r in ledger.items()} == {
        NAME: "ersatt",
        built.files[1].name: "inläst",
    }
    assert (ledger[NAME]["accepted"], ledger[NAME]["quarantined"]) == (0, 0)
    assert (load.files_loaded, load.rows_in) == (1, 4)
    before = _table(home, REPORTS_FILE)
    again = load_month(MONTH, key, home)
    assert again.skipped_unchanged
    assert (again.accepted, again.quarantined) == (3, 1)
    assert _table(home, REPORTS_FILE) == before


def test_corrected_redelivery_replaces(home: Paths, key) -> None:
    built = build.corrected_redelivery(home.landing)
    _load(home, key, built, accepted=3, reasons={5: ["personnummer_kontrollsiffra"]})
    build.correct(home.landing)
    load, ledger, _ = _load(home, key, built, accepted=4, reasons={})
    assert not load.skipped_unchanged
    assert list(ledger) == [NAME]
    outcomes = {r["report_id"]: r["outcome"] for r in _table(home, REPORTS_FILE)}
    assert outcomes == {"R1": "inleds", "R2": "inleds", "R3": "inleds_ej", "R4": "inleds"}
