"""An outside attack on a sequence of releases, reading only what they publish (the tables and the ptable).

Independent of ``pipelines.stage5_protection``: the attacker models the unknown true counts at the finest
grain any release is built from, a *leaf* per (release, municipality, month of arrival, leaf category of
each table), and every published figure as a sum of leaves, with everything an attacker knows:

* each table's categories partition the same reports: per (release, municipality, month) the outcomes,
  the reporters and the identification leaves have the same total, and within + after 14 days = opened +
  not opened (decided);
* between releases: a month's reports only grow (late reports), by reporter and identified ones too;
  opened, not opened, ongoing, within and after 14 days only grow; undecided only falls;
* a published figure p: the true count lies in [p - L, p + L] (the published ptable's support; L = 0 for a
  release published without noise); a figure shown as ``..``: p was 1..threshold where that is the only
  reason to hide (``hidden_small``), else nothing (secondary suppression); counts are >= 0.

Then it bounds targets by linear programming (min and max): a municipality's count in one month (what
differencing two years to date aims at) and every municipal figure of the last release.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.optimize import linprog

LEAVES = {
    "outcomes": ("outcome", ["opened", "not_opened", "ongoing", "undecided"]),
    "identification": ("child", ["identified", "unidentified"]),
    "decision_time": ("timing", ["within_deadline", "after_deadline"]),
}
# the published categories of the wide tables, as sums of leaves
CATEGORIES = {
    "outcomes": {
        "total": ["opened", "not_opened", "ongoing", "undecided"],
        "decided": ["opened", "not_opened"],
    },
    "identification": {"total": ["identified", "unidentified"]},
    "decision_time": {"decided": ["within_deadline", "after_deadline"]},
}
GROWS = {("outcomes", c) for c in ["opened", "not_opened", "ongoing"]} | {
    ("decision_time", c) for c in ["within_deadline", "after_deadline"]
}
FALLS = {("outcomes", "undecided")}


@dataclass
class Model:
    """Leaves (variables) and the constraints ``A_eq x = b_eq``, ``A_ub x <= b_ub``."""

    index: dict[tuple, int] = field(default_factory=dict)
    eq: list[tuple[dict[int, float], float]] = field(default_factory=list)
    ub: list[tuple[dict[int, float], float]] = field(default_factory=list)

    def var(self, key: tuple) -> int:
        return self.index.setdefault(key, len(self.index))

    def between(self, terms: dict[int, float], low: float, high: float) -> None:
        self.ub.append((terms, high))
        self.ub.append(({v: -c for v, c in terms.items()}, -low))

    def matrices(self) -> tuple[sp.csr_matrix, np.ndarray, sp.csr_matrix, np.ndarray]:
        def build(rows: list[tuple[dict[int, float], float]]) -> tuple[sp.csr_matrix, np.ndarray]:
            r, c, d = [], [], []
            for i, (terms, _) in enumerate(rows):
                for v, coef in terms.items():
                    r.append(i)
                    c.append(v)
                    d.append(coef)
            shape = (len(rows), len(self.index))
            return sp.csr_matrix((d, (r, c)), shape=shape), np.array([b for _, b in rows], dtype=float)

        return (*build(self.eq), *build(self.ub))


def _months(period_type: str, period: str, release: str) -> list[str]:
    year = period[:4]
    if period_type == "month":
        return [period]
    if period_type == "quarter":
        q = int(period[-1])
        return [f"{year}-{m:02d}" for m in range(3 * q - 2, 3 * q + 1)]
    last = int(release[5:]) if year == release[:4] else 12
    return [f"{year}-{m:02d}" for m in range(1, last + 1)]


def _leaf_categories(name: str, code: str, reporters: list[str]) -> list[str]:
    if name == "reporters":
        return reporters if code == "total" else [code]
    return CATEGORIES[name].get(code, [code])


def build_model(
    folders: dict[str, Path],
    kommuner: list[str],
    lan_of: dict[str, str],
    max_noise: int,
    hidden_small: bool = True,
) -> Model:
    """The attacker's model of the releases in ``folders`` (release id -> folder), in release order."""
    model = Model()
    releases = sorted(folders)
    reporters = sorted(
        set(pd.read_parquet(folders[releases[-1]] / "reporters.parquet")["reporter_group"]) - {"total"}
    )
    leaves = {**{n: c for n, (_, c) in LEAVES.items()}, "reporters": reporters}
    months = sorted({f"{r[:4]}-{m:02d}" for r in releases for m in range(1, int(r[5:]) + 1)})
    for release in releases:
        arrived = [m for m in months if m <= release]
        for k in kommuner:
            for m in arrived:
                key = (release, k, m)
                sums = {n: {model.var((*key, n, c)): 1.0 for c in cats} for n, cats in leaves.items()}
                for other in ("reporters", "identification"):  # the same reports in every partition
                    model.eq.append(({**sums["outcomes"], **{v: -1.0 for v in sums[other]}}, 0.0))
                decided = {model.var((*key, "outcomes", c)): 1.0 for c in ("opened", "not_opened")}
                model.eq.append(({**decided, **{v: -1.0 for v in sums["decision_time"]}}, 0.0))
    _between_releases(model, releases, kommuner, months, leaves)
    for release in releases:
        _published(model, release, folders[release], kommuner, lan_of, reporters, (max_noise, hidden_small))
    return model


def _between_releases(
    model: Model, releases: list[str], kommuner: list[str], months: list[str], leaves
) -> None:
    for before, after in itertools.pairwise(releases):
        for k in kommuner:
            for m in (m for m in months if m <= before):
                for name, cats in leaves.items():
                    for cat in cats:
                        a, b = model.var((before, k, m, name, cat)), model.var((after, k, m, name, cat))
                        if (name, cat) in GROWS:
                            model.ub.append(({a: 1.0, b: -1.0}, 0.0))
                        elif (name, cat) in FALLS:
                            model.ub.append(({b: 1.0, a: -1.0}, 0.0))
                        elif name == "reporters" or (name, cat) == ("identification", "identified"):
                            model.ub.append(({a: 1.0, b: -1.0}, 0.0))


def _published(
    model: Model,
    release: str,
    folder: Path,
    kommuner: list[str],
    lan_of: dict[str, str],
    reporters: list[str],
    knowledge: tuple[int, bool],
) -> None:
    max_noise, hidden_small = knowledge
    for name in ("outcomes", "reporters", "identification", "decision_time"):
        table = pd.read_parquet(folder / f"{name}.parquet")
        table = table.loc[table["period"].str[:4] == release[:4]]  # the last year held no reports
        dim = "reporter_group" if name == "reporters" else LEAVES[name][0]
        for row in table.itertuples(index=False):
            geo = row.geo_code
            ks = kommuner if geo == "00" else [k for k in kommuner if lan_of[k] == geo or k == geo]
            months = [m for m in _months(row.period_type, row.period, release) if m <= release]
            cats = _leaf_categories(name, getattr(row, dim), reporters)
            terms = {model.var((release, k, m, name, c)): 1.0 for k in ks for m in months for c in cats}
            if not terms:
                continue
            if row.status == ".." and hidden_small:
                model.between(terms, 1 - max_noise, 4 + max_noise)
            elif row.status == "..":
                continue
            else:
                value = float(row.value)
                model.between(terms, value - max_noise, value + max_noise)


class _Solver:
    """The attacker's LP, built once; each target changes only the objective, so HiGHS re-solves from the
    last basis (primal simplex), a few iterations instead of a cold start. scipy's linprog if the bundled
    bindings are missing."""

    def __init__(self, model: Model) -> None:
        A_eq, b_eq, A_ub, b_ub = model.matrices()
        self.n = len(model.index)
        self.args = {"A_ub": A_ub, "b_ub": b_ub, "A_eq": A_eq, "b_eq": b_eq, "bounds": (0, None)}
        try:
            from scipy.optimize._highspy import _core as hs
        except ImportError:  # pragma: no cover - depends on the scipy build
            self.h = None
            return
        A = sp.vstack([A_eq, A_ub]).tocsc()
        lp = hs.HighsLp()
        lp.num_col_, lp.num_row_ = self.n, A.shape[0]
        lp.col_cost_, lp.col_lower_, lp.col_upper_ = (
            np.zeros(self.n),
            np.zeros(self.n),
            np.full(self.n, np.inf),
        )
        lp.row_lower_ = np.r_[b_eq, np.full(len(b_ub), -np.inf)]
        lp.row_upper_ = np.r_[b_eq, b_ub]
        mat = lp.a_matrix_
        mat.format_ = hs.MatrixFormat.kColwise
        mat.start_, mat.index_, mat.value_ = A.indptr, A.indices, A.data
        mat.num_col_, mat.num_row_ = self.n, A.shape[0]
        self.hs, self.h = hs, hs._Highs()
        self.h.setOptionValue("output_flag", False)
        self.h.setOptionValue("simplex_strategy", 4)
        self.h.passModel(lp)

    def minimum(self, c: np.ndarray, name: str) -> float:
        if self.h is not None:
            self.h.changeColsCost(self.n, np.arange(self.n, dtype=np.int32), c)
            self.h.run()
            if self.h.getModelStatus() == self.hs.HighsModelStatus.kOptimal:
                return float(self.h.getInfo().objective_function_value)
        res = linprog(c, method="highs", **self.args)
        if res.status != 0:
            raise AssertionError(f"the attacker's model is infeasible or unbounded for {name}: {res.message}")
        return float(res.fun)


def bounds(model: Model, targets: dict[str, dict[int, float]]) -> pd.DataFrame:
    """Min and max of each target (a sum of leaves) over everything the attacker knows."""
    solver = _Solver(model)
    rows = []
    for name, terms in targets.items():
        c = np.zeros(solver.n)
        for v, coef in terms.items():
            c[v] = coef
        rows.append((name, solver.minimum(c, name), -solver.minimum(-c, name)))
    out = pd.DataFrame(rows, columns=["target", "lower", "upper"])
    out["width"] = out["upper"] - out["lower"]
    return out


def monthly_targets(
    model: Model, release: str, kommuner: list[str], reporters: list[str]
) -> dict[str, dict[int, float]]:
    """Each municipality's count of reports (and per reporter) in each month, as of ``release``."""
    out = {}
    months = [f"{release[:4]}-{m:02d}" for m in range(1, int(release[5:]) + 1)]
    for k in kommuner:
        for m in months:
            total = [model.index[(release, k, m, "outcomes", c)] for c in LEAVES["outcomes"][1]]
            out[f"{k} {m} total"] = dict.fromkeys(total, 1.0)
            for g in reporters:
                out[f"{k} {m} {g}"] = {model.index[(release, k, m, "reporters", g)]: 1.0}
    return out
