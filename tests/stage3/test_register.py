"""Stage 3: a later extract updates an earlier report; the register says as of when."""

from __future__ import annotations

import datetime as dt

import pyarrow.parquet as pq

from pipelines.core import db
from pipelines.core.settings import Paths
from pipelines.stage2_pseudonymise.ingest import load_month
from pipelines.stage3_register.register import as_of, build_entries, register_health
from tests.extracts import child, dash12, write_semicolon

KID = child(dt.date(2011, 11, 11), 111)


def _register(home: Paths, month: str) -> dict[str, dict]:
    rows = db.table(f"SELECT * FROM {as_of(home, month)}").to_pylist()
    return {r["report_id"]: r for r in rows}


def test_decision_in_next_extract_updates_the_report(home: Paths, key) -> None:
    write_semicolon(
        home.landing / "0180_2025-03.csv",
        [
            ["0180", "R1", dash12(KID), "2025-03-28", "POL", "V1,V2,F1", "ej_beslutat", "", ""],
            ["0180", "R2", "", "2025-03-02", "ANO", "O1", "inleds_ej", "2025-03-20", ""],
        ],
    )
    write_semicolon(
        home.landing / "0180_2025-04.csv",
        [["0180", "R1", dash12(KID), "2025-03-28", "POL", "V1,V2,F1", "inleds", "2025-04-08", ""]],
    )
    for month in ("2025-03", "2025-04"):
        load_month(month, key, home)
        build_entries(home, month)
        health = register_health(home, month)
        assert (health["duplicate_keys"], health["reports"], health["key_ids"]) == (0, 2, 1)
    march, april = _register(home, "2025-03"), _register(home, "2025-04")
    assert (march["R1"]["outcome"], march["R1"]["decided"]) == ("ej_beslutat", False)
    assert (april["R1"]["outcome"], april["R1"]["decided"], april["R1"]["days_to_decision"]) == (
        "inleds",
        True,
        11,
    )
    assert (march["R1"]["valid_from"], april["R1"]["valid_from"]) == ("2025-03", "2025-04")
    assert april["R1"]["cause_groups"] == ["foralder", "vald"]  # two violence causes count once
    assert april["R1"]["month_received"] == dt.date(2025, 3, 1)
    assert april["R1"]["age_band"] == "13-17" and april["R1"]["reporter_group"] == "polis"
    # R2 was not in April's extract: its March state stands.
    assert (april["R2"]["outcome"], april["R2"]["valid_from"]) == ("inleds_ej", "2025-03")


def test_a_report_twice_in_an_extract_is_counted_as_a_duplicate(home: Paths, key) -> None:
    """The register's one-row-per-report check reads these counts (the backfill does not scan again)."""
    write_semicolon(
        home.landing / "0180_2025-03.csv",
        [
            ["0180", "R1", dash12(KID), "2025-03-28", "POL", "V1", "ej_beslutat", "", ""],
            ["0180", "R2", "", "2025-03-02", "ANO", "O1", "inleds_ej", "2025-03-20", ""],
        ],
    )
    load_month("2025-03", key, home)
    assert build_entries(home, "2025-03") == {"entries": 2, "duplicate_keys": 0}
    # Stage 2 quarantines a repeated report id; a stage-2 output that still held one must not pass.
    reports = home.extract_month("2025-03") / "reports.parquet"
    doubled = db.table(
        f"SELECT * FROM read_parquet('{reports}') UNION ALL SELECT * FROM read_parquet('{reports}')"
    )
    pq.write_table(doubled, reports)
    assert build_entries(home, "2025-03") == {"entries": 4, "duplicate_keys": 2}
