"""Stage 4: `rereported_children` and `decision_times` agree with a naive pandas computation.

Random registers over several extract months (reports arrive from late 2023 on, decisions come in later
extracts and are sometimes corrected), so that the event model, the lookback before the first year of
arrival and every as-of month are exercised against the plain definitions in statistics.yaml.
"""

from __future__ import annotations

import datetime as dt
import random
import shutil

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.core import db
from pipelines.core.files import STATISTICS_FILE
from pipelines.core.schemas import codes, statistics_spec
from pipelines.core.settings import Paths, paths
from pipelines.core.settings import settings as orostat_settings
from pipelines.stage3_register.register import REGISTER_FILE
from pipelines.stage4_statistics.compute import build_statistics
from tests.registers import register_table

MUNICIPALITIES = ["0114", "0180", "0380", "1280"]
AS_OF = ["2025-01", "2025-02", "2025-03"]
FIRST_DAY = dt.date(2023, 11, 1)  # before the first year the 2025 statistics cover (2024)
LAST_DAY = dt.date(2025, 3, 31)
LEVELS = {"kommun": "municipality_code", "lan": "county_code", "riket": None}


def _month(day: dt.date) -> str:
    return day.strftime("%Y-%m")


def _later_month(month: str, rng: random.Random) -> str:
    """The same or a later extract month, never after the last as-of month."""
    months = pd.period_range(month, AS_OF[-1], freq="M").strftime("%Y-%m").tolist()
    return rng.choice(months)


def _report(rng: random.Random, i: int, children: int) -> dict:
    identified = rng.random() > 0.15
    received = FIRST_DAY + dt.timedelta(days=rng.randrange((LAST_DAY - FIRST_DAY).days + 1))
    municipality = rng.choice(MUNICIPALITIES)
    return {
        "municipality_code": municipality,
        "county_code": municipality[:2],
        "report_id": f"R{i}",
        "child_pseudonym": f"p{rng.randrange(children)}" if identified else None,
        "child_identified": identified,
        "age_band": rng.choice(codes("age_bands")) if identified else None,
        "legal_sex": rng.choice(["1", "2"]) if identified else None,
        "date_received": received,
        "month_received": received.replace(day=1),
        "reporter_group": rng.choice(codes("reporter_groups")),
        "cause_groups": [rng.choice(codes("cause_groups"))],
    }


def _state(rng: random.Random, outcome: str) -> dict:
    decided = outcome in ("inleds", "inleds_ej")
    return {
        "outcome": outcome,
        "decided": decided,
        "days_to_decision": rng.randint(0, 40) if decided else None,
    }


def _history(seed: int, n: int) -> pd.DataFrame:
    """Entries: each report appears in the extract of its month of arrival (some later), undecided or decided; it may
    be decided in a later extract and its decision may be corrected later still (the −1 events)."""
    rng = random.Random(seed)
    children = max(2, n // 3)  # few children: many are reported more than once
    entries = []
    for i in range(n):
        report = _report(rng, i, children)
        month = _month(report["date_received"])
        if rng.random() < 0.15:  # registered late: first in a later extract (after later reports perhaps)
            month = _later_month(month, rng)
        first = rng.choice(["ej_beslutat", "inleds", "inleds_ej", "pagaende"])
        entries.append({**report, **_state(rng, first), "valid_from": month})
        if first == "ej_beslutat" and rng.random() < 0.7:
            month = _later_month(month, rng)
            entries.append(
                {**report, **_state(rng, rng.choice(["inleds", "inleds_ej"])), "valid_from": month}
            )
        if rng.random() < 0.15:  # a corrected decision in a later extract
            later = _later_month(month, rng)
            if later > month:
                entries.append(
                    {**report, **_state(rng, rng.choice(["inleds", "pagaende"])), "valid_from": later}
                )
    # An extract holds one row per report: a decision in the same extract replaces the undecided row.
    return pd.DataFrame(entries).drop_duplicates(["report_id", "valid_from"], keep="last")


def _write(home: Paths, entries: pd.DataFrame) -> None:
    shutil.rmtree(home.data, ignore_errors=True)  # hypothesis reuses the fixture across examples
    for month, part in entries.groupby("valid_from"):
        folder = home.register / f"extract_month={month}"
        folder.mkdir(parents=True, exist_ok=True)
        pq.write_table(register_table(part), folder / REGISTER_FILE)


def _as_of(entries: pd.DataFrame, month: str) -> pd.DataFrame:
    current = entries[entries.valid_from <= month].sort_values("valid_from", kind="stable")
    return current.groupby(["municipality_code", "report_id"]).tail(1)


def _read(home: Paths, name: str, month: str) -> pd.DataFrame:
    path = home.statistics / name / f"as_of_month={month}" / STATISTICS_FILE
    return db.table(f"SELECT * FROM read_parquet('{path}')").to_pandas()


def _in_window(state: pd.DataFrame, as_of: str) -> pd.DataFrame:
    """Reports whose year of arrival the as-of month's statistics cover, with both period columns."""
    earlier = int(orostat_settings()["statistics"]["earlier_years"])
    years = state.date_received.map(lambda d: d.year)
    covered = state[years >= int(as_of[:4]) - earlier]
    return covered.assign(
        month=covered.date_received.map(_month), year=covered.date_received.map(lambda d: str(d.year))
    )


def _groups(period_type: str, level: str) -> list[str]:
    key = LEVELS[level]
    return [period_type] + ([key] if key else [])


def _indexed(got: pd.DataFrame, period_type: str, level: str) -> pd.DataFrame:
    rows = got[(got.period_type == period_type) & (got.geo_level == level)]
    return rows.set_index(["period", "geo_code"] if LEVELS[level] else ["period"]).sort_index()


def _reported_again(state: pd.DataFrame) -> pd.Series:
    """Per report: does the register hold another report about the child received 1-365 days before?"""
    window = statistics_spec()["lookups"]["earlier_report_from"]
    known = state[state.child_pseudonym.notna()]
    pairs = known[["child_pseudonym", "date_received"]].merge(
        known[["child_pseudonym", "date_received"]], on="child_pseudonym", suffixes=("", "_earlier")
    )
    gap = pairs.date_received - pairs.date_received_earlier
    days = gap.map(lambda d: d.days)
    hits = pairs[(days >= window["min_days"]) & (days <= window["max_days"])]
    flagged = set(zip(hits.child_pseudonym, hits.date_received, strict=True))
    return pd.Series(
        [(c, d) in flagged for c, d in zip(state.child_pseudonym, state.date_received, strict=True)],
        index=state.index,
        dtype=bool,  # an empty object Series would select columns, not rows
    )


@pytest.fixture
def statistics_home(tmp_path, monkeypatch) -> Paths:
    monkeypatch.setenv("OROSTAT_HOME", str(tmp_path))
    return paths()


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 100_000), n=st.integers(1, 250))
def test_rereported_children_match_pandas(statistics_home: Paths, seed: int, n: int) -> None:
    entries = _history(seed, n)
    _write(statistics_home, entries)
    build_statistics(statistics_home, AS_OF, ["rereported_children"])
    for month in AS_OF:
        got = _read(statistics_home, "rereported_children", month)
        state = _as_of(entries, month)
        state = state.assign(again=_reported_again(state))  # over every report, also those before 2024
        identified = _in_window(state[state.child_identified], month)
        for period_type in ("month", "year"):
            for level in LEVELS:
                grouped = identified.groupby(_groups(period_type, level))
                rows = _indexed(got, period_type, level)
                children = grouped.child_pseudonym.nunique()
                again = (
                    identified[identified.again]
                    .groupby(_groups(period_type, level))
                    .child_pseudonym.nunique()
                )
                again = again.reindex(children.index, fill_value=0)
                assert rows.children.tolist() == children.tolist(), (month, period_type, level)
                assert rows.reports.tolist() == grouped.size().tolist()
                assert rows.children_reported_again.tolist() == again.tolist(), (month, period_type, level)
                share = np.floor(again / children * 10_000 + 0.5) / 10_000
                assert rows.share_reported_again.tolist() == pytest.approx(share.tolist())


def _nearest_rank(days: pd.Series, percent: int) -> float:
    return float(np.percentile(days, percent, method="inverted_cdf")) if len(days) else np.nan


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 100_000), n=st.integers(1, 250))
def test_decision_times_match_pandas(statistics_home: Paths, seed: int, n: int) -> None:
    entries = _history(seed, n)
    _write(statistics_home, entries)
    build_statistics(statistics_home, AS_OF, ["decision_times"])
    for month in AS_OF:
        got = _read(statistics_home, "decision_times", month)
        state = _in_window(_as_of(entries, month), month)
        for period_type in ("month", "year"):
            for level in LEVELS:
                grouped = state.groupby(_groups(period_type, level))
                rows = _indexed(got, period_type, level)
                assert rows.reports.tolist() == grouped.size().tolist(), (month, period_type, level)
                assert rows.decided.tolist() == grouped.decided.sum().tolist()
                decided = state[state.decided].groupby(_groups(period_type, level)).days_to_decision
                for column, percent in [("median_days_to_decision", 50), ("p90_days_to_decision", 90)]:
                    expected = decided.agg(lambda d, p=percent: _nearest_rank(d, p))
                    expected = expected.reindex(grouped.size().index)
                    # null exactly where nothing is decided; otherwise the nearest-rank percentile
                    assert rows[column].astype(float).fillna(-1).tolist() == expected.fillna(-1).tolist(), (
                        month,
                        period_type,
                        level,
                        column,
                    )


def test_percentile_is_an_observed_value_and_equals_quantile_disc(statistics_home: Paths) -> None:
    """An even count: the median is the lower middle value (nearest rank), as DuckDB's quantile_disc."""
    rng = random.Random(5)
    report = _report(rng, 0, 1) | {"municipality_code": "0180", "county_code": "01"}
    day = dt.date(2025, 2, 10)
    days = [3, 10, 11, 30]
    entries = pd.DataFrame(
        [
            report
            | {"report_id": f"R{i}", "date_received": day, "month_received": day.replace(day=1)}
            | {"outcome": "inleds", "decided": True, "days_to_decision": d, "valid_from": "2025-02"}
            for i, d in enumerate(days)
        ]
    )
    _write(statistics_home, entries)
    build_statistics(statistics_home, ["2025-02"], ["decision_times"])
    got = _read(statistics_home, "decision_times", "2025-02")
    riket = got[(got.geo_level == "riket") & (got.period_type == "month")].iloc[0]
    disc = db.rows(f"SELECT quantile_disc(d, 0.5), quantile_disc(d, 0.9) FROM unnest({days}) t(d)")[0]
    assert (riket.median_days_to_decision, riket.p90_days_to_decision) == disc == (10, 30)


def test_reported_again_looks_back_365_days_across_years_and_municipalities(statistics_home: Paths) -> None:
    """The earlier report may be in another municipality and in a year the statistics do not cover."""
    rng = random.Random(9)
    child = _report(rng, 0, 1) | {"child_pseudonym": "p0", "child_identified": True}

    def entry(i: int, municipality: str, day: dt.date) -> dict:
        return child | {
            "report_id": f"R{i}",
            "municipality_code": municipality,
            "county_code": municipality[:2],
            "date_received": day,
            "month_received": day.replace(day=1),
            "outcome": "ej_beslutat",
            "decided": False,
            "days_to_decision": None,
            "valid_from": _month(day),
        }

    entries = pd.DataFrame(
        [
            entry(0, "1280", dt.date(2023, 12, 20)),  # before 2024: outside every covered period
            entry(1, "0180", dt.date(2024, 12, 19)),  # 365 days later: reported again
            entry(2, "0180", dt.date(2024, 12, 19)),  # the same day as R1: not "again" by itself
            entry(3, "0114", dt.date(2025, 12, 20)),  # 366 days after R1: not again
        ]
    )
    entries = entries[entries.valid_from <= "2025-12"]
    _write(statistics_home, entries)
    build_statistics(statistics_home, ["2025-12"], ["rereported_children"])
    got = _read(statistics_home, "rereported_children", "2025-12")
    kommun = got[(got.period_type == "month") & (got.geo_level == "kommun")].set_index(["period", "geo_code"])
    assert kommun.loc[("2024-12", "0180"), ["children", "children_reported_again"]].tolist() == [1, 1]
    assert kommun.loc[("2025-12", "0114"), ["children", "children_reported_again"]].tolist() == [1, 0]
