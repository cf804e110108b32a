"""Reporter codes are versioned by date: each is valid from valid_from to valid_to (inclusive) by the date
the report was received, and a code added later rolls up into the code it was split from, so published
reporter groups stay comparable over time."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from pipelines.core import db
from pipelines.core.schemas import code_table, dialects
from pipelines.core.settings import Paths
from pipelines.stage2_pseudonymise import quarantine
from pipelines.stage2_pseudonymise.ingest import QUARANTINE_FILE, REPORTS_FILE, load_month
from pipelines.stage3_register.register import REGISTER_FILE, build_entries
from tests.extracts import child, dash12, write_comma, write_semicolon

NEW_AUTHORITIES = {"AFM", "FKA", "KFM", "KBV", "LST", "SKV", "TUL"}  # duty to report from 2026-01-15
KID = child(dt.date(2014, 5, 6), 432)


def _row(report_id: str, received: str, reporter: str) -> list[str]:
    return ["0180", report_id, dash12(KID), received, reporter, "F1", "ej_beslutat", "", ""]


def _read(home: Paths, month: str, name: str) -> list[dict]:
    return db.table(f"SELECT * FROM read_parquet('{home.extract_month(month) / name}')").to_pylist()


def test_the_code_list_rolls_every_new_code_up_into_a_code_valid_before_it() -> None:
    rows = {r["code"]: r for r in code_table("reporters").to_pylist()}
    rolled = {code for code, r in rows.items() if r["rolls_up_to"]}
    assert rolled == NEW_AUTHORITIES
    for code in rolled:
        target = rows[rows[code]["rolls_up_to"]]
        assert rows[code]["valid_from"] == "2026-01-15" and not target["rolls_up_to"]
        assert not target["valid_from"] and not target["valid_to"]  # the old code stays valid
        assert rows[code]["group"] == target["group"] == "myndighet"


def test_the_word_dialect_can_write_every_reporter_code() -> None:
    words = dialects()["komma_cp1252"]["values"]["reporter"]
    assert set(words.values()) == set(code_table("reporters").column("code").to_pylist())


def test_new_authorities_are_valid_from_their_date_and_old_codes_stay_valid(home: Paths, key) -> None:
    write_semicolon(
        home.landing / "0180_2026-01.csv",
        [
            _row("A1", "2026-01-14", "FKA"),  # the day before the duty: quarantined
            _row("A2", "2026-01-15", "FKA"),
            _row("A3", "2026-01-20", "MYN"),  # the old code, still valid
            _row("A4", "2026-01-03", "MYN"),
        ],
    )
    write_comma(
        home.landing / "1480_2026-01.csv",
        [["1480", "K1", dash12(KID), "16.01.2026", "Tullverket", "F1", "Ej beslutad", "", ""]],
    )
    load = load_month("2026-01", key, home)
    assert (load.accepted, load.quarantined) == (4, 1)
    (bad,) = _read(home, "2026-01", QUARANTINE_FILE)
    assert bad["report_id"] == "A1" and bad["reasons"] == ["anmalare_ej_giltig_datum"]
    build_entries(home, "2026-01")
    register = home.register / "extract_month=2026-01" / REGISTER_FILE
    entries = db.rows(
        f"SELECT report_id, reporter, reporter_group FROM read_parquet('{register}') ORDER BY 1"
    )
    # Counted apart by their own code, and in the old "other authority" group where groups are published.
    assert entries == [
        ("A2", "FKA", "myndighet"),
        ("A3", "MYN", "myndighet"),
        ("A4", "MYN", "myndighet"),
        ("K1", "TUL", "myndighet"),
    ]


def test_a_code_is_quarantined_after_its_valid_to(home: Paths, key, monkeypatch: pytest.MonkeyPatch) -> None:
    table = code_table("reporters")
    ended = pc.if_else(pc.equal(table["code"], "PRV"), "2025-12-31", table["valid_to"])
    patched = table.set_column(table.schema.get_field_index("valid_to"), "valid_to", ended.cast(pa.string()))
    monkeypatch.setattr(
        quarantine, "code_table", lambda name: patched if name == "reporters" else code_table(name)
    )
    write_semicolon(
        home.landing / "0180_2026-01.csv",
        [_row("P1", "2025-12-31", "PRV"), _row("P2", "2026-01-01", "PRV")],
    )
    load = load_month("2026-01", key, home)
    assert (load.accepted, load.quarantined) == (1, 1)
    assert [r["report_id"] for r in _read(home, "2026-01", REPORTS_FILE)] == ["P1"]
    (bad,) = _read(home, "2026-01", QUARANTINE_FILE)
    assert bad["report_id"] == "P2" and bad["reasons"] == ["anmalare_ej_giltig_datum"]
