"""The drop planted for the early-warning signals (pipelines/demo/planted.py): only its rows, its share."""

from __future__ import annotations

import numpy as np

from pipelines.demo import planted

DROP = {"county": "12", "reporter_groups": ["skola"], "months": [4, 5], "factor": 0.6}
MUNI = ["0180", "1280"]  # Stockholm, Malmö (Skåne)
REPORTERS = ["POL", "SKO", "FSK"]


def _days(dates: list[str]) -> np.ndarray:
    return np.array(dates, dtype="datetime64[D]").astype(np.int64)


def test_only_the_planted_county_group_and_months_are_thinned_to_the_factor():
    n = 60_000
    rng = np.random.default_rng(7)
    muni = rng.integers(0, 2, n)
    reporter = rng.integers(0, 3, n)
    year = planted.planted_year()
    months = rng.integers(1, 13, n)
    received = _days([f"{year}-{m:02d}-15" for m in months])
    keep = planted.kept(1, year, muni, reporter, received, MUNI, REPORTERS, DROP)
    target = (muni == 1) & (reporter == 1) & np.isin(months, [4, 5])
    assert keep[~target].all()
    assert abs(keep[target].mean() - 0.6) < 0.03
    again = planted.kept(1, year, muni, reporter, received, MUNI, REPORTERS, DROP)
    assert (keep == again).all()  # its own seeded stream
    assert planted.kept(1, year - 1, muni, reporter, received, MUNI, REPORTERS, DROP).all()
    assert planted.kept(1, year, muni, reporter, received, MUNI, REPORTERS, DROP | {"factor": 1.0}).all()
