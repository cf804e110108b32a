"""What a month of a published series is expected to be, with a prediction interval (issue 22).

Two methods, measured against each other on the demo's unplanted series (docs/insight.md):

- ``glm``: a quasi-Poisson log-linear model, log μ = a + b·t + s(month of year), fitted by iteratively
  reweighted least squares on the months before the tested one. The dispersion φ (Pearson χ²/df, at least
  1) widens the interval for counts that vary more than Poisson; the interval also carries the uncertainty
  of the fitted mean. The bounds come from the 2/3-power transform of the count, which is close to normal
  even for skewed counts (Farrington et al. 1996, as in the surveillance package).
- ``ratio``: the mean of the same month in earlier years times the year-to-date ratio (this year's
  months so far over the same months of earlier years; January: last year over the year before), with a
  Poisson interval on the same transform.

Plain numpy: 14 parameters and a few dozen months need no statistics library.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.stats import norm


@dataclass(frozen=True)
class Prediction:
    expected: float
    lower: float
    upper: float


def z_value(level: float) -> float:
    return float(norm.ppf(0.5 + level / 2))


def _bounds(mu: float, var_ratio: float, z: float) -> tuple[float, float]:
    """Interval of a count with mean mu and variance mu * var_ratio, on the 2/3-power scale."""
    centre = mu ** (2 / 3)
    sd = (2 / 3) * mu ** (1 / 6) * math.sqrt(var_ratio)
    return max(centre - z * sd, 0.0) ** 1.5, (centre + z * sd) ** 1.5


def _design(t: np.ndarray, month: np.ndarray) -> np.ndarray:
    """Intercept, linear trend in years, month-of-year effects (January the reference)."""
    dummies = (month[:, None] == np.arange(2, 13)[None, :]).astype(float)
    return np.column_stack([np.ones(len(t)), t, dummies])


def _irls(x: np.ndarray, y: np.ndarray, steps: int = 50) -> tuple[np.ndarray, np.ndarray] | None:
    """Poisson regression with log link: coefficients and the inverse of X'WX at the fit; None when it
    does not converge (a month of zeros drives its effect towards minus infinity)."""
    beta = np.zeros(x.shape[1])
    beta[0] = math.log(max(y.mean(), 0.5))
    with np.errstate(all="ignore"):
        for _ in range(steps):
            mu = np.exp(x @ beta)
            z = x @ beta + (y - mu) / mu
            xtw = x.T * mu
            new = np.linalg.lstsq(xtw @ x, xtw @ z, rcond=None)[0]
            if not np.all(np.isfinite(new)):
                return None
            done = np.max(np.abs(new - beta)) < 1e-8
            beta = new
            if done:
                mu = np.exp(x @ beta)
                return beta, np.linalg.pinv((x.T * mu) @ x)
    return None


def glm(
    t: np.ndarray, month: np.ndarray, y: np.ndarray, t0: float, month0: int, z: float
) -> Prediction | None:
    """The expected count at (t0, month0) from earlier months (t in years, month 1-12, y counts)."""
    zero = [m for m in np.unique(month) if not y[month == m].any()]
    if month0 in zero:
        return Prediction(0.0, 0.0, 0.0)  # that month has always been empty (e.g. school in July)
    rows = ~np.isin(month, zero)  # a month of zeros would drive its effect to minus infinity
    t, month, y = t[rows], month[rows], y[rows]
    x = _design(t - t0, month)  # time from the tested month: its trend term is 0
    present = np.flatnonzero(x.any(axis=0) | (np.arange(x.shape[1]) < 2))  # months never seen: no column
    x = x[:, present]
    if len(y) <= x.shape[1] or not np.isin(month0, month):
        return None
    fitted = _irls(x, y)
    if fitted is None:
        return None
    beta, cov = fitted
    mu_fit = np.exp(x @ beta)
    phi = max(1.0, float(np.sum((y - mu_fit) ** 2 / mu_fit)) / (len(y) - x.shape[1]))
    x0 = _design(np.array([0.0]), np.array([month0]))[0, present]
    eta = float(x0 @ beta)
    if not math.isfinite(eta) or math.exp(eta) > 10 * y.max() + 10:
        return None  # a trend extrapolated far beyond every count seen: no expectation to trust
    mu = math.exp(eta)
    var_eta = phi * float(x0 @ cov @ x0)
    return Prediction(mu, *_bounds(mu, phi + mu * var_eta, z))


def ratio(same_month: np.ndarray, ytd_now: float, ytd_before: float, z: float) -> Prediction | None:
    """Mean of the same month in earlier years, scaled by this year's level against theirs."""
    if not len(same_month) or ytd_before <= 0 or ytd_now <= 0:
        return None
    mu = float(same_month.mean()) * ytd_now / ytd_before
    # Relative variance of the scale: Poisson counts behind each part (delta method on the log).
    var_log = 1 / max(same_month.sum(), 1) + 1 / ytd_now + 1 / ytd_before
    return Prediction(mu, *_bounds(mu, 1 + mu * var_log, z))
