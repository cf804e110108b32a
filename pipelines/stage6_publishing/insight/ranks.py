"""Ranks and quartiles among the 290 municipalities, ranks within the comparison group, and the group's
figure: all from the published (protected) municipal values of a release, so nothing here reveals more
than the release already does. A suppressed or missing value is not ranked (and not counted in n).

The group's figure is the median of its members' published values, not a new aggregate: a group total
would be a new geography for disclosure control (differences with county and national totals), which
stage 5 does not audit; a median of published values adds no information about any child.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import pandas as pd

from pipelines.core.schemas import insight_spec
from pipelines.stage6_publishing.insight.groups import Grouping
from pipelines.stage6_publishing.release_tables import Release

KOMMUN = "kommun"


def indicators(release: Release) -> dict[str, dict[str, Any]]:
    """The indicators of insight.yaml with published municipality values in this release (percentiles are
    hidden for every municipality, share reported again is not published per municipality: left out)."""
    found = {}
    for code, item in insight_spec()["indicators"].items():
        frame = release.tables.get(item["table"])
        if frame is None:
            continue
        rows = _where(frame, item["where"])
        published = (rows.geo_level == KOMMUN) & (rows.status.fillna("").astype(str) == "")
        if published.any():
            found[code] = item
    return found


def _where(frame: pd.DataFrame, where: dict[str, str]) -> pd.DataFrame:
    mask = pd.Series(True, index=frame.index)
    for column, wanted in where.items():
        mask &= frame[column].astype(str) == str(wanted)
    return frame[mask]


def published_values(frame: pd.DataFrame, where: dict[str, str], period: str) -> pd.Series:
    """kommunkod → published value of one period; NaN where suppressed, missing or not applicable."""
    rows = _where(frame, where)
    rows = rows[(rows.geo_level == KOMMUN) & (rows.period.astype(str) == period)]
    hidden = rows.status.fillna("").astype(str) != ""
    values = pd.to_numeric(rows.value, errors="coerce").where(~hidden.to_numpy())
    return pd.Series(values.to_numpy(dtype=float), index=rows.geo_code.astype(str).to_numpy()).sort_index()


def rank(values: pd.Series) -> pd.DataFrame:
    """Rank (1 = highest; ties share the lowest rank of their block: 1, 2, 2, 4), the number ranked and
    the quartile (1 = the quarter with the highest values) of every published value; NaN not ranked."""
    shown = values.dropna()
    ranks = shown.rank(method="min", ascending=False).astype(int)
    n = len(shown)
    quartile = ranks.map(lambda r: 1 + (4 * (r - 1)) // n)
    out = pd.DataFrame({"rank": ranks, "n": n, "quartile": quartile})
    return out.reindex(values.index)


def group_ranks(values: pd.Series, grouping: Grouping) -> pd.DataFrame:
    """Rank and number ranked within each municipality's comparison group."""
    groups = pd.Series({code: grouping.group_of.get(code) for code in values.index}, dtype=object)
    parts = [rank(values[groups == g])[["rank", "n"]] for g in groups.dropna().unique()]
    frame = pd.concat(parts) if parts else pd.DataFrame(columns=["rank", "n"])
    return frame.reindex(values.index)


def group_medians(values: pd.Series, grouping: Grouping) -> dict[str, float | None]:
    """Group code → median of its members' published values (None where none is published)."""
    out: dict[str, float | None] = {}
    for group in grouping.names:
        member_values = values.reindex(grouping.members(group)).dropna()
        out[group] = float(member_values.median()) if len(member_values) else None
    return out


@dataclass(frozen=True)
class Standing:
    """One municipality's place on one indicator in one period."""

    indicator: str
    period: str
    value: float | None
    rank: int | None
    n: int
    quartile: int | None
    group_rank: int | None
    group_n: int
    group_median: float | None


def _int(value: Any) -> int | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else int(value)


@dataclass
class Insight:
    """Ranks of every municipality on every indicator for the release's years, computed once per release
    (a report writes 290 pages)."""

    release: Release
    grouping: Grouping

    @cached_property
    def indicators(self) -> dict[str, dict[str, Any]]:
        return indicators(self.release)

    @cached_property
    def _standings(self) -> dict[tuple[str, str, str], Standing]:
        """(kommunkod, indicator, period) → standing, for every municipality with a published cell."""
        found = {}
        for code, item in self.indicators.items():
            for period in self.release.years:
                values = published_values(self.release.tables[item["table"]], item["where"], period)
                overall, within = rank(values), group_ranks(values, self.grouping)
                medians = group_medians(values, self.grouping)
                published = {g: int(values.reindex(self.grouping.members(g)).notna().sum()) for g in medians}
                for municipality, value in values.items():
                    group = self.grouping.group_of.get(municipality)
                    found[(municipality, code, period)] = Standing(
                        code,
                        period,
                        None if math.isnan(value) else float(value),
                        _int(overall.at[municipality, "rank"]),
                        int(values.notna().sum()),
                        _int(overall.at[municipality, "quartile"]),
                        _int(within.at[municipality, "rank"]),
                        published.get(group, 0) if group else 0,
                        medians.get(group) if group else None,
                    )
        return found

    def standing(self, municipality: str, indicator: str, period: str) -> Standing:
        """A municipality's place; one without a cell in the release is not ranked."""
        empty = Standing(indicator, period, None, None, 0, None, None, 0, None)
        return self._standings.get((municipality, indicator, period), empty)
