"""Stage 4's feedback statistic (återkoppling) on a tiny hand-made register: counts, shares, how soon, and
missing (never 0) where the municipality's extracts lack the feedback column."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipelines.core import db
from pipelines.core.files import STATISTICS_FILE
from pipelines.core.settings import Paths, paths
from pipelines.stage3_register.register import REGISTER_FILE
from pipelines.stage4_statistics.compute import build_statistics
from tests.registers import professional_groups

MARCH = dt.date(2025, 3, 1)


def _entry(
    i: int, municipality: str, group: str, outcome: str, feedback_days: int | None, delivered: bool
) -> dict:
    decided = outcome in ("inleds", "inleds_ej")
    received = dt.date(2025, 3, 3)
    decision = received + dt.timedelta(days=5) if decided else None
    feedback = decision + dt.timedelta(days=feedback_days) if feedback_days is not None else None
    return {
        "municipality_code": municipality,
        "county_code": municipality[:2],
        "report_id": f"R{i}",
        "child_pseudonym": f"p{i}",
        "child_identified": True,
        "age_band": "6_12",
        "legal_sex": "1",
        "month_received": MARCH,
        "date_received": received,
        "reporter_group": group,
        "cause_groups": ["V"],
        "outcome": outcome,
        "decided": decided,
        "days_to_decision": 5 if decided else None,
        "professional_reporter": group in professional_groups(),
        "feedback_delivered": delivered,
        "feedback_date": feedback,
        "days_decision_to_feedback": feedback_days,
        "valid_from": "2025-03",
    }


@pytest.fixture
def stats(tmp_path, monkeypatch) -> pd.DataFrame:
    monkeypatch.setenv("OROSTAT_HOME", str(tmp_path))
    home: Paths = paths()
    rows = [
        # Stockholm (0180) reports feedback: 4 decided from school, feedback after 2, 10 and 30 days, one none.
        _entry(1, "0180", "skola", "inleds", 2, True),
        _entry(2, "0180", "skola", "inleds_ej", 10, True),
        _entry(3, "0180", "skola", "inleds", 30, True),
        _entry(4, "0180", "skola", "inleds_ej", None, True),
        _entry(5, "0180", "skola", "ej_beslutat", None, True),  # not decided: outside the base
        _entry(6, "0180", "privatperson", "inleds", 1, True),  # not a professional reporter: not counted
        # Södertälje (0181, same county) lacks the column: 2 decided school reports, feedback unknown.
        _entry(7, "0181", "skola", "inleds", None, False),
        _entry(8, "0181", "skola", "inleds_ej", None, False),
        # Malmö (1280) reports it: one decided police report, feedback the same day.
        _entry(9, "1280", "polis", "inleds", 0, True),
    ]
    folder = home.register / "extract_month=2025-03"
    folder.mkdir(parents=True)
    frame = pd.DataFrame(rows).astype({"days_decision_to_feedback": "Int64"})
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), folder / REGISTER_FILE)
    build_statistics(home, ["2025-03"], ["professional_feedback"])
    path = home.statistics / "professional_feedback" / "as_of_month=2025-03" / STATISTICS_FILE
    out = db.table(f"SELECT * FROM read_parquet('{path}') WHERE period_type = 'month'").to_pandas()
    return out.set_index(["geo_level", "geo_code", "reporter_group"])


def test_counts_shares_and_days_where_the_municipality_reports_feedback(stats: pd.DataFrame) -> None:
    school = stats.loc[("kommun", "0180", "skola")]
    assert (school.reports, school.decided, school.decided_reported) == (5, 4, 4)
    assert (school.feedback_given, school.feedback_within_7, school.feedback_within_14) == (3, 1, 2)
    assert school.share_feedback_given == 0.75
    assert school.median_days_to_feedback == 10
    assert school.municipalities_reporting == 1
    # Only the professional groups are in the table.
    assert set(stats.index.get_level_values("reporter_group")) == professional_groups()


def test_a_municipality_without_the_column_is_missing_not_zero(stats: pd.DataFrame) -> None:
    school = stats.loc[("kommun", "0181", "skola")]
    assert (school.reports, school.decided) == (2, 2)
    for measure in ("decided_reported", "feedback_given", "feedback_within_7", "share_feedback_given"):
        assert pd.isna(school[measure]), measure
    assert school.municipalities_reporting == 0


def test_county_and_national_shares_cover_only_the_municipalities_that_report(stats: pd.DataFrame) -> None:
    county = stats.loc[("lan", "01", "skola")]
    # Stockholm county: 6 decided school reports, but the share is over Stockholm's 4 alone.
    assert (county.decided, county.decided_reported, county.feedback_given) == (6, 4, 3)
    assert county.share_feedback_given == 0.75
    assert county.municipalities_reporting == 1
    national = stats.loc[("riket", "00", "polis")]
    assert (national.decided_reported, national.feedback_given, national.share_feedback_given) == (1, 1, 1.0)
    assert stats.loc[("riket", "00", "skola")].municipalities_reporting == 2
    # A group nobody reported from: 0 decided, share not applicable (null), counts 0, not missing.
    police_county = stats.loc[("lan", "01", "polis")]
    assert (police_county.decided, police_county.feedback_given) == (0, 0)
    assert pd.isna(police_county.share_feedback_given)


ADDED = ["professional_reporter", "feedback_delivered", "feedback_date", "days_decision_to_feedback"]


def _write(home: Paths, month: str, rows: list[dict], before_v2: bool) -> None:
    frame = pd.DataFrame([r | {"valid_from": month} for r in rows]).astype(
        {"days_decision_to_feedback": "Int64"}
    )
    if before_v2:  # as an orostat from before contract v2 wrote it
        frame = frame.drop(columns=ADDED)
    folder = home.register / f"extract_month={month}"
    folder.mkdir(parents=True)
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), folder / REGISTER_FILE)


def _school(home: Paths, month: str) -> pd.Series:
    path = home.statistics / "professional_feedback" / f"as_of_month={month}" / STATISTICS_FILE
    out = db.table(f"SELECT * FROM read_parquet('{path}') WHERE period_type = 'year'").to_pandas()
    return out.set_index(["geo_level", "geo_code", "reporter_group"]).loc[("kommun", "0180", "skola")]


def test_a_register_written_before_contract_v2_needs_no_reload(tmp_path, monkeypatch) -> None:
    """An upgrade: the months loaded before the feedback columns existed read as 'feedback unknown', alone
    and beside months loaded after, and every statistic still builds."""
    monkeypatch.setenv("OROSTAT_HOME", str(tmp_path))
    home: Paths = paths()
    old = [_entry(i, "0180", "skola", "inleds", 3, True) for i in range(1, 4)]
    _write(home, "2025-03", old, before_v2=True)
    build_statistics(home, ["2025-03"])  # every statistic, from old files alone
    before = _school(home, "2025-03")
    assert (before.decided, before.municipalities_reporting) == (3, 0)
    assert pd.isna(before.share_feedback_given)  # unknown, not 0
    new = [_entry(i, "0180", "skola", "inleds", 3, True) for i in range(10, 12)]
    _write(home, "2025-04", [r | {"month_received": dt.date(2025, 4, 1)} for r in new], before_v2=False)
    build_statistics(home, ["2025-04"])
    after = _school(home, "2025-04")
    # the year so far: 5 decided, of which the 2 loaded after the upgrade report feedback (both given)
    assert (after.decided, after.decided_reported, after.feedback_given) == (5, 2, 2)
    assert after.municipalities_reporting == 1
