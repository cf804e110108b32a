"""Delivery monitoring: every municipality, every month, computed from what the load wrote."""

from __future__ import annotations

import datetime as dt

from pipelines.core import db
from pipelines.core.run import run_months
from pipelines.core.settings import Paths
from tests.extracts import child, dash12, write_semicolon

KID, OTHER = child(dt.date(2014, 5, 5), 11), child(dt.date(2012, 2, 2), 22)


def _table(home: Paths, name: str, month: str) -> dict[str, dict]:
    rows = db.table(
        f"SELECT * FROM read_parquet('{home.statistics / name / f'as_of_month={month}' / 'data.parquet'}')"
    ).to_pylist()
    return {r["municipality_code"] + (f"/{r['reason']}" if "reason" in r else ""): r for r in rows}


def test_deliveries_count_files_rows_reasons_deadlines_and_late_decisions(home: Paths, key) -> None:
    write_semicolon(
        home.landing / "0180_2025-03.csv",
        [
            ["0180", "R1", dash12(KID), "2025-03-02", "POL", "V1", "ej_beslutat", "", ""],
            ["0180", "R2", dash12(OTHER), "2025-03-28", "SKO", "V2", "ej_beslutat", "", ""],
            ["0180", "R3", dash12(KID), "2025-03-03", "SKO", "Q7", "inleds", "2025-03-05", ""],
        ],
    )
    write_semicolon(
        home.landing / "0114_2025-03.csv",
        [["0114", "S1", dash12(OTHER), "2025-03-10", "POL", "V1", "inleds", "2025-03-12", ""]],
    )
    write_semicolon(
        home.landing / "0180_2025-04.csv",
        [["0180", "R2", dash12(OTHER), "2025-03-28", "SKO", "V2", "inleds", "2025-04-05", ""]],
    )
    outcome = run_months("2025-03", "2025-04")
    assert outcome.success, outcome.errors
    # a warning, not a failure: the run succeeds and says which check warned
    assert outcome.errors == []
    assert any("every_municipality_delivered" in message for message in outcome.warnings)

    march, april = _table(home, "deliveries", "2025-03"), _table(home, "deliveries", "2025-04")
    assert len(march) == len(april) == 290
    assert sum(r["delivered"] for r in march.values()) == 2
    assert [c for c, r in april.items() if r["delivered"]] == ["0180"]
    stockholm = march["0180"]
    assert (
        stockholm["files_loaded"],
        stockholm["rows_in"],
        stockholm["accepted"],
        stockholm["quarantined"],
    ) == (
        1,
        3,
        2,
        1,
    )
    assert stockholm["rejection_rate"] == round(1 / 3, 4)
    assert stockholm["undecided_over_deadline"] == 1  # R1 (2 March), not R2 (28 March)
    assert march["0114"]["quarantined"] == 0 and march["0114"]["rejection_rate"] == 0
    assert april["0180"]["late_decisions"] == 1 and march["0180"]["late_decisions"] == 0
    assert april["0114"]["rows_in"] == 0 and april["0114"]["rejection_rate"] is None
    assert _table(home, "deliveries_by_reason", "2025-03") == {
        "0180/orsak_okand": {
            "as_of_month": "2025-03",
            "municipality_code": "0180",
            "reason": "orsak_okand",
            "rows": 1,
        }
    }


def test_status_says_who_is_missing_and_exits_by_it(home: Paths, key, capsys) -> None:
    from pipelines.cli import main

    assert main(["status"]) == 2
    assert "Nothing loaded yet" in capsys.readouterr().err
    write_semicolon(
        home.landing / "0180_2025-03.csv",
        [["0180", "R1", dash12(KID), "2025-03-02", "POL", "V1", "inleds", "2025-03-04", ""]],
    )
    assert run_months("2025-03").success
    capsys.readouterr()
    assert main(["status"]) == 1  # 289 municipalities delivered nothing
    out = capsys.readouterr().out
    assert "1/290" in out and "Upplands Väsby" in out


def test_a_month_without_any_delivery_is_all_missing_and_the_load_still_succeeds(home: Paths, key) -> None:
    for month in ("2025-03", "2025-05"):
        write_semicolon(
            home.landing / f"0180_{month}.csv",
            [["0180", f"R{month}", dash12(KID), f"{month}-02", "POL", "V1", "inleds", f"{month}-04", ""]],
        )
    outcome = run_months("2025-03", "2025-05")
    assert outcome.success, outcome.errors
    april = _table(home, "deliveries", "2025-04")
    assert len(april) == 290 and not any(r["delivered"] for r in april.values())
    assert _table(home, "deliveries_by_reason", "2025-04") == {}
