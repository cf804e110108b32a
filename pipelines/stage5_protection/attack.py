"""Independent LP attack on a suppression pattern (the audit). Must not import ``secondary``.

Given only what an outsider sees — published cells with values, the constraint system, non-negativity and
optionally a previous release's published cells — compute the tightest interval [lower, upper] of every
suppressed cell by minimising and maximising it with HiGHS. A release fails if any suppressed cell is
exactly determined or bounded more tightly than the protection margin.

Speed: suppressed variables split into connected components (variables sharing a constraint row); each
is attacked alone with published cells as constants. Within a component one HiGHS instance is re-solved
with changing objectives (simplex hot start), and every solution is a feasible point whose coordinates
certify lower/upper bounds of *other* cells: a lower bound of 0 seen in any point is exact (x >= 0), and
in the fast mode (``exact=False``) a cell whose seen spread already reaches the margin needs no LP.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.optimize import linprog
from scipy.sparse.csgraph import connected_components

from pipelines.stage5_protection.model import CellSystem

try:  # scipy's bundled HiGHS bindings allow hot starts; linprog (also HiGHS) is the fallback
    from scipy.optimize._highspy import _core as _hs
except ImportError:  # pragma: no cover - depends on the scipy build
    _hs = None

TOL = 1e-6
PARALLEL_MIN_TARGETS = 1500  # below this a component's exact bounds take a few seconds: not worth processes
COLUMNS = ["cell", "var", "table", "key", "value", "lower", "upper", "width", "exact", "passes"]


class _LP:
    """min c @ x  s.t.  A x = b, 0 <= x <= ub, for a changing objective c."""

    def __init__(self, A: sp.csc_matrix, b: np.ndarray, ub: np.ndarray) -> None:
        self.A, self.b, self.ub = A, b, ub
        self.n = A.shape[1]
        self.h = self._highs() if _hs is not None else None

    def _highs(self):
        lp = _hs.HighsLp()
        lp.num_col_, lp.num_row_ = self.n, self.A.shape[0]
        lp.col_cost_ = np.zeros(self.n)
        lp.col_lower_, lp.col_upper_ = np.zeros(self.n), self.ub
        lp.row_lower_, lp.row_upper_ = self.b, self.b
        mat = lp.a_matrix_
        mat.format_ = _hs.MatrixFormat.kColwise
        mat.start_, mat.index_, mat.value_ = self.A.indptr, self.A.indices, self.A.data
        mat.num_col_, mat.num_row_ = self.n, self.A.shape[0]
        h = _hs._Highs()
        h.setOptionValue("output_flag", False)
        h.setOptionValue("threads", 1)
        # only the objective changes between solves, so the last basis stays primal feasible: primal
        # simplex hot-starts in a few iterations, where the default (dual) needs thousands
        h.setOptionValue("simplex_strategy", 4)
        h.passModel(lp)
        return h

    def solve(self, c: np.ndarray) -> tuple[str, np.ndarray | None]:
        """Return ("optimal", x), ("unbounded", None) or ("infeasible", None)."""
        if self.h is None:
            return self._linprog(c)
        self.h.changeColsCost(self.n, np.arange(self.n, dtype=np.int32), c)
        self.h.run()
        status = self.h.getModelStatus()
        if status == _hs.HighsModelStatus.kOptimal:
            return "optimal", np.asarray(self.h.getSolution().col_value)
        if status == _hs.HighsModelStatus.kUnbounded:
            return "unbounded", None
        if status == _hs.HighsModelStatus.kInfeasible:
            return "infeasible", None
        return self._linprog(c)  # anything odd (e.g. unbounded-or-infeasible): ask linprog afresh

    def _linprog(self, c: np.ndarray) -> tuple[str, np.ndarray | None]:
        res = linprog(c, A_eq=self.A, b_eq=self.b, bounds=np.c_[np.zeros(self.n), self.ub], method="highs")
        if res.status == 0:
            return "optimal", res.x
        return ("unbounded" if res.status == 3 else "infeasible"), None


def hidden_variables(system: CellSystem, suppressed: np.ndarray) -> np.ndarray:
    """Variables nobody can read: every cell of them is suppressed or structural now, and was never
    published before."""
    seen = (system.in_current & system.published & ~suppressed) | (system.in_previous & system.prev_published)
    known = np.zeros(system.n_vars, dtype=bool)
    np.logical_or.at(known, system.cell_var, seen)
    return ~known


def components(system: CellSystem, hidden: np.ndarray) -> tuple[np.ndarray, np.ndarray, sp.csr_matrix]:
    """Label hidden variables by connected component of the graph 'share a constraint row'.

    Returns (hidden variable indices, component label per hidden variable, A restricted to hidden cols).
    """
    hv = np.flatnonzero(hidden)
    Ah = system.A[:, hv].tocsr()
    m = Ah.shape[0]
    inc = (Ah != 0).astype(np.int8)
    graph = sp.bmat([[None, inc], [inc.T, None]], format="csr")  # bipartite rows <-> variables
    if graph.shape[0] == 0:
        return hv, np.zeros(0, dtype=np.int64), Ah
    _, labels = connected_components(graph, directed=False)
    return hv, labels[m:], Ah


def _component_lps(
    system: CellSystem, hidden: np.ndarray, targets: np.ndarray, upper: np.ndarray | None
) -> Iterator[tuple[np.ndarray, _LP]]:
    """Yield (variable indices, LP over them) for each component holding a target variable."""
    hv, labels, Ah = components(system, hidden)
    known_vals = np.where(hidden, 0.0, system.values)
    rhs = -(system.A @ known_vals)  # A_h x_h = -A_k x_k
    wanted = np.unique(labels[targets[hv]])
    order = np.argsort(labels, kind="stable")
    starts = np.searchsorted(labels[order], wanted)
    ends = np.searchsorted(labels[order], wanted, side="right")
    for s, e in zip(starts, ends, strict=True):
        local = np.sort(order[s:e])
        sub = Ah[:, local]
        rows = np.flatnonzero(np.diff(sub.tocsr().indptr) > 0)
        ub = np.full(len(local), np.inf) if upper is None else upper[hv[local]].astype(float)
        yield hv[local], _LP(sub[rows].tocsc(), rhs[rows], ub)


def _bound_component(
    lp: _LP, targets: np.ndarray, margin: float, exact: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lower/upper of the component's target columns; returns (lower, upper, bounds_exact flags)."""
    n = lp.n
    lo_seen, hi_seen = np.full(n, np.inf), np.full(n, -np.inf)
    lo, hi = np.full(n, np.nan), np.full(n, np.nan)
    lo_prior, hi_prior = _row_bounds(lp)

    def see(x: np.ndarray | None) -> None:
        if x is not None:
            np.minimum(lo_seen, x, out=lo_seen)
            np.maximum(hi_seen, x, out=hi_seen)

    # group probes: push every not-yet-certified target up (then down) at once; one LP often certifies
    # hundreds of cells, so only the stubborn ones need their own LPs. After the first round the push
    # has random (seeded) signs: cells sharing a row cannot all go up at once, but half of them can.
    signs = np.random.default_rng(20251)
    for round_ in range(8):
        open_ = targets[hi_seen[targets] - lo_seen[targets] < margin]
        if len(open_) < 8:
            break
        direction = np.ones(len(open_)) if round_ == 0 else signs.choice([-1.0, 1.0], len(open_))
        for sign in (-1.0, 1.0):
            c = np.zeros(n)
            c[open_] = sign * direction
            status, x = lp.solve(c)
            if status == "infeasible":
                raise ValueError("published figures are inconsistent with the constraints (LP infeasible)")
            see(x)
        if (hi_seen[open_] - lo_seen[open_] >= margin).mean() < 0.05:
            break
    if exact:  # the same for exactness: push every cell not yet at a bound its rows imply towards it
        for _ in range(6):
            up = targets[hi_seen[targets] < hi_prior[targets] - TOL]
            down = targets[lo_seen[targets] > lo_prior[targets] + TOL]
            if len(up) + len(down) < 8:
                break
            c = np.zeros(n)
            c[up], c[down] = -1.0, 1.0
            see(lp.solve(c)[1])
            still = (hi_seen[up] < hi_prior[up] - TOL).sum() + (lo_seen[down] > lo_prior[down] + TOL).sum()
            if still > 0.95 * (len(up) + len(down)):
                break
    c = np.zeros(n)
    for j in targets:
        if not exact and np.isfinite(lo_seen[j]) and hi_seen[j] - lo_seen[j] >= margin:
            continue
        if hi_seen[j] >= hi_prior[j] - TOL:
            hi[j] = hi_prior[j]  # a feasible point at a bound its rows imply is the maximum
        else:
            if not exact:  # nudge the other open cells up too: one LP then certifies several cells
                nudge = targets[hi_seen[targets] - lo_seen[targets] < margin]
                c[nudge] = -1e-3
            c[j] = -1.0
            status, x = lp.solve(c)
            if not exact and x is not None and x[j] - lo_seen[j] < margin:
                c[:] = 0.0  # not certified: the exact maximum decides
                c[j] = -1.0
                status, x = lp.solve(c)
            hi[j] = np.inf if status == "unbounded" else (x[j] if x is not None else np.nan)
            see(x)
        if lo_seen[j] <= lo_prior[j] + TOL:
            lo[j] = lo_prior[j]  # a feasible point at a bound its rows imply (or x >= 0) is the minimum
        elif exact or not _spread(hi[j], lo_seen[j]) >= margin:  # (unknown spread: solve)
            c[j] = 1.0
            status, x = lp.solve(c)
            lo[j] = x[j] if x is not None else np.nan
            see(x)
        c[:] = 0.0
    done = ~np.isnan(lo) & ~np.isnan(hi)
    lo = np.where(np.isnan(lo), lo_seen, lo)
    hi = np.where(np.isnan(hi), hi_seen, hi)
    return np.maximum(lo, 0.0), hi, done


def _bound_chunk(args: tuple) -> tuple[np.ndarray, np.ndarray]:
    A, b, ub, targets, margin, exact = args
    lo, hi, _ = _bound_component(_LP(A, b, ub), targets, margin, exact)
    return lo[targets], hi[targets]


def _bound_in_processes(
    lp: _LP, targets: np.ndarray, margin: float, workers: int, exact: bool
) -> tuple[np.ndarray, np.ndarray] | None:
    """Bounds of a large component, its targets split into contiguous chunks (neighbouring cells share
    probes) solved in ``workers`` fresh processes (spawned: no state inherited from the caller).

    Which cells pass does not depend on the split: a cell is either certified by a feasible point or
    decided by its exact optima. Exact bounds do not depend on it either; only the inner intervals that
    the fast mode reports for passing cells may."""
    chunks = [chunk for chunk in np.array_split(targets, workers) if len(chunk)]
    lo, hi = np.full(lp.n, np.nan), np.full(lp.n, np.nan)
    context = multiprocessing.get_context("spawn")
    try:
        with ProcessPoolExecutor(len(chunks), mp_context=context) as pool:
            jobs = [(lp.A, lp.b, lp.ub, chunk, margin, exact) for chunk in chunks]
            for chunk, (low, high) in zip(chunks, pool.map(_bound_chunk, jobs), strict=True):
                lo[chunk], hi[chunk] = low, high
    except (BrokenProcessPool, RuntimeError, OSError):
        # no processes here (a script without a __main__ guard, a sandbox): the caller solves in-process
        return None
    return lo, hi


def _row_bounds(lp: _LP, rounds: int = 30) -> tuple[np.ndarray, np.ndarray]:
    """Bounds implied by the rows, propagated (interval arithmetic, as an LP presolve does).

    In a row ``sum_k a_k x_k = b`` each ``a_j x_j`` lies between ``b`` minus the largest and ``b`` minus the
    smallest the other terms can be, given their current bounds (``x >= 0`` to start with). These bounds
    are valid but not always attained; a probe solution that reaches one proves it is the LP's optimum, so
    that cell needs no LP of its own.
    """
    A = lp.A.tocsr()
    m = A.shape[0]
    rows = np.repeat(np.arange(m), np.diff(A.indptr))
    cols, a = A.indices, A.data
    lower, upper = np.zeros(lp.n), np.asarray(lp.ub, dtype=float).copy()
    for _ in range(rounds):
        low_term = np.where(a > 0, a * lower[cols], a * upper[cols])  # smallest a_k x_k can be
        high_term = np.where(a > 0, a * upper[cols], a * lower[cols])
        others_low = _others_sum(rows, low_term, m)
        others_high = _others_sum(rows, high_term, m)
        ax_low, ax_high = lp.b[rows] - others_high, lp.b[rows] - others_low
        new_low = np.where(a > 0, ax_low / a, ax_high / a)
        new_high = np.where(a > 0, ax_high / a, ax_low / a)
        low, high = lower.copy(), upper.copy()
        np.maximum.at(low, cols, new_low)
        np.minimum.at(high, cols, new_high)
        if np.allclose(low, lower, rtol=0, atol=1e-9, equal_nan=True) and np.array_equal(high, upper):
            break
        lower, upper = low, high
    return lower, upper


def _others_sum(rows: np.ndarray, terms: np.ndarray, m: int) -> np.ndarray:
    """For every entry of a row, the sum of the row's other terms (infinite when one of them is)."""
    infinite = np.isinf(terms)
    finite = np.where(infinite, 0.0, terms)
    total = np.bincount(rows, finite, minlength=m)
    n_inf = np.bincount(rows, infinite, minlength=m)
    sign = np.bincount(rows, np.where(infinite, np.sign(terms), 0.0), minlength=m)
    others = total[rows] - finite
    other_inf = n_inf[rows] - infinite
    # all infinite terms of one row share a sign (lows are -inf, highs +inf), so their sign is the sum's
    return np.where(other_inf > 0, np.copysign(np.inf, sign[rows]), others)


def _spread(high: float, low: float) -> float:
    """high - low, NaN when both are infinite (nothing seen yet) instead of a warning."""
    return float("nan") if np.isinf(high) and np.isinf(low) else high - low


def attack(
    system: CellSystem,
    suppressed: np.ndarray,
    margin: float = 4.0,
    upper: np.ndarray | None = None,
    exact: bool = True,
    only_vars: np.ndarray | None = None,
    workers: int = 1,
) -> pd.DataFrame:
    """Bound every suppressed current cell by LP, given only what is published.

    ``suppressed``: bool per cell of the current release (other cells are ignored; a previous release's
    hidden cells come from the system and are reported too). ``upper``: optional known upper bound per variable. With
    ``exact=False`` cells already certified wide enough by probe solutions skip their LPs (their
    reported interval is then an inner bound of the true one). ``only_vars``: restrict the attack to
    the components holding these variables. ``workers``: processes sharing the exact bounds of a large
    component (its targets split between them; exact optima do not depend on the split). Returns one
    row per suppressed current cell with columns cell, var, table, key, value, lower, upper, width,
    exact, passes.
    """
    suppressed = np.asarray(suppressed, dtype=bool) & system.in_current
    hidden = hidden_variables(system, suppressed)
    # cells hidden by a previous release and absent now must not be revealed by this one either
    suppressed = suppressed | (system.in_previous & ~system.prev_published & ~system.in_current)
    targets = np.zeros(system.n_vars, dtype=bool)
    targets[system.cell_var[suppressed]] = True
    targets &= hidden
    if only_vars is not None:
        keep = np.zeros(system.n_vars, dtype=bool)
        keep[only_vars] = True
        targets &= keep
    lower = np.full(system.n_vars, np.nan)
    upper_b = np.full(system.n_vars, np.nan)
    for vars_, lp in _component_lps(system, hidden, targets, upper):
        local_targets = np.flatnonzero(targets[vars_])
        # the fast mode certifies a large component in seconds: processes would cost more to start
        parallel = exact and workers > 1 and len(local_targets) >= PARALLEL_MIN_TARGETS
        bounds = _bound_in_processes(lp, local_targets, margin, workers, exact) if parallel else None
        if bounds is not None:
            lo, hi = bounds
        else:
            lo, hi, _ = _bound_component(lp, local_targets, margin, exact)
        lower[vars_[local_targets]] = lo[local_targets]
        upper_b[vars_[local_targets]] = hi[local_targets]
    # a suppressed cell whose variable is readable elsewhere (published link, previous release) is exact
    readable = system.cell_var[suppressed][~hidden[system.cell_var[suppressed]]]
    lower[readable] = upper_b[readable] = system.values[readable]
    return _result_frame(system, suppressed, lower, upper_b, margin, only_vars)


def _result_frame(
    system: CellSystem,
    suppressed: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    margin: float,
    only_vars: np.ndarray | None,
) -> pd.DataFrame:
    cells = np.flatnonzero(suppressed)
    vars_ = system.cell_var[cells]
    if only_vars is not None:
        keep = np.isin(vars_, only_vars)
        cells, vars_ = cells[keep], vars_[keep]
    width = upper[vars_] - lower[vars_]
    return pd.DataFrame(
        {
            "cell": cells,
            "var": vars_,
            "table": [system.cells[c][0] for c in cells],
            "key": [system.cells[c][1] for c in cells],
            "value": system.values[vars_],
            "lower": lower[vars_],
            "upper": upper[vars_],
            "width": width,
            "exact": width < TOL,
            "passes": width >= margin - TOL,
        },
        columns=COLUMNS,
    )


def audit_passes(result: pd.DataFrame) -> bool:
    """True when no suppressed cell is exactly determined or bounded inside the margin."""
    return bool(result["passes"].all()) if len(result) else True
