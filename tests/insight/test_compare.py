"""`compare`: the difference-in-differences recovers a planted effect, covers 0 without one, and refuses
what it cannot estimate honestly."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipelines.core.settings import Paths
from pipelines.stage6_publishing.insight import compare, explain
from pipelines.stage6_publishing.insight.compare import CompareRefused, did
from pipelines.stage6_publishing.insight.groups import grouping
from pipelines.stage6_publishing.release_tables import Release
from tests.insight.published import MONTHS, write_monthly_releases

YEARS3 = [f"{y}-{m:02d}" for y in (2023, 2024, 2025) for m in range(1, 13)]


def _panel(effect: float, seed: int, start: str = "2024-09", months: list[str] = MONTHS) -> pd.DataFrame:
    """A municipality and its group: shared seasonality and trend, AR(1) noise in the gap."""
    rng = np.random.default_rng(seed)
    t = np.arange(len(months))
    common = 10 + 2 * np.sin(t / 12 * 2 * np.pi) + 0.05 * t
    gap, shock = [], 0.0
    for _ in months:
        shock = 0.4 * shock + rng.normal(0, 0.5)
        gap.append(shock)
    post = np.array([m >= start for m in months])
    own = common + 1.5 + np.array(gap) + effect * post
    group = common + rng.normal(0, 0.1, len(months))
    return pd.DataFrame({"kommun": own, "group": group, "group_n": 20}, index=pd.Index(months))


@pytest.mark.parametrize("seed", range(5))
def test_a_planted_effect_is_inside_the_interval_and_zero_is_not(seed: int):
    result = did(_panel(3.0, seed), "2024-09")
    assert result.low <= 3.0 <= result.high
    assert not result.covers_zero
    assert result.months_before == 8 and result.months_after == 16


@pytest.mark.parametrize("seed", range(5))
def test_without_an_effect_the_interval_covers_zero(seed: int):
    assert did(_panel(0.0, seed), "2024-09").covers_zero


@pytest.mark.parametrize("months", [MONTHS, YEARS3], ids=["two years", "three years"])
def test_the_interval_covers_the_truth_nearly_as_often_as_it_says(months: list[str]):
    # measured: 90 % (two years, no calendar-month effects) and 89 % (three years, with them)
    hits = [
        (r := did(_panel(1.0, seed, months=months), "2024-09")).low <= 1.0 <= r.high for seed in range(300)
    ]
    assert 0.85 <= np.mean(hits) <= 0.99


def test_seasonality_of_the_municipality_alone_is_removed_by_calendar_month_effects():
    panel = _panel(0.0, 3, start="2025-03", months=YEARS3)
    months = np.array([int(m[5:]) for m in panel.index])
    # an autumn peak only this municipality has; the 'after' months hold fewer autumns than the 'before'
    autumn = np.where(np.isin(months, [9, 10, 11]), 4.0, 0.0)
    panel["kommun"] += autumn
    assert did(panel, "2025-03").seasonal and did(panel, "2025-03").covers_zero
    # with two years calendar-month effects would leave too few degrees of freedom: not used
    assert not did(_panel(0.0, 3), "2024-09").seasonal


def test_refusals():
    panel = _panel(0.0, 1)
    with pytest.raises(CompareRefused, match="utanför"):
        did(panel, "2026-03")
    with pytest.raises(CompareRefused, match="utanför"):
        did(panel, MONTHS[0])
    with pytest.raises(CompareRefused, match="5 före"):
        did(panel, "2024-06")
    with pytest.raises(CompareRefused, match="2 från och med"):
        did(panel, "2025-11")
    hidden = panel.copy()
    hidden.loc[hidden.index[:8], "kommun"] = np.nan
    with pytest.raises(CompareRefused, match="8 av 24 månader"):
        did(hidden, "2025-01")
    few = panel.assign(group_n=2)
    with pytest.raises(CompareRefused, match="saknar publicerat värde"):
        did(few, "2025-01")


def _releases(home: Paths) -> dict[str, Release]:
    return {m: Release(home.protected / f"release={m}") for m in MONTHS}


def test_months_are_differences_of_published_year_to_date_figures(home: Paths):
    write_monthly_releases(home, hidden={"0180": ["2024-03"]})
    values = compare.monthly_values(_releases(home), compare.settings()["indicators"]["reports"])
    assert list(values.index) == MONTHS
    ytd = {
        m: Release(home.protected / f"release={m}").tables["outcomes"].set_index("geo_code").value
        for m in MONTHS
    }
    assert values.loc["2024-01", "0114"] == pytest.approx(ytd["2024-01"]["0114"])
    assert values.loc["2024-05", "0114"] == pytest.approx(ytd["2024-05"]["0114"] - ytd["2024-04"]["0114"])
    assert values.loc["2025-01", "0114"] == pytest.approx(ytd["2025-01"]["0114"])  # a new year starts over
    # a hidden year to date hides both months it is a difference for
    assert np.isnan(values.loc["2024-03", "0180"]) and np.isnan(values.loc["2024-04", "0180"])
    assert not np.isnan(values.loc["2024-05", "0180"])


def test_a_missing_release_leaves_its_months_out(home: Paths):
    write_monthly_releases(home)
    releases = _releases(home)
    del releases["2024-06"]
    values = compare.monthly_values(releases, compare.settings()["indicators"]["reports"])
    assert "2024-06" not in values.index and "2024-07" not in values.index and "2024-08" in values.index


@pytest.mark.parametrize(("effect", "covers_zero"), [(1.0, False), (0.0, True)])
def test_end_to_end_on_published_releases(home: Paths, effect: float, covers_zero: bool):
    write_monthly_releases(home, effect=effect, treated="2401", start="2024-09")
    groups = grouping(home, 2025)
    assert groups is not None
    found = explain.run(_releases(home), groups, "2401", "Nordmaling", "reports_per_1000", "2024-09")
    assert found.result.low <= effect <= found.result.high
    assert found.result.covers_zero is covers_zero
    text = explain.text(found)
    assert "Nordmaling (2401)" in text and "konfidensintervall" in text and "inte ett bevis" in text
    assert ("ingen säker skillnad" in text) is covers_zero
    svg = explain.chart(found)
    assert svg.startswith("<svg") and "från 2024-09" in svg and svg.endswith("</svg>")


def test_a_gap_already_drifting_before_the_start_is_warned_about():
    panel = _panel(0.0, 1, start="2025-01", months=YEARS3)
    drift = np.arange(len(panel)) * 0.15  # the municipality moves away from its group from the first month
    drifting = panel.assign(kommun=panel.kommun + drift)
    warned = did(drifting, "2025-01")
    assert warned.diverged_before and warned.pre_trend[1] > 0
    assert "redan före startmånaden" in " ".join(explain.caveats(_comparison(drifting, warned)))


@pytest.mark.parametrize("seed", range(5))
def test_parallel_series_get_no_pre_trend_warning(seed: int):
    result = did(_panel(2.0, seed, start="2025-01", months=YEARS3), "2025-01")
    assert result.pre_trend is not None and not result.diverged_before


def test_too_few_months_before_for_a_trend_say_nothing_about_it():
    result = did(_panel(0.0, 0), "2024-09")  # eight months before: enough to estimate, too few for a trend
    assert result.pre_trend is None and not result.diverged_before


def _comparison(frame: pd.DataFrame, result: compare.Estimate) -> explain.Comparison:
    item = compare.settings()["indicators"]["reports"]
    return explain.Comparison("0114", "Upplands Väsby", "reports", item, "Grupp", 9, frame, "2025-01", result)
