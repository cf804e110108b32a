"""Issue 25, load side: a broken or hostile file is refused and recorded in the ledger, and the month's
other files still load; nothing crashes. One test per class of failure."""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
from pathlib import Path

import pytest

from pipelines.cli import main
from pipelines.core import db
from pipelines.core.settings import Paths
from pipelines.stage1_landing.archive import ArchiveKey, archived_extracts, load_archive_key, retain_month
from pipelines.stage2_pseudonymise.assets import _reconcile
from pipelines.stage2_pseudonymise.ingest import (
    FEEDBACK_FOLDER,
    LEDGER_FILE,
    QUARANTINE_FILE,
    REFUSED_NAMES_FILE,
    REPORTS_FILE,
    load_month,
    record_refused_names,
)
from tests.corpus.build import HEADER, KIDS, MONTH, NAME, clean_rows, row, write_csv
from tests.extracts import child, dash10

OTHER = f"0114_{MONTH}.csv"


@pytest.fixture
def archive_key(monkeypatch: pytest.MonkeyPatch) -> ArchiveKey:
    monkeypatch.delenv("OROSTAT_ARCHIVE_KEY_FILE", raising=False)
    monkeypatch.setenv("OROSTAT_ARCHIVE_KEY", secrets.token_hex(32))
    return load_archive_key()


def _table(home: Paths, file: str, month: str = MONTH) -> list[dict]:
    return db.table(f"SELECT * FROM read_parquet('{home.extract_month(month) / file}')").to_pylist()


def _ledger(home: Paths) -> dict[str, dict]:
    return {r["source_file"]: r for r in _table(home, LEDGER_FILE)}


def _good_other_municipality(home: Paths) -> Path:
    return write_csv(home.landing / OTHER, [row(f"G{i}", KIDS[i], municipality="0114") for i in range(3)])


def test_a_duplicated_column_is_refused_and_the_other_files_load(home: Paths, key, capsys) -> None:
    _good_other_municipality(home)
    rows = [[*r, r[2]] for r in clean_rows()]
    bad = write_csv(home.landing / NAME, rows, header=[*HEADER, "Personnummer"])
    load = load_month(MONTH, key, home)
    ledger = _ledger(home)
    assert (ledger[NAME]["status"], ledger[NAME]["rejection_code"]) == ("avvisad", "dubbel_kolumn")
    assert (ledger[OTHER]["status"], ledger[OTHER]["accepted"]) == ("inläst", 3)
    assert (load.files_loaded, load.files_rejected, load.accepted) == (1, 1, 3)
    feedback = json.loads((home.extract_month(MONTH) / FEEDBACK_FOLDER / f"{NAME}.json").read_text("utf-8"))
    assert feedback["rejection_code"] == "dubbel_kolumn" and feedback["text_sv"]
    assert main(["validate", str(bad), "--feedback", str(home.home / "fb.json")]) == 2
    assert "[dubbel_kolumn]" in capsys.readouterr().out


def test_a_month_whose_only_file_has_a_refused_name_loads_cleanly(home: Paths, key) -> None:
    write_csv(home.landing / f"0180_{MONTH}_{dash10(KIDS[0])}.csv", clean_rows())
    write_csv(home.landing / "0763_2025-13.csv", clean_rows())
    load = load_month(MONTH, key, home)
    assert (load.files_rejected, load.rows_in) == (0, 0)
    assert _table(home, LEDGER_FILE) == []
    columns = db.table(f"DESCRIBE SELECT * FROM read_parquet('{home.extract_month(MONTH) / LEDGER_FILE}')")
    assert {"status", "rows_in", "accepted", "quarantined"} <= set(columns.column("column_name").to_pylist())
    assert _reconcile(home, [MONTH]).passed  # read the empty ledger back: no BinderException

    assert sorted(record_refused_names(home)) == ["0180_2025-03_XXXXXX-XXXX.csv", "0763_2025-13.csv"]
    refused = db.table(f"SELECT * FROM read_parquet('{home.pseudonymised / REFUSED_NAMES_FILE}')").to_pylist()
    assert {(r["source_file"], r["rejection_code"]) for r in refused} == {
        ("0180_2025-03_XXXXXX-XXXX.csv", "filnamn_id"),
        ("0763_2025-13.csv", "filnamn"),
    }
    text = (home.pseudonymised / REFUSED_NAMES_FILE).read_bytes()
    assert dash10(KIDS[0]).encode() not in text and KIDS[0][2:].encode() not in text


def test_a_month_of_unidentified_children_only_loads_through_dagster(home: Paths, key, capsys) -> None:
    """No personnummer on any row: the summary has no reports per child, and says so with '–'."""
    write_csv(home.landing / NAME, [row(f"U{i}", "", reporter="ANO") for i in range(3)])
    write_csv(home.landing / f"0180_{MONTH}_{dash10(KIDS[0])}.csv", clean_rows())  # and a refused name
    assert main(["load", "--month", MONTH]) == 0
    out = capsys.readouterr().out
    assert "│       3 │        0 │             – │" in out
    assert len(_table(home, REPORTS_FILE)) == 3


def test_a_child_born_after_the_report_is_out_of_age_range(home: Paths, key) -> None:
    received = dt.date(2025, 3, 3)
    unborn = [child(received + dt.timedelta(days=days), 300 + days) for days in (1, 300)]
    write_csv(
        home.landing / NAME,
        [*clean_rows(), *(row(f"B{i}", pnr, received=str(received)) for i, pnr in enumerate(unborn))],
    )
    load = load_month(MONTH, key, home)
    assert (load.accepted, load.quarantined) == (3, 2)
    quarantined = {r["row_number"]: r["reasons"] for r in _table(home, QUARANTINE_FILE)}
    assert quarantined == {5: ["alder_utanfor_0_17"], 6: ["alder_utanfor_0_17"]}
    born_today = child(received, 299)
    write_csv(home.landing / NAME, [*clean_rows(), row("B0", born_today, received=str(received))])
    assert load_month(MONTH, key, home).accepted == 4  # born on the day of the report: aged 0


def test_a_quote_never_closed_is_refused_and_counted_nowhere_else(home: Paths, key) -> None:
    _good_other_municipality(home)
    rows = [row(f"Q{i}", "") for i in range(11)]
    rows[1][8] = '"Norr'
    (home.landing / NAME).write_bytes(
        ("\r\n".join([";".join(HEADER), *(";".join(r) for r in rows)]) + "\r\n").encode("utf-8")
    )
    load_month(MONTH, key, home)
    ledger = _ledger(home)
    assert (ledger[NAME]["status"], ledger[NAME]["rejection_code"]) == ("avvisad", "citattecken")
    assert ledger[OTHER]["rows_in"] == ledger[OTHER]["accepted"] == 3


def _aged(path: Path, seconds: int) -> None:
    os.utime(path, (1_700_000_000 + seconds, 1_700_000_000 + seconds))


def test_a_rejected_redelivery_leaves_the_earlier_file_in_force(home: Paths, key) -> None:
    good = write_csv(home.landing / NAME, clean_rows())
    _aged(good, 0)
    assert load_month(MONTH, key, home).accepted == 3
    broken = write_csv(
        home.landing / f"0180_{MONTH}_rattad.csv",
        [[*r, r[2]] for r in clean_rows()],
        header=[*HEADER, "Personnummer"],
    )
    _aged(broken, 100)
    load = load_month(MONTH, key, home)
    ledger = _ledger(home)
    assert {name: r["status"] for name, r in ledger.items()} == {NAME: "inläst", broken.name: "avvisad"}
    assert f"The earlier delivery {NAME} stays in force." in ledger[broken.name]["rejection_message"]
    assert (load.accepted, ledger[NAME]["accepted"]) == (3, 3)
    feedback = home.extract_month(MONTH) / FEEDBACK_FOLDER / f"{broken.name}.json"
    assert NAME in json.loads(feedback.read_text("utf-8"))["rejection_message"]

    fixed = write_csv(home.landing / f"0180_{MONTH}_rattad2.csv", clean_rows()[:2])
    _aged(fixed, 200)
    load = load_month(MONTH, key, home)
    statuses = {name: r["status"] for name, r in _ledger(home).items()}
    assert statuses == {NAME: "ersatt", broken.name: "ersatt", fixed.name: "inläst"}
    assert load.accepted == 2  # a loadable re-delivery replaces


def test_a_symlink_is_refused_unread_and_never_archived(
    home: Paths,
    key,
    archive_key,
    tmp_path: Path,
) -> None:
    secret = tmp_path / "outside" / "orostat.key"
    secret.parent.mkdir()
    number = child(dt.date(2010, 6, 6), 777)  # in no delivered file: found only if the link was read
    secret.write_text(f"{number}\n", encoding="utf-8")
    (home.landing / NAME).symlink_to(secret)
    _good_other_municipality(home)
    load_month(MONTH, key, home)
    ledger = _ledger(home)
    assert (ledger[NAME]["status"], ledger[NAME]["rejection_code"]) == ("avvisad", "symlank")
    assert (ledger[NAME]["sha256"], ledger[NAME]["bytes"]) == ("", 0)
    assert str(secret) not in ledger[NAME]["rejection_message"]
    retained = retain_month(home, MONTH, archive_key)
    assert [a.name for a in archived_extracts(home, MONTH)] == [OTHER]
    assert retained.kept_plaintext == 1 and (home.landing / NAME).is_symlink() and secret.exists()
    for path in home.data.rglob("*"):
        if path.is_file() and not path.is_symlink():
            content = path.read_bytes()
            assert number.encode() not in content and str(secret).encode() not in content, path
