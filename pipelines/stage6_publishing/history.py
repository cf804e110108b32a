"""A figure over every loaded year: the release's own two years, and earlier years from earlier releases.

A release publishes the year to date and the last full year. A year before those is read from the December
release of the year after it, where it is the last full year and final as of that extract (a protected
release in ``5_protected/``, like the one being published, audited together with it by the cell-key audit).
Earlier years stop at the first year without such a release, with one that cannot be read, or without any data, or after
``report.history_years`` years in all. Each year says which release it comes from.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import pandas as pd

from pipelines.core.schemas import publishing_spec
from pipelines.stage6_publishing.release_tables import Release


@dataclass
class History:
    release: Release

    @cached_property
    def earlier(self) -> dict[str, Release]:
        """Year -> the release that holds it as its last full year, oldest first."""
        found: dict[str, Release] = {}
        first = int(self.release.years[0])
        for year in range(first - 1, first - publishing_spec()["report"]["history_years"] + 1, -1):
            folder = self.release.folder.parent / f"release={year + 1}-12"
            if not (folder / "manifest.json").exists():
                break
            older = Release(folder)
            try:
                value, status = older.cell("outcomes", {"outcome": "total"}, "00", str(year))
            except (OSError, ValueError, KeyError):
                break  # an unreadable earlier release (damaged by hand): the pages show what is sound
            if value is None and status == "-":
                break  # nothing loaded for that year
            found[str(year)] = older
        return dict(sorted(found.items()))

    @property
    def years(self) -> list[str]:
        """Every year shown, oldest first."""
        return [*self.earlier, *self.release.years]

    def source(self, year: str) -> Release:
        return self.earlier.get(year, self.release)

    def cell(self, table: str, where: dict[str, str], geo: str, year: str) -> tuple[Any, str, bool]:
        """(value, status, preliminary) of a figure for one year, from the release that holds it."""
        release = self.source(year)
        value, status = release.cell(table, where, geo, year)
        return value, status, release.preliminary(table, where, geo, year)

    def series(self, table: str, where: dict[str, str], geo: str, period_type: str) -> pd.DataFrame:
        """Months or quarters of every year shown (period, value, status, preliminary), oldest first."""
        parts = []
        for year, release in self.earlier.items():
            if table in release.tables:
                frame = release.series(table, where, geo, period_type)
                parts.append(frame[frame.period.str[:4] == year])
        parts.append(self.release.series(table, where, geo, period_type))
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
