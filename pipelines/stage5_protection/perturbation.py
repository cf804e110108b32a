"""The cell-key method: every published count is perturbed by a draw fixed by the reports it counts.

Stage 4 sums a fixed pseudo-random *record key* (0..2^32-1) per report into every count (``*_key``
measures). A cell's key is that sum modulo 2^32, read as a number in [0, 1); the cell's noise is found by
looking that number up in the *perturbation table* (ptable) row of the cell's true count. So the same
reports give the same published value in every table and every release (a total shared by two tables, a
year to date that gained no report since the last release), while two year-to-date figures that differ by
a few reports get independent noise, and differencing them yields noise, not a municipality's month.

The ptable (published with every release; the record keys are not) gives, for a true count x, the
probability of each noise value n in max(-x, -L)..L (the published count x + n is never negative).
Each row is the maximum-entropy distribution with mean 0 (unbiased) and the configured variance V, where
that is possible, mixed with a small floor so that every value of the support can occur: the attacker's
bounds come from the support, L, while the error a reader sees comes from V.

Why this protects (the audit in ``cell_key.py``): as long as no figure's noise lies in the ptable's bottom
band (below shift × M − L, M the protection margin; probability ≈ 10^-8), adding M fictitious reports to any
cell gives another world consistent with every published figure of every release, so no attack narrows any
count to less than M.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd
from scipy.optimize import minimize

KEY_MODULUS = 2**32


@dataclass(frozen=True)
class PTable:
    """Noise probabilities per true count: ``probs[x, n + L]`` for rows x = 0..L (rows above L as row L)."""

    max_noise: int
    variance: float
    floor: float
    probs: np.ndarray

    @property
    def noises(self) -> np.ndarray:
        return np.arange(-self.max_noise, self.max_noise + 1)

    def frame(self) -> pd.DataFrame:
        """The published form: one row per (true count i, published count j) with its probability; the
        row for i = L applies to every larger count (shifted)."""
        rows = []
        for i, row in enumerate(self.probs):
            for n, p in zip(self.noises, row, strict=True):
                if p > 0:
                    rows.append((i, i + n, int(n), float(p)))
        out = pd.DataFrame(rows, columns=["i", "j", "noise", "p"])
        out["p_upper"] = out.groupby("i")["p"].cumsum()
        out["p_lower"] = out["p_upper"] - out["p"]
        return out


def _max_entropy(support: np.ndarray, variance: float) -> np.ndarray:
    """Probabilities on ``support`` with mean 0 and the given variance, of maximum entropy (p ∝
    exp(a n + b n²)); where the support cannot reach the variance, the closest it can."""
    n = support.astype(float)

    def dual(lam: np.ndarray) -> float:  # log-partition minus the constraint values: convex in lam
        z = lam[0] * n + lam[1] * n**2
        top = z.max()
        return top + np.log(np.exp(z - top).sum()) - lam[1] * variance

    best = minimize(dual, np.array([0.0, -1.0 / (2 * variance)]), method="BFGS", options={"gtol": 1e-12})
    z = best.x[0] * n + best.x[1] * n**2
    p = np.exp(z - z.max())
    p /= p.sum()
    return p


@lru_cache(maxsize=8)
def build_ptable(max_noise: int, variance: float, floor: float) -> PTable:
    """The ptable for noise in -max_noise..max_noise with the given variance and floor probability."""
    L = int(max_noise)
    probs = np.zeros((L + 1, 2 * L + 1))
    probs[0, L] = 1.0  # a count of 0 has no reports and therefore no key: it is always published as 0
    for x in range(1, L + 1):
        support = np.arange(-min(x, L), L + 1)
        core = _max_entropy(support, variance)
        mixed = (1 - floor * len(support)) * core + floor
        probs[x, support + L] = _unbiased(support, mixed)
    return PTable(L, float(variance), float(floor), probs)


def _unbiased(support: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Move a little mass between the zero noise and the far end so that the mean is exactly 0."""
    mean = float(p @ support)
    if abs(mean) < 1e-15:
        return p
    end = 0 if mean > 0 else len(support) - 1  # pull towards the opposite end
    zero = int(np.flatnonzero(support == 0)[0])
    shift = -mean / (support[end] - 0.0)
    q = p.copy()
    q[end] += shift
    q[zero] -= shift
    if (q < 0).any():  # cannot happen for the rows built here (mean error ~1e-9); keep the row as it was
        return p
    return q


def cell_key(key_sum: np.ndarray) -> np.ndarray:
    """A cell's key in [0, 1) from the sum of its reports' record keys."""
    return np.mod(np.asarray(key_sum, dtype=np.int64), KEY_MODULUS) / KEY_MODULUS


def noise(ptable: PTable, counts: np.ndarray, key_sums: np.ndarray) -> np.ndarray:
    """The noise of each cell: its key looked up in the cumulative row of its count (vectorised)."""
    counts = np.asarray(counts, dtype=np.int64)
    if (counts < 0).any():
        raise ValueError("a count to perturb is negative")
    keys = cell_key(key_sums)
    rows = np.minimum(counts, ptable.max_noise)
    cumulative = np.cumsum(ptable.probs, axis=1)
    cumulative[:, -1] = 1.0  # a key is < 1, so it always finds a column
    out = np.zeros(len(counts), dtype=np.int64)
    for row in np.unique(rows):
        at = rows == row
        column = np.searchsorted(cumulative[row], keys[at], side="right")
        out[at] = ptable.noises[np.minimum(column, len(ptable.noises) - 1)]
    return out
