"""Delivery monitoring: every municipality, every month, computed from what the load wrote."""

from __future__ import annotations

import datetime as dt
import os
import shutil

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.core import db
from pipelines.core.settings import Paths
from pipelines.run import run_months
from pipelines.stage4_statistics.deliveries import build_deliveries
from tests.extracts import child, dash12, write_semicolon
from tests.registers import history_across_years, write_partitions

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


def test_written_files_match_the_contract_and_a_drifted_schema_is_refused(home: Paths, key, tmp_path) -> None:
    import duckdb
    import pyarrow.parquet as pq
    import pytest

    from pipelines.stage4_statistics.deliveries import TABLES, check_schema, contract, expected_schema

    write_semicolon(
        home.landing / "0180_2025-03.csv",
        [["0180", "R1", dash12(KID), "2025-03-02", "POL", "V1", "inleds", "2025-03-04", ""]],
    )
    assert run_months("2025-03").success
    for table in TABLES:
        path = home.statistics / table / "as_of_month=2025-03" / "data.parquet"
        assert pq.read_schema(path).names == list(contract()["tables"][table]["columns"])
        assert pq.read_schema(path).types == expected_schema(table).types
        meta = pq.read_metadata(path).metadata
        assert meta[b"monitoring_table"] == table.encode() and meta[b"as_of_month"] == b"2025-03"
        assert meta[b"data"] == b"real"
    drifted = tmp_path / "drifted.parquet"
    con = duckdb.connect(":memory:")
    con.execute(f"COPY (SELECT '2025-03' AS as_of_month, 1 AS rows) TO '{drifted}' (FORMAT parquet)")
    con.close()
    with pytest.raises(ValueError, match="deliveries_by_reason"):
        check_schema(drifted, "deliveries_by_reason")


def test_the_warning_check_lists_the_missing_municipalities(home: Paths, key) -> None:
    from dagster import DagsterInstance, materialize

    from pipelines.stage4_statistics.assets import EVERY_MUNICIPALITY, delivery_monitoring

    write_semicolon(
        home.landing / "0180_2025-03.csv",
        [["0180", "R1", dash12(KID), "2025-03-02", "POL", "V1", "inleds", "2025-03-04", ""]],
    )
    assert run_months("2025-03").success
    with DagsterInstance.ephemeral() as instance:
        result = materialize([delivery_monitoring], partition_key="2025-03", instance=instance)
    (evaluation,) = result.get_asset_check_evaluations()
    assert evaluation.check_name == EVERY_MUNICIPALITY and not evaluation.passed
    assert evaluation.severity.value == "WARN"
    listed = evaluation.metadata["2025-03"].value.removesuffix(" …").split(", ")
    assert "0114" in listed and "0180" not in listed
    assert len(listed) == 60  # capped: 289 are missing


def test_status_exit_codes_complete_rejected_and_month_detail(home: Paths, key, capsys) -> None:
    from pipelines.cli import main
    from pipelines.core.schemas import code_table

    codes = code_table("municipalities").column("municipality_code").to_pylist()
    for n, code in enumerate(codes):
        write_semicolon(
            home.landing / f"{code}_2025-03.csv",
            [[code, f"R{n}", dash12(KID), "2025-03-02", "POL", "V1", "inleds", "2025-03-04", ""]],
        )
    assert run_months("2025-03").success
    capsys.readouterr()
    assert main(["status"]) == 0
    out = capsys.readouterr().out
    assert "290/290" in out and "latest statistics as of: 2025-03" in out
    assert main(["status", "--month", "2025-04"]) == 2

    # A re-delivery rejected as a whole leaves the earlier file in force (issue 25; this test used to
    # assert that it replaced it): Stockholm stays delivered, with one file rejected.
    original = home.landing / "0180_2025-03.csv"
    os.utime(original, (1_700_000_000, 1_700_000_000))
    (home.landing / "0180_2025-03_b.csv").write_text("not;an;extract\n1;2;3\n", encoding="utf-8")
    assert run_months("2025-03").success
    capsys.readouterr()
    assert main(["status", "--month", "2025-03"]) == 1
    out = capsys.readouterr().out
    assert "290/290" in out
    (detail,) = [line.split("│")[1:-1] for line in out.splitlines() if "│ 0180 " in line]
    assert [cell.strip() for cell in detail[:8]] == ["0180", "Stockholm", "1", "1", "0", "1", "1", "0"]

    # When no file of Stockholm loads, the newest rejection stands, the older is superseded, and
    # Stockholm is missing.
    original.write_text("inte;en;fil\n1;2;3\n", encoding="utf-8")
    os.utime(original, (1_700_000_000, 1_700_000_000))
    assert run_months("2025-03").success
    capsys.readouterr()
    assert main(["status", "--month", "2025-03"]) == 1
    out = capsys.readouterr().out
    assert "289/290" in out and "Missing (1 of 290): 0180 Stockholm" in out
    (detail,) = [line.split("│")[1:-1] for line in out.splitlines() if "│ 0180 " in line]
    # code, name, files, rejected, superseded, rows, accepted, quarantined
    assert [cell.strip() for cell in detail[:8]] == ["0180", "Stockholm", "0", "1", "1", "0", "0", "0"]


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10_000), n=st.integers(1, 200))
def test_monthly_loads_continuing_from_the_carried_state_count_what_the_whole_register_counts(
    home: Paths, seed: int, n: int
) -> None:
    """Undecided over the deadline and late decisions, month by month from the undecided reports
    carried as of the month before, equal one pass over the whole register (with reports registered
    late, decided months later, or still undecided)."""
    shutil.rmtree(home.data, ignore_errors=True)
    write_partitions(home, history_across_years(seed, n))
    months = ["2024-10", "2024-11", "2024-12", "2025-01", "2025-02"]

    def written() -> dict[str, list[dict]]:
        return {month: list(_table(home, "deliveries", month).values()) for month in months}

    assert build_deliveries(home, months, carry=False).continued_from is None
    whole = written()
    for before, month in zip(["2024-09", *months], months, strict=False):
        built = build_deliveries(home, [month])
        assert built.continued_from == (before if month != months[0] else None)
    continued = written()
    kept = sorted(p.name for p in (home.statistics_state / "deliveries").iterdir())
    assert kept == ["as_of_month=2024-12", "as_of_month=2025-01", "as_of_month=2025-02"]
    # one run continuing from the state as of 2024-11 (written again: a run keeps what it writes)
    build_deliveries(home, ["2024-11"])
    assert build_deliveries(home, months[2:]).continued_from == "2024-11"
    resumed = written()
    counted = sum(r["undecided_over_deadline"] + r["late_decisions"] for rows in whole.values() for r in rows)
    # Not a vacuous comparison: with ten reports or more some are counted (each is with a chance of
    # well over half). A single report may legitimately count nowhere (hypothesis found seed 53, n 1:
    # received late in the last month and not yet over the deadline).
    assert counted > 0 or n < 10
    assert whole == continued == resumed


def test_a_rejected_update_of_a_known_report_is_counted_and_explained(home: Paths, key) -> None:
    """A later extract's row for a known report that is quarantined (here its decision, with an impossible
    date) leaves the report undecided: delivery monitoring and the file's feedback both say so."""
    import json

    from pipelines.stage2_pseudonymise.ingest import FEEDBACK_FOLDER

    write_semicolon(
        home.landing / "0180_2025-03.csv",
        [
            ["0180", "R1", dash12(KID), "2025-03-20", "POL", "V1", "ej_beslutat", "", ""],
            ["0180", "R2", dash12(OTHER), "2025-03-25", "SKO", "V2", "ej_beslutat", "", ""],
        ],
    )
    write_semicolon(
        home.landing / "0180_2025-04.csv",
        [
            ["0180", "R1", dash12(KID), "2025-03-20", "POL", "V1", "inleds", "2025-02-30", ""],  # rejected
            ["0180", "R2", dash12(OTHER), "2025-03-25", "SKO", "V2", "inleds", "2025-04-02", ""],
            ["0180", "R9", dash12(OTHER), "2025-04-03", "SKO", "Q7", "ej_beslutat", "", ""],  # new: not one
        ],
    )
    outcome = run_months("2025-03", "2025-04")
    assert outcome.success, outcome.errors
    march, april = _table(home, "deliveries", "2025-03"), _table(home, "deliveries", "2025-04")
    assert (march["0180"]["rejected_updates"], april["0180"]["rejected_updates"]) == (0, 1)
    assert april["0180"]["quarantined"] == 2 and april["0114"]["rejected_updates"] == 0
    feedback = json.loads(
        (home.extract_month("2025-04") / FEEDBACK_FOLDER / "0180_2025-04.csv.json").read_text("utf-8")
    )
    (consequence,) = feedback["consequences"]
    assert consequence["code"] == "uppdatering_avvisad" and consequence["rows"] == 1
    assert "ej beslutad" in consequence["text_sv"] and "undecided" in consequence["text_en"]
    # Rebuilt from the whole register (no carried state), the same.
    build_deliveries(home, ["2025-04"], carry=False)
    assert _table(home, "deliveries", "2025-04")["0180"]["rejected_updates"] == 1
