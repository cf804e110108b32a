"""Stage 2: a month's load accounts for every row, pseudonymises consistently and leaks nothing."""

from __future__ import annotations

import datetime as dt
import os
import re
import secrets
import shutil

import pytest

from pipelines.core import db
from pipelines.core.settings import Paths
from pipelines.stage2_pseudonymise.ingest import (
    LEDGER_FILE,
    QUARANTINE_CSV,
    QUARANTINE_FILE,
    REPORTS_FILE,
    connect,
    load_month,
)
from pipelines.stage2_pseudonymise.keyed_hash import MissingKeyError, load_key
from tests.extracts import child, dash10, dash12, write_comma, write_semicolon, write_xlsx

KID = child(dt.date(2013, 2, 14), 321)
SIBLING = child(dt.date(2016, 9, 30), 654)
COORD = child(dt.date(2019, 1, 5), 88, coordination=True)


def _rows(home: Paths, month: str, file: str) -> list[dict]:
    return db.table(f"SELECT * FROM read_parquet('{home.extract_month(month) / file}')").to_pylist()


def _three_dialects(home: Paths) -> None:
    write_semicolon(
        home.landing / "0180_2025-03.csv",
        [
            ["0180", "S1", dash12(KID), "2025-03-03", "POL", "V1,F1", "inleds", "2025-03-10", "Norr"],
            ["0180", "S2", dash12(SIBLING), "2025-03-03", "POL", "V1", "inleds", "2025-03-10", "Norr"],
            ["0180", "S3", "", "2025-03-04", "ANO", "O2", "ej_beslutat", "", ""],
            [
                "0180",
                "S4",
                KID[:-1] + str((int(KID[-1]) + 1) % 10),
                "2025-03-05",
                "SKO",
                "B3",
                "inleds",
                "2025-03-06",
                "",
            ],
            ["0180", "S5", COORD, "2025-03-05", "QQQ", "B3", "inleds", "2025-03-06", ""],
        ],
    )
    write_comma(
        home.landing / "1480_2025-03.csv",
        [["1480", "K1", dash10(KID), "06.03.2025", "Skola", "B3", "Pågående", "", ""]],
    )
    write_xlsx(
        home.landing / "1280_2025-03.xlsx",
        [["1280", "X1", KID, dt.date(2025, 3, 8), "BVC", "F3", "inleds_ej", dt.date(2025, 3, 9), ""]],
    )


def test_every_row_is_accepted_or_quarantined(home: Paths, key) -> None:
    _three_dialects(home)
    load = load_month("2025-03", key, home)
    assert (load.rows_in, load.accepted, load.quarantined) == (7, 5, 2)
    ledger = _rows(home, "2025-03", LEDGER_FILE)
    assert {r["source_file"]: (r["rows_in"], r["accepted"], r["quarantined"]) for r in ledger} == {
        "0180_2025-03.csv": (5, 3, 2),
        "1280_2025-03.xlsx": (1, 1, 0),
        "1480_2025-03.csv": (1, 1, 0),
    }
    assert {r["dialect"] for r in ledger} == {"semikolon_utf8", "komma_cp1252", "xlsx_export"}


def test_every_written_form_gives_one_pseudonym(home: Paths, key) -> None:
    _three_dialects(home)
    load_month("2025-03", key, home)
    rows = {r["report_id"]: r for r in _rows(home, "2025-03", REPORTS_FILE)}
    same_child = {rows[i]["child_pseudonym"] for i in ("S1", "K1", "X1")}
    assert len(same_child) == 1 and None not in same_child
    assert rows["S2"]["child_pseudonym"] not in same_child
    assert rows["S1"]["key_id"] == key.key_id
    assert (rows["S1"]["age_years"], rows["S1"]["legal_sex"]) == (12, (KID[-2] in "13579" and "1") or "2")
    assert rows["S3"]["child_pseudonym"] is None and rows["S3"]["child_identified"] is False
    assert rows["S1"]["causes"] == ["V1", "F1"]


def test_quarantine_keeps_reasons_and_masks_numbers(home: Paths, key) -> None:
    _three_dialects(home)
    load_month("2025-03", key, home)
    quarantine = {r["report_id"]: r for r in _rows(home, "2025-03", QUARANTINE_FILE)}
    assert quarantine["S4"]["reasons"] == ["personnummer_kontrollsiffra"]
    assert quarantine["S4"]["row_number"] == 5
    assert quarantine["S5"]["reasons"] == ["anmalare_okand"]
    assert set(quarantine["S4"]["personal_number_masked"]) <= {"X", "-", "+"}
    csv_text = (home.extract_month("2025-03") / QUARANTINE_CSV).read_text(encoding="utf-8-sig")
    assert "Personnumrets kontrollsiffra stämmer inte." in csv_text
    assert not re.search(r"\d{6}[-+]?\d{4}", csv_text)


def test_identifier_typed_into_a_free_text_field_is_masked(home: Paths, key) -> None:
    write_semicolon(
        home.landing / "0180_2025-03.csv",
        [["0180", dash12(KID), dash12(KID), "2025-03-03", "POL", "V1", "inleds", "2025-03-10", ""]],
    )
    load = load_month("2025-03", key, home)
    assert load.reasons["id_nummer_i_fritext"] == 1
    for path in (p for p in home.extract_month("2025-03").rglob("*") if p.is_file()):
        data = path.read_bytes()
        assert KID[-10:].encode() not in data.replace(b"-", b"")


def test_redelivery_replaces_the_earlier_file(home: Paths, key) -> None:
    first = write_semicolon(
        home.landing / "0180_2025-03.csv",
        [["0180", "S1", dash12(KID), "2025-03-03", "POL", "V1", "ej_beslutat", "", ""]],
    )
    load_month("2025-03", key, home)
    corrected = write_semicolon(
        home.landing / "0180_2025-03_rattad.csv",
        [
            ["0180", "S1", dash12(KID), "2025-03-03", "POL", "V1", "inleds", "2025-03-12", ""],
            ["0180", "S2", dash12(SIBLING), "2025-03-03", "POL", "V1", "inleds", "2025-03-12", ""],
        ],
    )
    os.utime(first, (1_700_000_000, 1_700_000_000))  # the corrected delivery is the newer file
    load = load_month("2025-03", key, home)
    assert (load.files_loaded, load.accepted) == (1, 2)
    statuses = {r["source_file"]: r["status"] for r in _rows(home, "2025-03", LEDGER_FILE)}
    assert statuses == {first.name: "ersatt", corrected.name: "inläst"}
    assert {r["outcome"] for r in _rows(home, "2025-03", REPORTS_FILE)} == {"inleds"}


def test_loading_twice_gives_identical_rows(home: Paths, key) -> None:
    _three_dialects(home)
    load_month("2025-03", key, home)
    before = _rows(home, "2025-03", REPORTS_FILE)
    load_month("2025-03", key, home)
    assert _rows(home, "2025-03", REPORTS_FILE) == before


def test_a_backfill_worker_on_one_thread_writes_what_a_single_load_does(home: Paths, key) -> None:
    """A backfill's workers share the cores out (one DuckDB thread each on two cores): same outputs."""
    _three_dialects(home)
    files = (REPORTS_FILE, QUARANTINE_FILE, LEDGER_FILE)
    load_month("2025-03", key, home)
    every_core = {f: _rows(home, "2025-03", f) for f in files}
    shutil.rmtree(home.extract_month("2025-03"))
    load = load_month("2025-03", key, home, threads=1)
    assert not load.skipped_unchanged
    assert {f: _rows(home, "2025-03", f) for f in files} == every_core
    con = connect(threads=1)
    assert db.scalar(con, "SELECT current_setting('threads')") == 1
    con.close()


def test_rejected_file_is_in_the_ledger_and_loads_nothing(home: Paths, key) -> None:
    (home.landing / "0180_2025-03.csv").write_text("<html>Error</html>", encoding="utf-8")
    load = load_month("2025-03", key, home)
    assert (load.files_rejected, load.accepted) == (1, 0)
    (ledger,) = _rows(home, "2025-03", LEDGER_FILE)
    assert (ledger["status"], ledger["rejection_code"]) == ("avvisad", "inte_tabell")


def test_no_key_refuses_with_a_clear_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OROSTAT_KEY", raising=False)
    monkeypatch.delenv("OROSTAT_KEY_FILE", raising=False)
    with pytest.raises(MissingKeyError) as err:
        load_key()
    assert "OROSTAT_KEY" in str(err.value) and "OROSTAT_KEY_FILE" in str(err.value)


def test_unchanged_month_is_not_redone_but_a_change_is(home: Paths, key, monkeypatch) -> None:
    _three_dialects(home)
    first = load_month("2025-03", key, home)
    again = load_month("2025-03", key, home)
    assert (first.skipped_unchanged, again.skipped_unchanged) == (False, True)
    assert (again.accepted, again.quarantined, again.reasons) == (
        first.accepted,
        first.quarantined,
        first.reasons,
    )
    write_comma(
        home.landing / "1480_2025-03.csv",
        [["1480", "K1", dash10(KID), "06.03.2025", "Skola", "B3", "Inleds", "07.03.2025", ""]],
    )
    changed = load_month("2025-03", key, home)
    assert not changed.skipped_unchanged
    assert {r["report_id"]: r["outcome"] for r in _rows(home, "2025-03", REPORTS_FILE)}["K1"] == "inleds"
    monkeypatch.setenv("OROSTAT_KEY", secrets.token_hex(32))
    assert not load_month("2025-03", load_key(), home).skipped_unchanged  # a new key rebuilds


def test_badly_named_landing_files_are_reported_masked(home: Paths) -> None:
    from pipelines.stage1_landing.landing import unrecognised_files

    (home.landing / "mars export.csv").write_text("x")
    (home.landing / f"{dash12(KID)}.csv").write_text("x")
    (home.landing / ".hidden").write_text("x")
    assert sorted(unrecognised_files(home.landing)) == ["XXXXXX-XXXX.csv", "mars export.csv"]


def test_a_month_is_found_by_the_period_its_name_gives_not_by_any_date_in_it(home: Paths) -> None:
    from pipelines.stage1_landing.landing import delivered_files, landing_files

    home.landing.mkdir(parents=True, exist_ok=True)
    for name in [
        "0180_2025-03.csv",
        "0180_2025-04_rattelse-2025-03.csv",
        "0114_2025-03_v2.xlsx",
        "2025-03.csv",
    ]:
        (home.landing / name).write_text("x")
    (home.landing / "0180_2025-03_folder.csv").mkdir()  # not a file
    assert [p.name for p in landing_files(home.landing, "2025-03")] == [
        "0114_2025-03_v2.xlsx",
        "0180_2025-03.csv",
    ]
    assert [p.name for p in landing_files(home.landing, "2025-04")] == ["0180_2025-04_rattelse-2025-03.csv"]
    assert [(p.name, m) for p, m in delivered_files(home.landing)] == [
        ("0114_2025-03_v2.xlsx", "2025-03"),
        ("0180_2025-03.csv", "2025-03"),
        ("0180_2025-04_rattelse-2025-03.csv", "2025-04"),
    ]


def test_a_backfill_lists_the_landing_folder_once_and_finds_what_each_month_finds(
    home: Paths, monkeypatch
) -> None:
    from pipelines.stage2_pseudonymise import ingest

    home.landing.mkdir(parents=True, exist_ok=True)
    for name in ["0180_2025-03.csv", "0180_2025-04_rattelse-2025-03.csv", "0114_2025-03_v2.xlsx", "x.csv"]:
        (home.landing / name).write_text("x")
    months = ["2025-03", "2025-04", "2025-05"]
    each = [ingest.landing_files(home.landing, month) for month in months]
    listings = []
    monkeypatch.setattr(ingest.os, "scandir", lambda p, real=os.scandir: listings.append(p) or real(p))
    assert ingest._landing_by_month(home.landing, months) == each
    assert each[2] == [] and len(listings) == 1
    assert ingest._landing_by_month(home.landing, ["2025-04"]) == [None]  # a single month lists its own
