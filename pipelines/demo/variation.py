"""How the synthetic municipalities differ from each other, grow over the years and vary over the year.

Real statistics are not uniform: municipalities differ in how many reports they receive per child, in
the share that opens an investigation and in how fast they decide; counties grow at different rates;
school reports stop in the summer holidays. The parameters live in ``schemas/settings.yaml``
(``demo.synthetic``); this module turns them into per-municipality arrays, deterministic by seed.
Municipal profiles are drawn once per seed (not per year), so a municipality keeps its character
across the years of a multi-year demo.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

from pipelines.core.settings import settings

# Random streams of this module (the generator's own use 1-8): apart, so that tuning one never shifts another.
_PROFILE, _GROWTH, _DELIVERIES = 20, 21, 22


def synthetic() -> dict[str, Any]:
    return settings()["demo"]["synthetic"]


def reference_year() -> int:
    return int(synthetic()["reference_year"])


def _rng(seed: int, *purpose: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, *purpose]))


def size_factors(codes: Sequence[str]) -> np.ndarray:
    """A municipality's size weight by its SCB code: 80-99 were cities, x80 is the county seat."""
    factors = synthetic()["size_factor"]
    suffix = np.array([int(c[2:]) for c in codes])
    return np.select(
        [suffix == 80, suffix > 80], [factors["county_seat"], factors["town"]], default=factors["rural"]
    )


def county_index(codes: Sequence[str]) -> np.ndarray:
    """Each municipality's county as an index 0..k-1 (the first two digits of the code)."""
    _, index = np.unique([c[:2] for c in codes], return_inverse=True)
    return index


def _logit_normal(rng: np.random.Generator, spec: dict[str, float], n: int) -> np.ndarray:
    centre = np.log(spec["mean"] / (1 - spec["mean"]))
    draw = 1 / (1 + np.exp(-(centre + rng.normal(0.0, spec["logit_sd"], n))))
    return np.clip(draw, spec["min"], spec["max"])


@dataclass(frozen=True)
class Profile:
    """Per municipality (in code order): what makes it differ from the others."""

    report_rate: np.ndarray  # reports per child relative to the nation (children-weighted mean 1)
    investigation_rate: np.ndarray  # share of decided reports that open an investigation
    within_deadline: np.ndarray  # share of decided reports decided within 14 days
    report_growth: np.ndarray  # yearly growth of reports per child (its county's)
    population_growth: np.ndarray  # yearly growth of the child population (its county's)


def profile(seed: int, codes: Sequence[str], children: np.ndarray, national_per_1000: float) -> Profile:
    """Draw every municipality's profile; ``children`` at the reference year, in the order of ``codes``."""
    spec = synthetic()
    rng = _rng(seed, _PROFILE)
    county = county_index(codes)
    return Profile(
        report_rate=_report_rate(rng, county, children, national_per_1000, spec["reports_per_child"]),
        investigation_rate=_logit_normal(rng, spec["investigation_rate"], len(codes)),
        within_deadline=_logit_normal(rng, spec["decided_within_deadline"], len(codes)),
        **_growth(seed, county),
    )


def _report_rate(
    rng: np.random.Generator,
    county: np.ndarray,
    children: np.ndarray,
    national_per_1000: float,
    spec: dict[str, float],
) -> np.ndarray:
    """County effect times municipal effect; large municipalities average over many districts, so they
    vary less. Normalised so the nation keeps its volume, then kept within the plausible range."""
    county_effect = rng.normal(0.0, spec["county_sd"], county.max() + 1)[county]
    local_sd = spec["municipality_sd"] / np.sqrt(1 + children / spec["shrink_children"])
    rate = np.exp(county_effect + rng.normal(0.0, 1.0, len(children)) * local_sd)
    lo, hi = spec["per_1000_min"] / national_per_1000, spec["per_1000_max"] / national_per_1000
    for _ in range(3):  # clipping moves the mean a little: renormalise and clip again
        rate = np.clip(rate / np.average(rate, weights=children), lo, hi)
    return rate


def _growth(seed: int, county: np.ndarray) -> dict[str, np.ndarray]:
    """Yearly growth by county: reports per child and children, each a normal draw per county."""
    spec = synthetic()
    rng = _rng(seed, _GROWTH)
    k = county.max() + 1
    reports = rng.normal(spec["report_growth"]["mean"], spec["report_growth"]["sd"], k)
    population = rng.normal(spec["population_growth"]["mean"], spec["population_growth"]["sd"], k)
    return {"report_growth": reports[county], "population_growth": population[county]}


def population_trend(seed: int, codes: Sequence[str], year: int) -> np.ndarray:
    """Children in ``year`` relative to the reference year, per municipality."""
    growth = _growth(seed, county_index(codes))["population_growth"]
    return (1 + growth) ** (year - reference_year())


def report_trend(prof: Profile, year: int) -> np.ndarray:
    """Reports per child in ``year`` relative to the reference year, per municipality."""
    return (1 + prof.report_growth) ** (year - reference_year())


# --------------------------------------------------------------------------------------------------
# seasonality


def school_factor() -> np.ndarray:
    """Per calendar month (index 0 = January), the factor on school and preschool reports."""
    return np.asarray(synthetic()["seasonality"]["school"], dtype=float)


def month_weights(year: int, school_share: float) -> np.ndarray:
    """The share of a year's reports arriving in each month: its days, the general factor and the
    school factor on the school reporters' share (so the total dips when school reports do)."""
    season = synthetic()["seasonality"]
    days = np.array([_days_in_month(year, m) for m in range(1, 13)], dtype=float)
    weights = days * np.asarray(season["all"]) * (1 - school_share + school_share * school_factor())
    return weights / weights.sum()


def _days_in_month(year: int, month: int) -> int:
    nxt = dt.date(year + month // 12, month % 12 + 1, 1)
    return (nxt - dt.date(year, month, 1)).days


@cache
def school_reporters() -> frozenset[str]:
    return frozenset(synthetic()["seasonality"]["school_reporters"])


# --------------------------------------------------------------------------------------------------
# delivery incidents


@dataclass(frozen=True)
class Deliveries:
    """Planted delivery incidents: (municipality code, absolute month = year * 12 + month - 1)."""

    missing: tuple[tuple[str, int], ...] = ()
    late: tuple[tuple[str, int], ...] = ()
    redelivered: tuple[tuple[str, int], ...] = ()

    def names(self, kind: str) -> list[str]:
        """``<kod>_<ÅÅÅÅ-MM>`` of each incident of one kind (for messages and tests)."""
        return [f"{code}_{month // 12}-{month % 12 + 1:02d}" for code, month in getattr(self, kind)]


def plan_deliveries(
    seed: int, codes: Sequence[str], years: Sequence[int], exclude: Sequence[str]
) -> Deliveries:
    """One municipality per incident (never two incidents in one municipality, so they cannot overlap),
    among those not in ``exclude``, each in a month before the last (a late month needs a next one, and
    the last release stays complete)."""
    spec = synthetic()["deliveries"]
    kinds = ("missing", "late", "redelivered")
    wanted = [int(spec[k]) for k in kinds]
    candidates = [c for c in codes if c not in set(exclude)]
    first, last = min(years) * 12, max(years) * 12 + 11
    if len(candidates) < sum(wanted) or last <= first:
        return Deliveries()
    rng = _rng(seed, _DELIVERIES, min(years), max(years))
    munis = rng.choice(len(candidates), size=sum(wanted), replace=False)
    months = rng.integers(first, last, size=sum(wanted))
    picked = [(candidates[m], int(t)) for m, t in zip(munis.tolist(), months.tolist(), strict=True)]
    bounds = np.cumsum([0, *wanted]).tolist()
    return Deliveries(*(tuple(picked[lo:hi]) for lo, hi in itertools.pairwise(bounds)))
