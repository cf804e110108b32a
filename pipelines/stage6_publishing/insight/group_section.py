"""The comparison group on a municipality page (``reports/templates/_comparison_group.html``): the group's
name, the group's figure (the median of its members' published values), and the municipality's rank and
quartile among the 290 and its rank within its group, for the release's two years."""

from __future__ import annotations

from typing import Any

from pipelines.core.schemas import insight_spec
from pipelines.core.settings import paths
from pipelines.stage6_publishing.insight.groups import grouping
from pipelines.stage6_publishing.insight.ranks import Insight, Standing
from pipelines.stage6_publishing.page_cells import Cell, cell, period_label
from pipelines.stage6_publishing.release_tables import Release

HIDDEN = ".."


def report_insight(release: Release) -> Insight | None:
    """Ranks for the report, or None without groups (no population file and no operator file). A bad
    operator file stops the report with its one-line message rather than publish the wrong groups."""
    found = grouping(paths(), int(release.years[1]))
    return None if found is None else Insight(release, found)


def method_section() -> dict[str, str]:
    spec = insight_spec()["groups"]
    return {
        "heading": "Jämförelsegrupper",
        "text": " ".join(f"{spec['about_sv']} {spec['figure_sv']}".split()),
    }


def _of(rank: int | None, n: int) -> Cell:
    return Cell(f"{rank} av {n}") if rank is not None else Cell(HIDDEN)


def _row(standing: Standing, item: dict[str, Any], as_of: str) -> list[Any]:
    fmt = item["format"]
    value = cell(standing.value, "" if standing.value is not None else HIDDEN, fmt)
    median = cell(standing.group_median, "" if standing.group_median is not None else HIDDEN, fmt)
    quartile = Cell(str(standing.quartile)) if standing.quartile is not None else Cell(HIDDEN)
    return [
        item["sv"],
        period_label(standing.period, as_of),
        value,
        median,
        _of(standing.rank, standing.n),
        quartile,
        _of(standing.group_rank, standing.group_n),
    ]


def section(insight: Insight, municipality: str) -> dict[str, Any] | None:
    """The template's context for one municipality, or None when it has no group."""
    name = insight.grouping.name_of(municipality)
    if name is None:
        return None
    as_of = insight.release.manifest["as_of_month"]
    rows = [
        _row(insight.standing(municipality, code, period), item, as_of)
        for code, item in insight.indicators.items()
        for period in insight.release.years
    ]
    group = insight.grouping.group_of[municipality]
    return {
        "name": name,
        "source": insight.grouping.source,
        "size": len(insight.grouping.members(group)),
        "header": [
            "Mått",
            "Period",
            "Kommunen",
            "Gruppens median",
            "Rang bland kommunerna",
            "Kvartil",
            "Rang i gruppen",
        ],
        "rows": rows,
        "note": " ".join(f"{insight_spec()['groups']['figure_sv']}".split()),
    }
