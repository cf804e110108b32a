"""Data model of the disclosure-control engine: tables, hierarchies, links and one linear system.

A *cell* is identified by ``(table name, tuple of dimension codes)``. Tables are long-format DataFrames
(dimension columns + an integer ``value`` column) that include their margins as rows. An optional bool
column ``published`` marks *structural* rows (False): quantities that are part of the arithmetic but
never published, e.g. a municipality's single month when only its year to date is published. They are
hidden from the attacker from the start and need protection only when they are sensitive themselves. Every additive
hierarchy gives equality constraints ``parent - sum(children) = 0`` (other dimensions held fixed), and
every link says two cells of different tables are the same quantity, so they become one *variable*.

The engine knows nothing of the statistics pipeline: codes are plain strings.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

CellId = tuple[str, tuple[str, ...]]


@dataclass(frozen=True)
class Hierarchy:
    """Parent code -> child codes of one dimension; a parent equals the sum of its children.

    ``additive=False`` declares a dimension whose children overlap (one report counted under each of its
    causes): it contributes no sum constraint, but its parent/child pairs still feed the group rule.
    Multi-level hierarchies list every level: ``{"00": [län...], "01": ["0114", ...], ...}``.
    """

    children: Mapping[str, Sequence[str]]
    additive: bool = True

    @staticmethod
    def flat(total: str, categories: Sequence[str], additive: bool = True) -> Hierarchy:
        """One total over a list of categories."""
        return Hierarchy({total: list(categories)}, additive)

    def roots(self) -> set[str]:
        """Codes that are parents but nobody's child (the top of the hierarchy)."""
        kids = {c for cs in self.children.values() for c in cs}
        return set(self.children) - kids


@dataclass(frozen=True)
class TableSpec:
    """A table's dimension columns (in key order) and a hierarchy (or None) per dimension."""

    name: str
    dimensions: Sequence[str]
    hierarchies: Mapping[str, Hierarchy | None] = field(default_factory=dict)
    value_column: str = "value"


@dataclass(frozen=True)
class Link:
    """Cells of ``left`` matching ``left_where`` equal cells of ``right`` matching ``right_where``.

    Rows are paired on ``on`` (left dimension -> right dimension); by default on every dimension the
    two tables share by name that is not fixed by a ``where``. Example: the reporters table's total
    over reporters is the summary table's count for the same geography and month::

        Link("reporters", "summary", left_where={"reporter": "total"})
    """

    left: str
    right: str
    left_where: Mapping[str, str] = field(default_factory=dict)
    right_where: Mapping[str, str] = field(default_factory=dict)
    on: Mapping[str, str] | None = None


@dataclass(frozen=True)
class PreviousRelease:
    """An earlier release: its tables (valued as the attacker saw them, as of its own extract month),
    specs, links and the cells it hid.

    It enters the system as tables of its own (``previous|<table>``) with its own additivity. A cell id
    means the same quantity in both releases where the figure was not revised: a cumulative figure
    carries its period end in its code (``"2025-YTD02"`` = Jan–Feb, ``"2025-YTD03"`` = Jan–Mar), so the
    previous release's YTD02 and the YTD02 behind this release's YTD03 are one variable when their
    values agree, and release 2's YTD minus release 1's YTD is one more constraint the attack can use.
    A revised figure (decisions made since, a late report) is a different quantity. An attacker who
    assumes that decisions only accumulate could still derive inequalities between the two; the audit
    does not model those.
    """

    tables: Mapping[str, pd.DataFrame]
    specs: Sequence[TableSpec]
    links: Sequence[Link] = ()
    suppressed: frozenset[CellId] = frozenset()


@dataclass(frozen=True)
class Family:
    """One parent cell and its child cells along one dimension (cell indices, not variables)."""

    parent: int
    children: np.ndarray
    dimension: str
    additive: bool


@dataclass
class CellSystem:
    """All cells, their merged variables, values and the sparse constraints ``A @ x = 0``.

    ``cells[i]`` is cell i's id; ``cell_var[i]`` its variable; ``values[v]`` the variable's value;
    ``A`` has one row per additive family (columns = variables). ``in_current``/``in_previous`` say
    which release a cell belongs to, ``prev_published`` whether the previous release published it, and
    ``published`` whether a current cell is meant for publication at all (False for structural cells).
    """

    cells: list[CellId]
    index: dict[CellId, int]
    cell_var: np.ndarray
    values: np.ndarray
    A: sp.csr_matrix
    families: list[Family]
    grand_totals: np.ndarray
    in_current: np.ndarray
    in_previous: np.ndarray
    prev_published: np.ndarray
    dimensions: dict[str, list[str]] = field(default_factory=dict)
    published: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))

    @property
    def n_cells(self) -> int:
        return len(self.cells)

    @property
    def n_vars(self) -> int:
        return len(self.values)

    def var(self, cell: CellId) -> int:
        """The variable of a cell id."""
        return int(self.cell_var[self.index[cell]])

    def var_cells(self) -> list[list[int]]:
        """For each variable, its cell indices (linked cells share one variable)."""
        out: list[list[int]] = [[] for _ in range(self.n_vars)]
        for c, v in enumerate(self.cell_var):
            out[v].append(c)
        return out

    def cell_frame(self) -> pd.DataFrame:
        """One row per cell: cell, var, table, key, value."""
        return pd.DataFrame(
            {
                "cell": np.arange(self.n_cells),
                "var": self.cell_var,
                "table": [t for t, _ in self.cells],
                "key": [k for _, k in self.cells],
                "value": self.values[self.cell_var],
            }
        )


class _UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = np.arange(n)

    def find(self, a: int) -> int:
        p = self.parent
        while p[a] != a:
            p[a] = p[p[a]]
            a = p[a]
        return int(a)

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:  # the smaller index wins, so the canonical cell is stable
            self.parent[max(ra, rb)] = min(ra, rb)


def _keyed(df: pd.DataFrame, spec: TableSpec, unique: bool = True) -> pd.DataFrame:
    """The table's dimension columns as strings (codes), its value and a positional row number."""
    missing = [d for d in [*spec.dimensions, spec.value_column] if d not in df.columns]
    if missing:
        raise ValueError(f"table {spec.name!r} lacks columns {missing}")
    out = df[list(spec.dimensions)].astype(str).reset_index(drop=True)
    out["_value"] = pd.to_numeric(df[spec.value_column]).to_numpy(dtype=float)
    out["_published"] = df["published"].to_numpy(dtype=bool) if "published" in df.columns else True
    if unique and out.duplicated(list(spec.dimensions)).any():
        raise ValueError(f"table {spec.name!r} has duplicate keys")
    return out


def _keys(keyed: pd.DataFrame, spec: TableSpec) -> list[tuple[str, ...]]:
    return [tuple(r) for r in keyed[list(spec.dimensions)].itertuples(index=False, name=None)]


def _families(keyed: pd.DataFrame, spec: TableSpec, offset: int) -> list[Family]:
    """Parent/children families of every hierarchy, found by joining each child row to its parent row."""
    dims = list(spec.dimensions)
    frame = keyed[dims].copy()
    frame["_cell"] = np.arange(len(frame)) + offset
    out: list[Family] = []
    for dim in dims:
        hier = spec.hierarchies.get(dim)
        if hier is None:
            continue
        edges = pd.DataFrame(
            [(str(p), str(c)) for p, cs in hier.children.items() for c in cs], columns=["_parent", dim]
        )
        kids = frame.merge(edges, on=dim)
        others = [d for d in dims if d != dim]
        parents = frame.rename(columns={dim: "_parent", "_cell": "_pcell"})
        joined = kids.merge(parents, on=[*others, "_parent"])  # children whose parent row exists
        pair = joined[["_pcell", "_cell"]].to_numpy(dtype=np.int64)
        pair = pair[np.lexsort((pair[:, 1], pair[:, 0]))]  # by parent, children in order
        if len(pair) == 0:
            continue
        starts = np.flatnonzero(np.r_[True, pair[1:, 0] != pair[:-1, 0]])
        for pcell, kids_ in zip(pair[starts, 0], np.split(pair[:, 1], starts[1:]), strict=True):
            out.append(Family(int(pcell), kids_, dim, hier.additive))
    return out


def _link_pairs(link: Link, keyed: Mapping[str, pd.DataFrame], specs: Mapping[str, TableSpec]) -> np.ndarray:
    """Pairs of global cell indices (left, right) that a link declares equal."""
    frames = []
    for side, where in ((link.left, link.left_where), (link.right, link.right_where)):
        df = keyed[side]
        mask = np.ones(len(df), dtype=bool)
        for dim, code in where.items():
            mask &= (df[dim] == str(code)).to_numpy()
        frames.append(df.loc[mask])
    left, right = frames
    ldims, rdims = specs[link.left].dimensions, specs[link.right].dimensions
    on = dict(link.on) if link.on is not None else {d: d for d in ldims if d in rdims}
    on = {k: v for k, v in on.items() if k not in link.left_where and v not in link.right_where}
    free_left = set(ldims) - set(on) - set(link.left_where)
    free_right = set(rdims) - set(on.values()) - set(link.right_where)
    if free_left or free_right:
        raise ValueError(f"link {link.left}->{link.right}: unmatched dimensions {free_left | free_right}")
    lhs = left[[*on.keys(), "_cell"]]
    rhs = right[[*on.values(), "_cell"]].rename(columns={v: k for k, v in on.items()})
    pairs = lhs.merge(rhs, on=list(on), suffixes=("_l", "_r"))
    return pairs[["_cell_l", "_cell_r"]].to_numpy()


PREVIOUS = "previous|"  # prefix of the previous release's tables inside one system


def _as_previous(previous: PreviousRelease) -> tuple[dict[str, pd.DataFrame], list[TableSpec], list[Link]]:
    """The previous release's tables, specs and links under their own names (``previous|<table>``)."""
    tables = {PREVIOUS + name: df for name, df in previous.tables.items()}
    specs = [
        TableSpec(PREVIOUS + s.name, s.dimensions, s.hierarchies, s.value_column) for s in previous.specs
    ]
    links = [
        Link(PREVIOUS + lk.left, PREVIOUS + lk.right, lk.left_where, lk.right_where, lk.on)
        for lk in previous.links
        if PREVIOUS + lk.left in tables and PREVIOUS + lk.right in tables
    ]
    return tables, specs, links


def _same_quantity(
    cells: list[CellId], index: Mapping[CellId, int], values: np.ndarray, links: Sequence[Link]
) -> np.ndarray:
    """Pairs (previous cell, current cell) with the same id and the same value: the attacker may take
    them for one quantity. A figure revised since (a decision made, a late report) is another quantity.
    The current cell may sit in a table linked key for key to the previous one (an increment table)."""
    aliases: dict[str, list[str]] = {}
    for lk in links:
        if not lk.left_where and not lk.right_where and lk.on is None:
            aliases.setdefault(lk.right, []).append(lk.left)
    pairs = []
    for i, (table, key) in enumerate(cells):
        if table.startswith(PREVIOUS):
            name = table[len(PREVIOUS) :]
            for alias in [name, *aliases.get(name, [])]:
                j = index.get((alias, key))
                if j is not None and values[i] == values[j]:
                    pairs.append((i, j))
    return np.array(pairs, dtype=np.int64).reshape(-1, 2)


def build_system(
    tables: Mapping[str, pd.DataFrame],
    specs: Sequence[TableSpec],
    links: Sequence[Link] = (),
    previous: PreviousRelease | None = None,
) -> CellSystem:
    """Build one sparse linear system over all cells of all tables (and of a previous release).

    Variables are the distinct cells after linking; rows are ``parent - sum(children) = 0`` for every
    family of every additive hierarchy. A cell present in both releases must have the same value (a
    revised figure is a different quantity: give it a different code or table name).
    """
    current = {s.name for s in specs}
    all_links = list(links)
    if previous is not None:
        prev_tables, prev_specs, prev_links = _as_previous(previous)
        tables = {**{s.name: tables[s.name] for s in specs}, **prev_tables}
        specs = [*specs, *prev_specs]
        all_links += prev_links
    spec_by = {s.name: s for s in specs}
    keyed: dict[str, pd.DataFrame] = {}
    cells: list[CellId] = []
    vals: list[np.ndarray] = []
    published: list[np.ndarray] = []
    families: list[Family] = []
    grand: list[int] = []
    for spec in specs:
        k = _keyed(tables[spec.name], spec)
        offset = len(cells)
        k["_cell"] = np.arange(len(k)) + offset
        keyed[spec.name] = k
        cells += [(spec.name, key) for key in _keys(k, spec)]
        vals.append(k["_value"].to_numpy())
        published.append(k["_published"].to_numpy(dtype=bool))
        families += _families(k, spec, offset)
        grand += _grand_totals(k, spec)
    values_cell = np.concatenate(vals) if vals else np.zeros(0)
    uf = _UnionFind(len(cells))
    for link in all_links:
        for a, b in _link_pairs(link, keyed, spec_by):
            if values_cell[a] != values_cell[b]:
                raise ValueError(
                    f"linked cells differ: {cells[a]}={values_cell[a]} vs {cells[b]}={values_cell[b]}"
                )
            uf.union(int(a), int(b))
    index = {c: i for i, c in enumerate(cells)}
    for a, b in _same_quantity(cells, index, values_cell, links):
        uf.union(int(a), int(b))
    roots = np.array([uf.find(i) for i in range(len(cells))], dtype=np.int64)
    _, cell_var = np.unique(roots, return_inverse=True)  # variables ordered by their smallest cell
    values = np.zeros(cell_var.max() + 1 if len(cells) else 0)
    values[cell_var] = values_cell
    A = _constraint_matrix(families, cell_var, len(values))
    in_current = np.array([t in current for t, _ in cells], dtype=bool)
    in_previous, prev_published = _previous_flags(cells, index, previous)
    return CellSystem(
        cells, index, cell_var, values, A, families, np.array(sorted(grand), dtype=np.int64),
        in_current, in_previous, prev_published, {s.name: list(s.dimensions) for s in specs},
        np.concatenate(published) if published else np.zeros(0, dtype=bool),
    )  # fmt: skip


def _grand_totals(keyed: pd.DataFrame, spec: TableSpec) -> list[int]:
    """Cells at the root of every hierarchical dimension (the table's grand total(s))."""
    mask = np.ones(len(keyed), dtype=bool)
    has_hier = False
    for dim in spec.dimensions:
        hier = spec.hierarchies.get(dim)
        if hier is not None:
            has_hier = True
            mask &= keyed[dim].isin(hier.roots()).to_numpy()
    return keyed.loc[mask, "_cell"].tolist() if has_hier else []


def _constraint_matrix(families: list[Family], cell_var: np.ndarray, n_vars: int) -> sp.csr_matrix:
    """Rows parent - sum(children) over variables; rows emptied by linking are dropped."""
    rows, cols, data = [], [], []
    r = 0
    for fam in families:
        if not fam.additive:
            continue
        rows.append(np.full(len(fam.children) + 1, r))
        cols.append(cell_var[np.concatenate([[fam.parent], fam.children])])
        data.append(np.concatenate([[1.0], -np.ones(len(fam.children))]))
        r += 1
    if r == 0:
        return sp.csr_matrix((0, n_vars))
    A = sp.coo_matrix((np.concatenate(data), (np.concatenate(rows), np.concatenate(cols))), shape=(r, n_vars))
    A = A.tocsr()
    A.sum_duplicates()
    A.eliminate_zeros()
    keep = np.diff(A.indptr) > 0
    return A[keep]


def _previous_flags(
    cells: list[CellId], index: Mapping[CellId, int], previous: PreviousRelease | None
) -> tuple[np.ndarray, np.ndarray]:
    in_prev = np.zeros(len(cells), dtype=bool)
    published = np.zeros(len(cells), dtype=bool)
    if previous is None:
        return in_prev, published
    for spec in previous.specs:
        k = _keyed(previous.tables[spec.name], spec)
        for key, shown in zip(_keys(k, spec), k["_published"], strict=True):
            i = index[(PREVIOUS + spec.name, key)]
            in_prev[i] = True
            published[i] = bool(shown) and (spec.name, key) not in previous.suppressed
    return in_prev, published
