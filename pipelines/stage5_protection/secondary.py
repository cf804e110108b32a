"""Secondary suppression: hide complementary cells until no hidden cell can be recovered or narrowed.

Two passes, both deterministic:

1. Combinatorial: for every constraint row (a parent and its children) holding hidden cells, if one cell
   alone is hidden, or the hidden children's known total is below the margin, hide the cheapest other
   cell of that row (cost = value, ties by variable order, which follows the input rows).
2. LP audit loop: attack (``attack.py``) the components of hidden cells; for each cell that fails, hide
   the cheapest cell of a row touching it, redo pass 1 from there, and re-attack only the cells that
   failed or were added — adding unknowns only relaxes the attacker's LP, so passing cells stay passing.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from pipelines.stage5_protection.attack import attack, audit_passes, hidden_variables
from pipelines.stage5_protection.model import (
    CellId,
    CellSystem,
    Link,
    PreviousRelease,
    TableSpec,
    build_system,
)
from pipelines.stage5_protection.primary import Rules, never_suppress_mask, primary_suppression


@dataclass
class Protection:
    """The outcome of ``protect``: mask and reason per cell of ``system``, and the final audit."""

    system: CellSystem
    mask: np.ndarray
    reasons: np.ndarray
    primary: np.ndarray
    audit: pd.DataFrame | None
    unprotectable: list[CellId]

    @property
    def passes(self) -> bool:
        """The final audit passed (None audit counts as not checked = False)."""
        return self.audit is not None and audit_passes(self.audit) and not self.unprotectable

    def suppressed_cells(self) -> set[CellId]:
        """Ids of the hidden cells of the current release (feed to the next release)."""
        return {self.system.cells[i] for i in np.flatnonzero(self.mask)}

    def table_masks(self, tables: Mapping[str, pd.DataFrame]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Per current table: (mask, reasons) aligned with the rows of the table as given."""
        out = {}
        for name, df in tables.items():
            dims = self.system.dimensions[name]
            keys = df[dims].astype(str).itertuples(index=False, name=None)
            idx = np.array([self.system.index[(name, k)] for k in keys], dtype=np.int64)
            out[name] = (self.mask[idx], self.reasons[idx])
        return out


class _Rows:
    """Constraint rows as variable lists, with the rows of each variable and each row's parent."""

    def __init__(self, A: sp.csr_matrix) -> None:
        self.vars = [A.indices[A.indptr[r] : A.indptr[r + 1]] for r in range(A.shape[0])]
        coef = [A.data[A.indptr[r] : A.indptr[r + 1]] for r in range(A.shape[0])]
        self.parent = [
            int(v[c > 0][0]) if (c > 0).any() else -1 for v, c in zip(self.vars, coef, strict=True)
        ]
        csc = A.tocsc()
        self.of_var = [csc.indices[csc.indptr[v] : csc.indptr[v + 1]] for v in range(A.shape[1])]


class _State:
    """Hidden variables, candidates and costs shared by both passes."""

    def __init__(
        self, system: CellSystem, hidden: np.ndarray, allowed: np.ndarray, must: np.ndarray, margin: float
    ) -> None:
        self.system, self.hidden, self.allowed, self.margin = system, hidden, allowed, margin
        # variables whose hiding must hold (published or sensitive); a hidden structural cell that is
        # neither needs no complement of its own
        self.must = must
        self.values = system.values
        self.rows = _Rows(system.A)
        self.added: list[int] = []
        # one complement per failing cell, even when failing cells share a row: a few more suppressions,
        # but far fewer audit rounds on large releases (each re-solves the big component)
        self.skip_shared = False

    def pick(self, candidates: np.ndarray, need: float) -> int | None:
        """Cheapest allowed, not-yet-hidden candidate worth at least ``need`` (else the largest)."""
        free = candidates[self.allowed[candidates] & ~self.hidden[candidates]]
        if len(free) == 0:
            return None
        vals = self.values[free]
        # a zero can only move up from its bound, so it is a poor complement: prefer a positive cell
        enough = free[(vals >= need) & (vals > 0)]
        if len(enough):  # smallest value, then lowest variable index (stable key)
            return int(enough[np.lexsort((enough, self.values[enough]))[0]])
        return int(free[np.lexsort((-free, vals))[-1]])

    def hide(self, var: int) -> None:
        self.hidden[var] = True
        self.added.append(var)

    def row_need(self, r: int) -> float | None:
        """How much more hidden value row r needs (None = row is fine as it is)."""
        vars_ = self.rows.vars[r]
        hid = vars_[self.hidden[vars_]]
        if not self.must[hid].any():
            return None
        parent_hidden = self.hidden[self.rows.parent[r]] if self.rows.parent[r] >= 0 else False
        if len(hid) == 1:
            return max(self.margin - self.values[hid[0]], 0.0) if not parent_hidden else 0.0
        if parent_hidden:
            return None
        total = self.values[hid].sum()  # the hidden children's total is known exactly
        return self.margin - total if total < self.margin else None

    def combinatorial(self, start_rows: Iterable[int]) -> None:
        """Pass 1 over a worklist of rows (processed in row order, so the result is deterministic)."""
        heap = sorted(set(int(r) for r in start_rows))
        queued = set(heap)
        while heap:
            r = heapq.heappop(heap)
            queued.discard(r)
            need = self.row_need(r)
            if need is None:
                continue
            var = self.pick(self.rows.vars[r], need)
            if var is None:
                continue  # nothing left to hide in this row; the audit reports what remains
            self.hide(var)
            for r2 in self.rows.of_var[var]:
                if r2 not in queued:
                    queued.add(int(r2))
                    heapq.heappush(heap, int(r2))
            if r not in queued:  # the row may still need more
                queued.add(r)
                heapq.heappush(heap, r)

    def _nearest_pick(self, var: int, need: float, max_hops: int = 4) -> int | None:
        """The cheapest candidate in the rows of ``var``; if those rows are all hidden already, in the
        rows of their hidden variables, and so on: the bound then comes from further away."""
        seen_rows: set[int] = set()
        frontier = np.array([var])
        for _ in range(max_hops):
            rows = [int(r) for v in frontier for r in self.rows.of_var[v] if int(r) not in seen_rows]
            if not rows:
                return None
            seen_rows.update(rows)
            cands = np.unique(np.concatenate([self.rows.vars[r] for r in rows]))
            pick = self.pick(cands, need)
            if pick is not None:
                return pick
            frontier = cands[self.hidden[cands]]
        return None

    def fix_failing(self, failing: np.ndarray, widths: np.ndarray) -> list[int]:
        """Hide one complement per failing variable (skipping ones sharing a row with a fixed one).

        One, not more: hiding several at once for cells that keep failing saves audit rounds on one
        release but hides more, and the next release, protected against this one, then needed five times
        as long (national data, 2025-12 after 2025-11: 34 s -> 188 s)."""
        touched: set[int] = set()
        hidden_now = []
        for var, width in sorted(zip(failing.tolist(), widths.tolist(), strict=True)):
            rows = self.rows.of_var[var]
            if self.skip_shared and touched.intersection(rows.tolist()):
                continue
            pick = self._nearest_pick(var, self.margin - max(width, 0.0))
            if pick is None:
                continue
            self.hide(pick)
            hidden_now.append(pick)
            touched.update(rows.tolist())
        return hidden_now


def secondary_suppression(
    system: CellSystem,
    primary: np.ndarray,
    rules: Rules,
    protected: np.ndarray,
    max_rounds: int = 200,
) -> tuple[np.ndarray, np.ndarray, list[CellId]]:
    """Add complementary suppressions to ``primary`` (bool per cell) until the LP audit passes.

    Returns (mask per cell, reason per cell for the added cells, unprotectable cell ids).
    """
    margin = rules.margin
    hidden0 = hidden_variables(system, primary)
    targets = system.published | primary  # structural cells need protection only when sensitive
    var_prot = np.zeros(system.n_vars, dtype=bool)
    np.logical_or.at(var_prot, system.cell_var, protected)
    in_cur = np.zeros(system.n_vars, dtype=bool)
    np.logical_or.at(in_cur, system.cell_var, system.in_current)
    # only current cells that are still unknown to everybody are worth hiding
    allowed = in_cur & ~var_prot & hidden_variables(system, np.ones(system.n_cells, dtype=bool))
    allowed &= ~_pinned(system, ~allowed & ~hidden0)
    must = _any_per_var(system, system.in_current & targets) | _any_per_var(
        system, system.in_previous & ~system.prev_published
    )
    state = _State(system, hidden0.copy(), allowed, must, margin)
    start = np.unique(
        np.concatenate([state.rows.of_var[v] for v in np.flatnonzero(hidden0)] or [np.zeros(0, int)])
    )
    state.combinatorial(start)
    reason = {v: "secondary:row" for v in state.added}
    check: np.ndarray | None = None  # None = every hidden variable
    unprotectable: set[int] = set()
    for _ in range(max_rounds):
        res = attack(system, _cell_mask(system, state.hidden) & targets, margin, exact=False, only_vars=check)
        bad = res.loc[~res["passes"]].drop_duplicates("var")
        if bad.empty:
            break
        state.added = []
        fixed = state.fix_failing(bad["var"].to_numpy(), bad["width"].fillna(0).to_numpy())
        if not fixed:
            unprotectable.update(bad["var"].tolist())
            break
        reason.update({v: "secondary:audit" for v in fixed})
        state.combinatorial(np.concatenate([state.rows.of_var[v] for v in fixed]))
        reason.update({v: "secondary:row" for v in state.added if v not in reason})
        check = np.unique(np.concatenate([bad["var"].to_numpy(), state.added]))
    mask = _cell_mask(system, state.hidden) & targets
    reasons = np.full(system.n_cells, "", dtype=object)
    for c in np.flatnonzero(mask):
        reasons[c] = reason.get(int(system.cell_var[c]), "")
    cells = [system.cells[c] for c in np.flatnonzero(mask) if system.cell_var[c] in unprotectable]
    return mask, reasons, cells


def _pinned(system: CellSystem, known: np.ndarray) -> np.ndarray:
    """Variables a row determines from variables that can never be hidden (protected totals, cells an
    earlier release published), propagated row by row: hiding one of them would protect nothing."""
    A = system.A.tocsr()
    known = known.copy()
    pinned = np.zeros(system.n_vars, dtype=bool)
    while True:
        unknown_per_row = (
            A.multiply(~known[None, :]).astype(bool).sum(axis=1).A1 if A.shape[0] else np.zeros(0)
        )
        rows = np.flatnonzero(unknown_per_row == 1)
        if len(rows) == 0:
            return pinned
        sub = A[rows]
        cols = np.unique(sub.indices[~known[sub.indices]])
        if len(cols) == 0:
            return pinned
        pinned[cols] = True
        known[cols] = True


def _cell_mask(system: CellSystem, hidden_vars: np.ndarray) -> np.ndarray:
    """Current cells whose variable is hidden."""
    return hidden_vars[system.cell_var] & system.in_current


def protect(
    tables: Mapping[str, pd.DataFrame],
    specs: Sequence[TableSpec],
    links: Sequence[Link] = (),
    rules: Rules | None = None,
    previous: PreviousRelease | None = None,
    previous_suppressed: Iterable[CellId] = (),
    audit: bool = True,
    exact_audit: bool = True,
    audit_workers: int = 1,
) -> Protection:
    """Primary + secondary suppression of a release, then an exact LP audit.

    ``previous``: the earlier release of the same period (its published cells are known to an attacker,
    its hidden cells stay hidden). ``previous_suppressed``: further cell ids that must stay suppressed.
    ``exact_audit=False`` makes the final audit certify widths instead of computing exact bounds;
    ``audit_workers`` processes share the exact bounds of the final audit's large components.
    """
    rules = rules or Rules()
    system = build_system(tables, specs, links, previous)
    protected = never_suppress_mask(system, rules, system.dimensions)
    primary, reasons = primary_suppression(system, rules, protected)
    carried = np.zeros(system.n_cells, dtype=bool)
    for cid in {*previous_suppressed, *(previous.suppressed if previous else ())}:
        if cid in system.index:
            carried[system.index[cid]] = True
    carried = _cell_mask(system, _any_per_var(system, carried)) & system.published & ~primary
    reasons[carried] = "previous"
    start = primary | carried
    mask, sec_reasons, unprotectable = secondary_suppression(system, start, rules, protected)
    added = mask & ~start
    reasons[added] = sec_reasons[added]
    # exact = two LPs per hidden cell (slow on national releases); otherwise certified inner intervals
    result = attack(system, mask, rules.margin, exact=exact_audit, workers=audit_workers) if audit else None
    return Protection(system, mask, reasons, primary, result, unprotectable)


def _any_per_var(system: CellSystem, cell_flags: np.ndarray) -> np.ndarray:
    per_var = np.zeros(system.n_vars, dtype=bool)
    np.logical_or.at(per_var, system.cell_var, cell_flags)
    return per_var
