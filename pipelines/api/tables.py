"""A published table as the API shows it: its dimensions, their codes in order, labels in Swedish and English.

Dimensions are the release's own columns: ``geo_code``, the table's dimensions (``outcome``, ``rate``, …) and
``period`` (``geo_level`` and ``period_type`` follow from them). Codes are those the release has, ordered as
the spec declares them; labels come from release.yaml, publishing.yaml, the code lists and the release.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from pipelines.api.spec import api_spec
from pipelines.core.schemas import code_table, publishing_spec, release_spec

GEO, PERIOD = "geo_code", "period"
LEVELS = ("riket", "lan", "kommun")
PERIOD_TYPES = ("month", "quarter", "year")


@dataclass
class Dimension:
    code: str
    label: dict[str, str]
    codes: list[str]
    labels: dict[str, dict[str, str]]  # language -> code -> label
    elimination: str | None = None  # the code a request that leaves the variable out gets
    codelists: list[str] = field(default_factory=list)
    units: dict[str, dict[str, Any]] = field(default_factory=dict)  # language -> code -> JSON-stat unit


@dataclass
class Table:
    id: str
    title: dict[str, str]
    notes: dict[str, list[str]]
    dimensions: list[Dimension]
    rows: pa.Table  # the release's Parquet, as published
    positions: dict[str, np.ndarray]  # per dimension: each row's index in Dimension.codes
    values: np.ndarray  # Python numbers or None (exactly the Parquet's values), one per row
    statuses: np.ndarray  # the release's status of each row ("" where published)

    def dimension(self, code: str) -> Dimension | None:
        return next((d for d in self.dimensions if d.code == code), None)

    @property
    def metric(self) -> str | None:
        return next((d.code for d in self.dimensions if d.units), None)


def build_table(name: str, rows: pa.Table) -> Table:
    frame = rows.select([c for c in rows.column_names if c != "value"]).to_pandas()
    dims = [_geo(frame), *_own_dimensions(name, frame), _period(frame)]
    positions = {
        d.code: pd.Categorical(frame[d.code], categories=d.codes).codes.astype(np.int64) for d in dims
    }
    values = np.empty(rows.num_rows, dtype=object)
    values[:] = rows.column("value").to_pylist()
    return Table(
        id=name,
        title=_title(name),
        notes=_notes(name),
        dimensions=dims,
        rows=rows,
        positions=positions,
        values=values,
        statuses=frame["status"].fillna("").to_numpy(dtype=object),
    )


def _spec(name: str) -> dict[str, Any]:
    return {**release_spec()["tables"], **publishing_spec()["derived_tables"]}[name]


def _title(name: str) -> dict[str, str]:
    t = _spec(name)
    return {"sv": t["title_sv"], "en": t["title_en"]}


def _notes(name: str) -> dict[str, list[str]]:
    note = " ".join(str(_spec(name).get("note_sv", "")).split())
    return {"sv": [note] if note else [], "en": [note] if note else []}  # release.yaml has Swedish notes only


def _geo(frame: pd.DataFrame) -> Dimension:
    areas = frame[["geo_level", GEO, "geo_name"]].drop_duplicates(GEO)
    areas = areas.assign(rank=areas["geo_level"].map({lvl: i for i, lvl in enumerate(LEVELS)}))
    areas = areas.sort_values(["rank", GEO])
    names = dict(zip(areas[GEO], areas["geo_name"], strict=True))
    codes = list(names)
    levels = [lvl for lvl in LEVELS if lvl in set(areas["geo_level"])]
    return Dimension(
        code=GEO,
        label=api_spec()["dimensions"][GEO],
        codes=codes,
        labels={"sv": names, "en": names},
        elimination="00" if "00" in names else None,
        codelists=[f"vs_{lvl}" for lvl in levels],
    )


def _period(frame: pd.DataFrame) -> Dimension:
    periods = frame[["period_type", PERIOD]].drop_duplicates(PERIOD)
    periods = periods.assign(rank=periods["period_type"].map({t: i for i, t in enumerate(PERIOD_TYPES)}))
    codes = periods.sort_values(["rank", PERIOD])[PERIOD].tolist()
    same = {c: c for c in codes}
    types = [t for t in PERIOD_TYPES if t in set(periods["period_type"])]
    return Dimension(
        code=PERIOD,
        label=api_spec()["dimensions"][PERIOD],
        codes=codes,
        labels={"sv": same, "en": same},
        codelists=[f"vs_{t}" for t in types],
    )


def _own_dimensions(name: str, frame: pd.DataFrame) -> list[Dimension]:
    spec = release_spec()
    if name in spec["tables"]:
        return [_counted(dim, d, frame) for dim, d in spec["tables"][name]["dimensions"].items()]
    derived = publishing_spec()["derived_tables"][name]["spec"]
    # the column that names what each row measures, and where its labels and units are declared
    column, items = {
        "percentiles": ("percentile", spec.get("percentiles")),
        "data_quality": ("measure", spec.get("data_quality", {}).get("measures")),
    }.get(derived, ("rate", spec.get(derived)))
    return [_derived(column, items, frame)]


def _present(declared: list[str], frame: pd.DataFrame, column: str) -> list[str]:
    """The declared codes the release has, in the declared order, then any others in the release's order."""
    found = list(dict.fromkeys(frame[column].astype(str)))
    return [c for c in declared if c in found] + [c for c in found if c not in declared]


def _counted(dim: str, d: dict[str, Any], frame: pd.DataFrame) -> Dimension:
    release_sv = dict(zip(frame[dim].astype(str), frame[f"{dim}_sv"].astype(str), strict=True))
    if "categories" in d:
        declared = list(d["categories"])
        en = {code: cat["en"] for code, cat in d["categories"].items()}
    else:
        table = code_table(d["codes"])
        declared = (["total"] if d.get("total") else []) + table.column("code").to_pylist()
        en = dict(zip(table.column("code").to_pylist(), table.column("label_en").to_pylist(), strict=True))
    en.setdefault("total", api_spec()["total_label_en"])
    codes = _present(declared, frame, dim)
    return Dimension(
        code=dim,
        label={"sv": d["sv"], "en": d["en"]},
        codes=codes,
        labels={"sv": {c: release_sv[c] for c in codes}, "en": {c: en.get(c, release_sv[c]) for c in codes}},
        elimination="total" if "total" in codes else (codes[0] if len(codes) == 1 else None),
    )


def _derived(column: str, items: dict[str, Any], frame: pd.DataFrame) -> Dimension:
    codes = _present(list(items), frame, column)
    units = {
        lang: {
            c: {
                "label": items[c]["unit"],
                **({"decimals": items[c]["decimals"]} if "decimals" in items[c] else {}),
            }
            for c in codes
        }
        for lang in ("sv", "en")
    }
    return Dimension(
        code=column,
        label=api_spec()["dimensions"][column],
        codes=codes,
        labels={lang: {c: items[c][lang] for c in codes} for lang in ("sv", "en")},
        elimination=codes[0] if len(codes) == 1 else None,
        units=units,
    )
