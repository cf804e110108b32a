"""Ranks among the municipalities and within groups, from published values only."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.core.settings import Paths
from pipelines.stage6_publishing.insight.groups import Grouping
from pipelines.stage6_publishing.insight.ranks import (
    Insight,
    group_medians,
    group_ranks,
    published_values,
    rank,
)
from pipelines.stage6_publishing.release_tables import Release
from tests.insight.published import AS_OF, RATE, write_release


def test_ties_share_the_lowest_rank_and_hidden_values_are_not_ranked():
    values = pd.Series({"a": 5.0, "b": 7.0, "c": 7.0, "d": math.nan, "e": 1.0})
    out = rank(values)
    assert out.loc[["a", "b", "c", "e"], "rank"].tolist() == [3, 1, 1, 4]
    assert pd.isna(out.loc["d", "rank"]) and pd.isna(out.loc["d", "quartile"])
    assert (out["n"].dropna() == 4).all()
    assert out.loc[["b", "c", "a", "e"], "quartile"].tolist() == [1, 1, 3, 4]


@settings(deadline=None, max_examples=60)  # pandas per example; the machine is shared
@given(st.lists(st.one_of(st.none(), st.integers(0, 5)), min_size=1, max_size=60))
def test_rank_properties(raw: list[int | None]):
    values = pd.Series(
        [np.nan if v is None else float(v) for v in raw], index=[f"k{i}" for i in range(len(raw))]
    )
    out = rank(values)
    shown = values.dropna()
    assert out["rank"].isna().equals(values.isna())
    for code, value in shown.items():
        # the rank is one more than the number of strictly higher values; equal values share it
        assert out.loc[code, "rank"] == 1 + int((shown > value).sum())
        assert 1 <= out.loc[code, "quartile"] <= 4
    if len(shown):
        best = shown.idxmax()
        assert out.loc[best, "rank"] == 1 and out.loc[best, "quartile"] == 1
        ordered = out.dropna().sort_values("rank")
        assert ordered["quartile"].is_monotonic_increasing


def test_group_ranks_and_medians_ignore_hidden_members():
    values = pd.Series({"a": 1.0, "b": 3.0, "c": math.nan, "d": 10.0, "e": 2.0})
    grouping = Grouping(
        {"a": "1", "b": "1", "c": "1", "d": "2", "e": "2"}, {"1": "Små", "2": "Stora"}, "test"
    )
    inner = group_ranks(values, grouping)
    assert inner.loc["b", "rank"] == 1 and inner.loc["a", "rank"] == 2 and inner.loc["a", "n"] == 2
    assert pd.isna(inner.loc["c", "rank"])
    assert inner.loc["d", "rank"] == 1 and inner.loc["e", "rank"] == 2
    assert group_medians(values, grouping) == {"1": 2.0, "2": 6.0}


def test_standings_come_from_the_published_table(home: Paths):
    write_release(home)
    release = Release(home.protected / f"release={AS_OF}")
    frame = release.tables["rates"]
    # a yearly cell per municipality, 0114 suppressed in 2025: it must not be ranked
    yearly = (
        frame.assign(period=frame.period.str[:4], period_type="year")
        .groupby(["period_type", "period", "geo_level", "geo_code", "rate"], as_index=False)["value"]
        .mean()
    )
    yearly["status"] = ""
    yearly.loc[(yearly.geo_code == "0114") & (yearly.period == "2025"), ["value", "status"]] = [None, ".."]
    pd.concat([frame, yearly]).to_parquet(release.folder / "rates.parquet")
    release = Release(release.folder)
    values = published_values(release.tables["rates"], {"rate": RATE}, "2025")
    assert len(values) == 290 and values.isna().sum() == 1
    grouping = Grouping({c: "1" if c < "1500" else "2" for c in values.index}, {"1": "A", "2": "B"}, "t")
    insight = Insight(release, grouping)
    assert set(insight.indicators) == {"investigation_rate"}
    top = values.idxmax()
    standing = insight.standing(top, "investigation_rate", "2025")
    assert standing.rank == 1 and standing.n == 289 and standing.quartile == 1
    assert (
        standing.group_median
        == values[[c for c in values.index if grouping.group_of[c] == grouping.group_of[top]]].median()
    )
    suppressed = insight.standing("0114", "investigation_rate", "2025")
    assert suppressed.value is None and suppressed.rank is None and suppressed.quartile is None
    assert insight.standing("0114", "investigation_rate", "2024").rank is not None
