"""Primary suppression: cells that are sensitive in themselves (small counts, a whole group alike)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from pipelines.stage5_protection.model import CellSystem


@dataclass(frozen=True)
class CellPattern:
    """Matches cells of ``table`` (None = any table) whose dimension codes equal ``where``."""

    table: str | None = None
    where: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Rules:
    """Suppression rules.

    threshold: counts 1..threshold are primary ("primary:small").
    suppress_zeros: also treat zero counts as primary ("primary:zero"); off by default, as zeros are
        published.
    group_rule / group_threshold: if a parent's whole positive count lies in one child and the parent is
        below group_threshold, suppress that child ("primary:dominance_group"), e.g. every report of a small
        kommun is about girls. group_dimensions limits the rule to some dimensions (None = all).
    protection_margin: an attacker's interval for a hidden cell must be at least this wide (None = the
        threshold).
    never_suppress: patterns of cells that are never suppressed; protect_grand_totals adds each table's
        cells at the root of every hierarchy (the national total).
    """

    threshold: int = 4
    suppress_zeros: bool = False
    group_rule: bool = True
    group_threshold: int = 10
    group_dimensions: tuple[str, ...] | None = None
    protection_margin: float | None = None
    never_suppress: tuple[CellPattern, ...] = ()
    protect_grand_totals: bool = True

    @property
    def margin(self) -> float:
        return float(self.threshold if self.protection_margin is None else self.protection_margin)


def never_suppress_mask(system: CellSystem, rules: Rules, dimensions: Mapping[str, list[str]]) -> np.ndarray:
    """Bool per cell: protected from suppression by the rules. ``dimensions``: table -> dim names."""
    mask = np.zeros(system.n_cells, dtype=bool)
    if rules.protect_grand_totals:
        mask[system.grand_totals] = True
    for pattern in rules.never_suppress:
        for i, (table, key) in enumerate(system.cells):
            if pattern.table is not None and table != pattern.table:
                continue
            dims = dimensions[table]
            if all(d in dims and key[dims.index(d)] == str(v) for d, v in pattern.where.items()):
                mask[i] = True
    return _spread_over_single_children(system, _spread_over_links(system, mask))


def _spread_over_single_children(system: CellSystem, mask: np.ndarray) -> np.ndarray:
    """A parent with one child is the same quantity as it (a year to date that is one quarter): hiding
    one of them while the other is protected would hide nothing, so both are protected."""
    pairs = [(f.parent, int(f.children[0])) for f in system.families if f.additive and len(f.children) == 1]
    changed = True
    while changed and pairs:
        changed = False
        for parent, child in pairs:
            if mask[parent] != mask[child]:
                mask[parent] = mask[child] = True
                changed = True
        mask = _spread_over_links(system, mask)
    return mask


def _spread_over_links(system: CellSystem, mask: np.ndarray) -> np.ndarray:
    """A flag on one cell of a variable applies to every cell linked with it."""
    per_var = np.zeros(system.n_vars, dtype=bool)
    np.logical_or.at(per_var, system.cell_var, mask)
    return per_var[system.cell_var]


def primary_suppression(
    system: CellSystem, rules: Rules, protected: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Primary mask and reason per cell (current-release cells only).

    Linked cells share a variable, so a reason on one is a reason on all. ``protected`` (bool per cell)
    overrides: those cells are never suppressed.
    """
    value = system.values[system.cell_var]
    reasons = np.full(system.n_cells, "", dtype=object)
    small = (value >= 1) & (value <= rules.threshold)
    reasons[small] = "primary:small"
    if rules.suppress_zeros:
        reasons[value == 0] = "primary:zero"
    if rules.group_rule:
        for fam in system.families:
            if rules.group_dimensions is not None and fam.dimension not in rules.group_dimensions:
                continue
            total = value[fam.parent]
            if not 0 < total < rules.group_threshold:
                continue
            whole = fam.children[value[fam.children] == total]
            whole = whole[reasons[whole] == ""]
            reasons[whole] = "primary:dominance_group"
    mask = _spread_over_links(system, reasons != "") & system.in_current
    # a linked partner inherits the reason of the cell that triggered it
    by_var = {}
    for c in np.flatnonzero(reasons != ""):
        by_var.setdefault(system.cell_var[c], reasons[c])
    for c in np.flatnonzero(mask & (reasons == "")):
        reasons[c] = by_var[system.cell_var[c]]
    if protected is not None:
        mask &= ~protected
    reasons[~mask] = ""
    return mask, reasons
