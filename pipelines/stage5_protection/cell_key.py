"""Disclosure control by the cell-key method (``rules.method: cell_key`` in ``schemas/release.yaml``).

Every count of an additive table is published as its true value plus a noise drawn through the
perturbation table (``perturbation.py``) by the cell's key. A cell is shown as ``..`` when its published
value is 1..threshold (small figures are not shown, as with suppression). Nothing else is hidden: no
complementary suppression, no pattern to carry from release to release.

The audit (blocking) is a certificate, not a search. Take any cell and add up to ``shift × margin``
fictitious reports to it (``margin`` of them to the cell itself), chosen so that nothing published exactly
moves: about a child who is not identified (the distinct-children tables do not change), or for the
identified and age tables, reports about a child already counted in that county and period, received on
the same day as one of its reports (not "reported again"); for the decided categories half within and half
after 14 days where needed, so that no published percentile changes side of 14 days (percentiles are shown
only where the published counts put that side beyond doubt, see ``percentile_is_safe``). Every published
count of every release that counts those reports grows by at most ``shift × margin``, and stays consistent
with the ptable (and with being shown, or hidden as 1..threshold) as long as its noise is at least
``shift × margin − L``. The ptable gives the noises below that (its *bottom band*) a probability of about
10^-8, and the audit checks that no figure of this release drew one; earlier releases were checked when
they were built, and the audit checks that they all used the same method and ptable. So the true figures
and the figures with those reports added explain everything ever published equally well, and no attacker,
with any number of releases, linear programming or the process's monotonicity, narrows any count below
the margin. What is assumed, not checked: that adding a few reports at a percentile's own day moves no
published percentile's value (true where a county has more than ``shift × margin`` reports at that day).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipelines.core.schemas import release_spec
from pipelines.stage5_protection import cells as c
from pipelines.stage5_protection.perturbation import PTable, build_ptable, noise
from pipelines.stage5_protection.primary import Rules

METHOD = "cell_key"
SMALL = "perturbed:small"


@dataclass(frozen=True)
class Parameters:
    """``cell_key`` of the release spec: the ptable's support and variance, and the audit's shift."""

    max_noise: int
    variance: float
    floor: float
    shift: int
    percentile_levels: tuple[str, ...]

    @staticmethod
    def from_spec() -> Parameters:
        spec = release_spec()["cell_key"]
        return Parameters(
            int(spec["max_noise"]),
            float(spec["variance"]),
            float(spec["floor"]),
            int(spec["shift"]),
            tuple(spec["percentile_levels"]),
        )

    def ptable(self) -> PTable:
        return build_ptable(self.max_noise, self.variance, self.floor)

    def lowest_safe_noise(self, margin: float) -> float:
        """A cell's noise must be at least this, so that ``shift × margin`` more reports still fit."""
        return self.shift * margin - self.max_noise

    def bottom_band_probability(self, margin: float) -> float:
        """The largest probability, over the ptable's rows, of a noise below the safe noise."""
        safe = self.lowest_safe_noise(margin)
        table = self.ptable()
        return float(table.probs[:, table.noises < safe].sum(axis=1).max())

    def public(self, margin: float) -> dict[str, Any]:
        """What the manifest states (everything but the record keys)."""
        return {
            "max_noise": self.max_noise,
            "variance": self.variance,
            "floor": self.floor,
            "shift": self.shift,
            "margin": margin,
            "lowest_safe_noise": self.lowest_safe_noise(margin),
            "percentile_levels": list(self.percentile_levels),
        }


@dataclass
class Perturbed:
    """One additive table as published: value shown (true + noise), mask (``..``) and reason per row."""

    shown: np.ndarray
    noise: np.ndarray
    mask: np.ndarray
    reasons: np.ndarray


def perturb(frame: pd.DataFrame, rules: Rules, params: Parameters) -> Perturbed:
    """The published values of one table's cells (columns value and key_sum, as ``cells.py`` builds)."""
    true = frame[c.VALUE].to_numpy(dtype=np.int64)
    drawn = noise(params.ptable(), true, frame[c.KEY].to_numpy(dtype=np.int64))
    shown = true + drawn
    small = (shown >= 1) & (shown <= rules.threshold)
    return Perturbed(shown, drawn, small, np.where(small, SMALL, "").astype(object))


def check_table(
    name: str, frame: pd.DataFrame, table: Perturbed, rules: Rules, params: Parameters
) -> list[str]:
    """What the certificate needs of one table, checked from the true and the published values alone."""
    problems = []
    true = frame[c.VALUE].to_numpy(dtype=np.int64)
    n = table.shown - true
    shown = ~table.mask
    if (table.shown < 0).any():
        problems.append(f"{name}: a negative published value")
    if (np.abs(n) > params.max_noise).any():
        problems.append(f"{name}: a noise outside the ptable's support")
    bottom = int((n < params.lowest_safe_noise(rules.margin)).sum())
    if bottom:
        problems.append(
            f"{name}: {bottom} cell(s) drew a noise in the ptable's bottom band (below "
            f"{params.lowest_safe_noise(rules.margin)}); the certificate does not cover them"
        )
    if (table.shown[true == 0] != 0).any():
        problems.append(f"{name}: a cell without reports published as non-zero")
    small = shown & (table.shown >= 1) & (table.shown <= rules.threshold)
    if small.any():
        problems.append(f"{name}: a published value 1..{rules.threshold} shown")
    return problems


def check_consistency(tables: dict[str, pd.DataFrame], perturbed: dict[str, Perturbed]) -> list[str]:
    """The same reports (same key sum and count) are published as the same value in every table."""
    frames = [
        pd.DataFrame(
            {"key": f[c.KEY].to_numpy(), "value": f[c.VALUE].to_numpy(), "shown": perturbed[n].shown}
        )
        for n, f in tables.items()
        if n in perturbed
    ]
    if not frames:
        return []
    both = pd.concat(frames, ignore_index=True)
    both = both.loc[both["value"] > 0]
    spread = both.groupby(["key", "value"])["shown"].nunique()
    return (
        [f"{int((spread > 1).sum())} sets of reports published with different values"]
        if (spread > 1).any()
        else []
    )


def check_earlier_releases(
    protected: Path, as_of: str, manifest_file: str, params: dict[str, Any]
) -> list[str]:
    """Every release published before this one used the same method and ptable, and its audit passed:
    the certificate covers every release only if each of them obeyed it (an exact figure published by
    suppression, or a figure with other noise, would be outside it)."""
    problems = []
    for folder in sorted(protected.glob("release=*")):
        release = folder.name.split("=", 1)[1]
        if release >= as_of:
            continue
        path = folder / manifest_file
        if not path.exists():
            problems.append(f"release {release}: no manifest")
            continue
        manifest = json.loads(path.read_text("utf-8"))
        method = manifest.get("disclosure_method")
        if method != METHOD:
            problems.append(f"release {release}: published by {method or 'suppression'}, not {METHOD}")
        elif manifest.get("cell_key") != params:
            problems.append(f"release {release}: another ptable or margin ({manifest.get('cell_key')})")
        elif not manifest.get("audit", {}).get("passes"):
            problems.append(f"release {release}: its audit did not pass")
    return problems


def percentile_is_safe(within: pd.Series, decided: pd.Series, percent: int, slack: float) -> pd.Series:
    """Whether the published (perturbed) within-14-days and decided counts put a percentile's side of 14
    days beyond doubt: the true counts are within ``max_noise`` of them, and the audit's added reports
    move them by at most ``shift × margin``. Decided from published values only, so hiding a percentile
    tells nobody anything they could not compute."""
    rank = np.ceil(percent * decided.astype(float) / 100)
    return (within.astype(float) - rank).abs() > slack


def percentile_slack(params: Parameters, margin: float) -> float:
    """How far the published within-count must be from the percentile's rank (both noises, the shift)."""
    return 2 * params.max_noise + params.shift * margin + 1
