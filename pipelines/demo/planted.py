"""A drop planted in the demo for the early-warning signals (issue 22): "the schools-closed problem".

When schools closed in spring 2020, reports from school fell and children were out of sight. The demo
plants the like in its last year (settings.yaml demo.years.last): reports from the reporter groups of
``demo.planted_drop`` in one county are thinned to ``factor`` in its months. Whole reports are dropped
(both their rows, arrival and decision), never recoded, so every other table falls by exactly those
reports, as it would have. Its own random stream, drawn for every report of the year, so the drop does not
depend on which municipalities are written.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pipelines.core.schemas import code_table
from pipelines.core.settings import settings

_PLANTED = 30  # random stream of this module (the generator's 1-8, variation's 20-22)


def spec() -> dict[str, Any]:
    return settings()["demo"]["planted_drop"]


def planted_year() -> int:
    return int(settings()["demo"]["years"]["last"])


def kept(
    seed: int,
    year: int,
    muni: np.ndarray,
    reporter: np.ndarray,
    received: np.ndarray,
    muni_codes: list[str],
    reporter_codes: list[str],
    drop: dict[str, Any] | None = None,
) -> np.ndarray:
    """True for each report that stays: all but a share 1 - factor of the planted county's reports from
    the planted reporter groups in the planted months of the planted year. ``muni`` and ``reporter`` index
    ``muni_codes`` and ``reporter_codes``; ``received`` is days since 1970."""
    drop = spec() if drop is None else drop
    keep = np.ones(len(muni), dtype=bool)
    if year != planted_year() or float(drop["factor"]) >= 1.0 or not len(muni):
        return keep
    rng = np.random.default_rng(np.random.SeedSequence([seed, _PLANTED, year]))
    draw = rng.random(len(muni))  # one draw per report of the year, whatever is hit
    in_county = np.array([c[:2] == str(drop["county"]) for c in muni_codes])[muni]
    groups = _groups()
    planted = np.array([groups.get(c) in set(drop["reporter_groups"]) for c in reporter_codes])[reporter]
    month = received.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64) % 12 + 1
    hit = in_county & planted & np.isin(month, [int(m) for m in drop["months"]])
    keep[hit] = draw[hit] < float(drop["factor"])
    return keep


def _groups() -> dict[str, str]:
    """Reporter code -> reporter group (schemas/codes/reporters.csv)."""
    table = code_table("reporters").to_pandas()
    return dict(zip(table["code"], table["group"], strict=True))
