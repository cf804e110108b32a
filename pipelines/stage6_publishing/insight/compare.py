"""`orostat compare`: did a municipality's figure change after a month, compared with its group?

A difference-in-differences on published (protected) figures only. A municipality's months are not
published, only its year to date, so a month is the difference of two successive monthly releases' year
to date (a difference stage 5 protects as if it were published). Each month the municipality's value is
compared with the mean of the values of the other members of its comparison group (``groups.py``) in the
same month; the gap d_t = kommun_t − group_t is regressed on an indicator of the
months from the start month on:

    d_t = α + β·efter_t (+ γ_kalendermånad) + ε_t

β is the estimate: how much more (or less) the gap is after than before. Seasonality the municipality
shares with its group (summer holidays, school start) cancels in the gap; where the months allow it,
calendar-month fixed effects also remove the municipality's own seasonality (β then compares the same
months of the year). The 95 % interval is autocorrelation-robust (monthly gaps hang together): the equal-weighted
cosine (EWC) variance with Student's t critical values, as Lazarus, Lewis, Stock & Watson (2018) recommend
for short series. Months where the municipality's value is hidden (..), missing or where
too few group members are published are left out; too many such months and the comparison is refused.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from pipelines.core.schemas import insight_spec
from pipelines.stage6_publishing.insight.ranks import KOMMUN, _where
from pipelines.stage6_publishing.release_tables import Release


class CompareRefused(ValueError):
    """The comparison cannot be made honestly; the message says why (one line, Swedish)."""


def settings() -> dict[str, Any]:
    return insight_spec()["compare"]


def _ytd(release: Release, part: dict[str, Any], year: str, column: str = "value") -> pd.Series:
    """kommunkod → one published year-to-date figure of a release; NaN where hidden or missing."""
    frame = release.tables.get(part["table"])
    if frame is None:
        return pd.Series(dtype=float)
    rows = _where(frame, part["where"])
    rows = rows[(rows.geo_level == KOMMUN) & (rows.period.astype(str) == year)]
    values = pd.to_numeric(rows[column], errors="coerce")
    if column == "value":
        values = values.where(rows.status.fillna("").astype(str).to_numpy() == "")
    return pd.Series(values.to_numpy(dtype=float), index=rows.geo_code.astype(str).to_numpy())


def _previous(month: str) -> str:
    year, number = int(month[:4]), int(month[5:])
    return f"{year - 1}-12" if number == 1 else f"{year}-{number - 1:02d}"


def _month_counts(releases: dict[str, Release], part: dict[str, Any]) -> dict[str, pd.Series]:
    """Month → kommunkod → the month's count: this release's year to date minus the previous month's
    release's (January: the year to date itself); a month without both releases is left out."""
    found = {}
    for month, release in releases.items():
        year = month[:4]
        now = _ytd(release, part, year)
        if month.endswith("-01"):
            found[month] = now
        elif _previous(month) in releases:
            found[month] = now.sub(_ytd(releases[_previous(month)], part, year), fill_value=np.nan)
    return found


def monthly_values(releases: dict[str, Release], item: dict[str, Any]) -> pd.DataFrame:
    """Months × kommunkod of one compare indicator (insight.yaml compare.indicators), from the published
    year-to-date figures of successive monthly releases (as-of month → release); NaN where unknown."""
    numerator = _month_counts(releases, item["numerator"])
    if "denominator" in item:
        denominator = _month_counts(releases, item["denominator"])
        # a month with no decisions has no rate ('.'), not a rate of 0
        rows = {
            m: numerator[m] / denominator[m].where(denominator[m] > 0) for m in numerator if m in denominator
        }
    elif "per_population" in item:
        spec = settings()["population"]
        rows = {}
        for month, counts in numerator.items():
            population = _ytd(releases[month], spec, month[:4], spec["column"])
            rows[month] = counts / population.where(population > 0) * item["per_population"]
    else:
        rows = numerator
    if not rows:
        return pd.DataFrame()
    return pd.DataFrame(rows).T.sort_index().astype(float)


def panel(values: pd.DataFrame, municipality: str, members: list[str]) -> pd.DataFrame:
    """Per month: the municipality's value, the mean of the other members' published values and how many
    of them are published."""
    others = [m for m in members if m != municipality and m in values.columns]
    own = values[municipality] if municipality in values.columns else pd.Series(np.nan, index=values.index)
    group = values[others] if others else pd.DataFrame(index=values.index)
    return pd.DataFrame(
        {
            "kommun": own.astype(float),
            "group": group.mean(axis=1, skipna=True) if others else np.nan,
            "group_n": group.notna().sum(axis=1) if others else 0,
        },
        index=values.index,
    ).sort_index()


@dataclass(frozen=True)
class Estimate:
    estimate: float
    low: float
    high: float
    confidence: float
    months_before: int
    months_after: int
    months_left_out: int
    seasonal: bool  # calendar-month fixed effects used
    nu: int  # degrees of freedom of the EWC interval
    before: tuple[float, float]  # mean (kommun, group) before
    after: tuple[float, float]
    # The gap's linear trend before the start month, per year, with its interval: (slope, low, high), None
    # where the months before are too few to say. An interval without 0 means the municipality was already
    # moving away from its group, so the estimate may carry that trend (parallel trends do not hold).
    pre_trend: tuple[float, float, float] | None = None

    @property
    def diverged_before(self) -> bool:
        return self.pre_trend is not None and not self.pre_trend[1] <= 0 <= self.pre_trend[2]

    @property
    def covers_zero(self) -> bool:
        return self.low <= 0 <= self.high


def _design(months: pd.Index, post: np.ndarray, seasonal: bool) -> np.ndarray:
    columns = [np.ones(len(months)), post.astype(float)]
    if seasonal:
        calendar = np.array([int(str(m)[5:7]) for m in months])
        present = sorted(set(calendar))
        columns += [(calendar == c).astype(float) for c in present[1:]]
    return np.column_stack(columns)


def ewc_covariance(x: np.ndarray, residuals: np.ndarray, nu: int) -> np.ndarray:
    """Autocorrelation-robust covariance of OLS coefficients with the equal-weighted cosine (EWC) long-run
    variance of the scores (Lazarus, Lewis, Stock & Watson 2018): its t-statistic has Student's t
    distribution with ``nu`` degrees of freedom, which keeps the interval honest in a short series where
    Newey–West with normal critical values covers far less than it says."""
    t = x.shape[0]
    scores = x * residuals[:, None]
    position = (np.arange(1, t + 1) - 0.5) / t
    meat = np.zeros((x.shape[1], x.shape[1]))
    for j in range(1, nu + 1):
        projection = np.sqrt(2 / t) * np.cos(np.pi * j * position) @ scores
        meat += np.outer(projection, projection) / nu
    bread = np.linalg.inv(x.T @ x)
    return bread @ (t * meat) @ bread * t / (t - x.shape[1])  # residuals are shorter than errors


def did(frame: pd.DataFrame, start: str, confidence: float | None = None) -> Estimate:
    """The difference-in-differences of ``panel``'s months around ``start`` (YYYY-MM), or a refusal."""
    spec = settings()
    confidence = confidence or spec["confidence"]
    months = list(frame.index.astype(str))
    if not months:
        raise CompareRefused("Det finns inga publicerade månadsvärden för måttet.")
    if not months[0] < start <= months[-1]:
        raise CompareRefused(
            f"Startmånaden {start} ligger utanför de publicerade månaderna: välj en månad efter {months[0]} "
            f"och senast {months[-1]}."
        )
    usable = frame.kommun.notna() & frame.group.notna() & (frame.group_n >= spec["min_group_members"])
    hidden = 1 - float(usable.mean())
    if hidden > spec["max_hidden_share"]:
        raise CompareRefused(
            f"{int((~usable).sum())} av {len(frame)} månader saknar publicerat värde för kommunen eller "
            f"gruppen (dolda ..-värden eller saknade uppgifter), mer än {round(spec['max_hidden_share'] * 100)}\u00a0%: "
            "jämförelsen blir inte tillförlitlig."
        )
    used = frame[usable]
    post = np.array([str(m) >= start for m in used.index])
    before, after = int((~post).sum()), int(post.sum())
    if before < spec["min_months_before"] or after < spec["min_months_after"]:
        raise CompareRefused(
            f"För få månader med publicerade värden: {before} före och {after} från och med {start}; "
            f"det behövs minst {spec['min_months_before']} före och {spec['min_months_after']} efter."
        )
    gap = (used.kommun - used.group).to_numpy(dtype=float)
    fitted = _fit(used.index, post, gap)
    x, residuals, seasonal = fitted
    nu = max(2, math.floor(settings()["ewc_factor"] * len(gap) ** (2 / 3)))
    beta = np.linalg.lstsq(x, gap, rcond=None)[0]
    se = math.sqrt(max(ewc_covariance(x, residuals, nu)[1, 1], 0.0))
    t = stats.t.ppf(0.5 + confidence / 2, nu)
    return Estimate(
        float(beta[1]),
        float(beta[1] - t * se),
        float(beta[1] + t * se),
        confidence,
        before,
        after,
        len(frame) - len(used),
        seasonal,
        nu,
        (float(used.kommun[~post].mean()), float(used.group[~post].mean())),
        (float(used.kommun[post].mean()), float(used.group[post].mean())),
        pre_trend(gap[~post], confidence),
    )


def pre_trend(gap: np.ndarray, confidence: float) -> tuple[float, float, float] | None:
    """The slope per year of the gap over the months before, with its EWC interval (the same
    autocorrelation-robust variance as the estimate), or None below ``min_months_pre_trend``."""
    if len(gap) < settings()["min_months_pre_trend"]:
        return None
    x = np.column_stack([np.ones(len(gap)), np.arange(len(gap), dtype=float) / 12])
    beta = np.linalg.lstsq(x, gap, rcond=None)[0]
    nu = max(2, math.floor(settings()["ewc_factor"] * len(gap) ** (2 / 3)))
    se = math.sqrt(max(ewc_covariance(x, gap - x @ beta, nu)[1, 1], 0.0))
    t = stats.t.ppf(0.5 + confidence / 2, nu)
    return float(beta[1]), float(beta[1] - t * se), float(beta[1] + t * se)


def _fit(months: pd.Index, post: np.ndarray, gap: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
    """The design with calendar-month effects where they leave enough degrees of freedom and do not
    absorb the before/after contrast, else without; the residuals."""
    for seasonal in (True, False):
        x = _design(months, post, seasonal)
        enough = len(gap) - x.shape[1] >= settings()["seasonal_min_df"]
        if np.linalg.matrix_rank(x) == x.shape[1] and (enough or not seasonal):
            beta = np.linalg.lstsq(x, gap, rcond=None)[0]
            return x, gap - x @ beta, seasonal
    raise CompareRefused("Jämförelsen går inte att skatta med de publicerade månaderna.")
