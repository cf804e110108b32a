"""A protected release as stage 6 reads it: its tables, its manifest, and figures formatted the Swedish way.

Stage 6 reads nothing but ``5_protected/release=YYYY-MM/``: every figure it shows has passed disclosure
control, and a suppressed one stays a symbol (``..``) wherever it goes.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd

from pipelines.core.schemas import publishing_spec, release_spec
from pipelines.core.settings import Paths

MANIFEST = "manifest.json"
INTERNAL_FILES = {"cells.parquet"}  # which cells were hidden: for the next release, not for readers
NBSP = "\u00a0"
# A boolean column stage 5 may add to a table: true where the figure will still change (undecided reports).
PRELIMINARY = "preliminary"


def published_folder(home: Paths, release: str) -> Path:
    return home.published / f"release={release}"


def table_order() -> list[str]:
    """Counted tables (release.yaml) then derived ones, in the order the spec declares them."""
    return [*release_spec()["tables"], *publishing_spec()["derived_tables"]]


@dataclass
class Release:
    """The files of one protected release, read lazily."""

    folder: Path
    # cells of a table by the columns looked up: 290 municipality pages look up thousands of them
    _indexes: dict = field(default_factory=dict, init=False, repr=False)

    @cached_property
    def manifest(self) -> dict[str, Any]:
        return json.loads((self.folder / MANIFEST).read_text("utf-8"))

    @property
    def release(self) -> str:
        return self.manifest["release"]

    @property
    def synthetic(self) -> bool:
        return "SYNTET" in str(self.manifest.get("data", "")).upper()

    @cached_property
    def tables(self) -> dict[str, pd.DataFrame]:
        """Every published table of the release that exists (population rates are absent without SCB data)."""
        found = {}
        for name in table_order():
            path = self.folder / f"{name}.parquet"
            if path.exists():
                found[name] = pd.read_parquet(path)
        return found

    def files(self) -> list[Path]:
        """The release's publishable files: tables (Parquet, CSV), audit and manifest."""
        return sorted(p for p in self.folder.iterdir() if p.is_file() and p.name not in INTERNAL_FILES)

    @cached_property
    def years(self) -> tuple[str, str]:
        """(last full year, current year to date)."""
        current = self.manifest["as_of_month"][:4]
        return str(int(current) - 1), current

    def cell(self, table: str, where: dict[str, str], geo_code: str, period: str) -> tuple[Any, str]:
        """(value, status) of one published cell; ('-' missing) where the release has no such cell."""
        if table not in self.tables:
            return None, "-"
        columns = (*sorted(where), "geo_code", "period")
        key = (*(str(where[c]) for c in sorted(where)), geo_code, period)
        return self._index(table, columns).get(key, (None, "-"))

    def preliminary(self, table: str, where: dict[str, str], geo_code: str, period: str) -> bool:
        """Whether a cell will still change (the release's ``preliminary`` column; False without one)."""
        if table not in self.tables or PRELIMINARY not in self.tables[table].columns:
            return False
        columns = (*sorted(where), "geo_code", "period")
        key = (*(str(where[c]) for c in sorted(where)), geo_code, period)
        return self._index(table, columns, PRELIMINARY).get(key, (False, ""))[0] is True

    def _index(
        self, table: str, columns: tuple[str, ...], value: str = "value"
    ) -> dict[tuple[str, ...], tuple[Any, str]]:
        """Cells of a table by the given columns, built once per table and columns."""
        cache = self._indexes
        if (table, columns, value) not in cache:
            frame = self.tables[table]
            keys = zip(*(frame[c].astype(str) for c in columns), strict=True)
            values = [None if pd.isna(v) else v for v in frame[value]]
            if value == PRELIMINARY:
                values = [bool(v) for v in values]
            cache[(table, columns, value)] = dict(
                zip(keys, zip(values, frame["status"].fillna("").astype(str), strict=True), strict=True)
            )
        return cache[(table, columns, value)]

    def series(self, table: str, where: dict[str, str], geo_code: str, period_type: str) -> pd.DataFrame:
        """Rows of one figure over the periods of a type, in period order (period, value, status,
        preliminary: False where the release has no such column)."""
        frame = self.tables[table]
        rows = _select(frame, where | {"geo_code": geo_code, "period_type": period_type})
        rows = rows.sort_values("period").reset_index(drop=True)
        flags = rows[PRELIMINARY].fillna(False).astype(bool) if PRELIMINARY in rows else False
        return rows[["period", "value", "status"]].assign(preliminary=flags)


def _select(frame: pd.DataFrame, where: dict[str, str]) -> pd.DataFrame:
    mask = pd.Series(True, index=frame.index)
    for column, wanted in where.items():
        mask &= frame[column].astype(str) == str(wanted)
    return frame[mask]


def formatted(value: Any, status: str, fmt: str) -> str:
    """A figure as the report shows it: Swedish digits, or its symbol where it is not published."""
    if status:
        return status
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    spec = publishing_spec()["formats"][fmt]
    number = float(value) * spec.get("scale", 1)
    text = f"{number:,.{spec['decimals']}f}".replace(",", NBSP).replace(".", ",")
    return text + spec.get("suffix", "").replace(" ", NBSP)


def symbols() -> dict[str, str]:
    return {symbol: text["sv"] for symbol, text in publishing_spec()["symbols"].items()}
