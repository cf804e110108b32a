"""Comparison groups: which municipalities each municipality is compared with.

By default the child-population bands of ``schemas/insight.yaml`` (SKR's kommungruppsindelning is not
available offline): the population of 0–17-year-olds per municipality is SCB's public BE0101A, as stage 4
reads it (``4_statistics/population/``). An operator may supply another grouping as a CSV file
``kommunkod;grupp;gruppnamn`` (``settings.yaml`` insight.comparison_groups_file); it must name each of the
290 municipalities exactly once, and anything else is one line saying what is wrong.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from pipelines.core.schemas import code_table, insight_spec
from pipelines.core.settings import Paths, settings
from pipelines.stage4_statistics.population import POPULATION_DATA, TOTAL_SEX, output_folder


class GroupFileError(ValueError):
    """The operator's grouping file cannot be used; the message says why (one line)."""


@dataclass(frozen=True)
class Grouping:
    """kommunkod → group code, and group code → Swedish name; ``source`` says where it came from."""

    group_of: dict[str, str]
    names: dict[str, str]
    source: str

    def members(self, group: str) -> list[str]:
        return sorted(code for code, g in self.group_of.items() if g == group)

    def name_of(self, municipality: str) -> str | None:
        group = self.group_of.get(municipality)
        return None if group is None else self.names[group]


def _known_municipalities() -> list[str]:
    return code_table("municipalities").column("municipality_code").to_pylist()


def band(children: int) -> dict[str, Any]:
    """The size band (insight.yaml) of a municipality with this many children 0–17."""
    for item in insight_spec()["groups"]["bands"]:
        if item["below"] is None or children < item["below"]:
            return item
    raise ValueError("insight.yaml: the last band must be open (below: null)")


def from_population(children: dict[str, int], source: str = "SCB BE0101A") -> Grouping:
    """Groups by child-population band; municipalities without a population are not grouped."""
    bands = insight_spec()["groups"]["bands"]
    group_of = {code: band(int(n))["code"] for code, n in children.items()}
    return Grouping(group_of, {b["code"]: b["sv"] for b in bands}, source)


def population_children(paths: Paths, year: int) -> tuple[dict[str, int], int] | None:
    """Children 0–17 per municipality of ``year`` or the latest earlier year in stage 4's population
    output, and the year used; None without a population (no file supplied)."""
    path = output_folder(paths) / POPULATION_DATA
    if not path.is_file():
        return None
    frame = pd.read_parquet(path, columns=["year", "geo_level", "geo_code", "legal_sex", "children_0_17"])
    frame = frame[(frame.geo_level == "kommun") & (frame.legal_sex == TOTAL_SEX)]
    years = sorted(int(y) for y in frame.year.unique())
    usable = [y for y in years if y <= year] or years[:1]  # a release before the file's first year
    if not usable:
        return None
    chosen = usable[-1]
    rows = frame[frame.year == chosen]
    return dict(zip(rows.geo_code.astype(str), rows.children_0_17.astype(int), strict=True)), chosen


def operator_file(paths: Paths) -> Path | None:
    """The operator's grouping file from settings.yaml, relative to OROSTAT_HOME; None when not set."""
    setting = str((settings().get("insight") or {}).get("comparison_groups_file") or "").strip()
    if not setting:
        return None
    path = Path(setting)
    return path if path.is_absolute() else paths.home / path


def read_group_file(path: Path) -> Grouping:
    """The operator's grouping, validated: header, one row per municipality, known codes only."""
    spec = insight_spec()["groups"]["file"]
    if not path.is_file():
        raise GroupFileError(f"{path}: the comparison-group file does not exist")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise GroupFileError(f"{path.name}: not UTF-8 text") from None
    rows = list(csv.reader(io.StringIO(text), delimiter=spec["delimiter"]))
    rows = [r for r in rows if any(cell.strip() for cell in r)]
    expected = spec["header"]
    if not rows or [c.strip().lower() for c in rows[0]] != expected:
        found = spec["delimiter"].join(rows[0]) if rows else "(empty file)"
        raise GroupFileError(
            f"{path.name}: the header must be {spec['delimiter'].join(expected)}, not {found!r}"
        )
    group_of: dict[str, str] = {}
    names: dict[str, str] = {}
    duplicates: list[str] = []
    for number, row in enumerate(rows[1:], start=2):
        if len(row) != len(expected):
            raise GroupFileError(f"{path.name}, line {number}: {len(row)} fields, not {len(expected)}")
        code, group, name = (c.strip() for c in row)
        if not group or not name:
            raise GroupFileError(f"{path.name}, line {number}: the group or its name is empty")
        if names.setdefault(group, name) != name:
            raise GroupFileError(
                f"{path.name}, line {number}: group {group} is named both {names[group]!r} and {name!r}"
            )
        if code in group_of:
            duplicates.append(code)
        group_of[code] = group
    known = _known_municipalities()
    _check_codes(path.name, group_of, known, duplicates)
    return Grouping(group_of, names, f"{path.name} (operatörens indelning)")


def _examples(codes: list[str]) -> str:
    return ", ".join(codes[:5]) + (f" … ({len(codes)} in all)" if len(codes) > 5 else "")


def _check_codes(name: str, group_of: dict[str, str], known: list[str], duplicates: list[str]) -> None:
    if duplicates:
        raise GroupFileError(
            f"{name}: municipality codes listed more than once: {_examples(sorted(set(duplicates)))}"
        )
    unknown = sorted(set(group_of) - set(known))
    if unknown:
        raise GroupFileError(f"{name}: unknown municipality codes: {_examples(unknown)}")
    missing = sorted(set(known) - set(group_of))
    if missing:
        raise GroupFileError(f"{name}: municipalities without a group: {_examples(missing)}")


def grouping(paths: Paths, year: int) -> Grouping | None:
    """The operator's grouping if one is configured, else the population bands of ``year`` (or the latest
    earlier year); None when neither is available (no population file): pages then show no group."""
    path = operator_file(paths)
    if path is not None:
        return read_group_file(path)
    found = population_children(paths, year)
    if found is None:
        return None
    children, used = found
    return from_population(children, f"SCB BE0101A, barn 0–17 år {used}")
