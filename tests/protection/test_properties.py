"""Property tests: random small tables, protected, then attacked independently."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.stage5_protection.attack import attack, audit_passes
from pipelines.stage5_protection.model import Hierarchy, TableSpec
from pipelines.stage5_protection.primary import Rules
from pipelines.stage5_protection.secondary import protect

small_counts = st.integers(0, 12)


def two_way(body: np.ndarray) -> tuple[pd.DataFrame, TableSpec]:
    """rows x cols body with both margins and the grand total ("T")."""
    r, c = body.shape
    rows, cols = [f"r{i}" for i in range(r)], [f"c{j}" for j in range(c)]
    recs = [(rows[i], cols[j], int(body[i, j])) for i in range(r) for j in range(c)]
    recs += [(rows[i], "T", int(body[i].sum())) for i in range(r)]
    recs += [("T", cols[j], int(body[:, j].sum())) for j in range(c)] + [("T", "T", int(body.sum()))]
    spec = TableSpec(
        "x", ["row", "col"], {"row": Hierarchy.flat("T", rows), "col": Hierarchy.flat("T", cols)}
    )
    return pd.DataFrame(recs, columns=["row", "col", "value"]), spec


def geo_table(leaves: np.ndarray) -> tuple[pd.DataFrame, TableSpec]:
    """kommun -> län -> riket x a flat category dimension; leaves[kommun, category]."""
    n_k, n_c = leaves.shape
    kommuner = [f"{1 + i % 2:02d}{i:02d}" for i in range(n_k)]  # two län by the first two digits
    lan = {code: [k for k in kommuner if k[:2] == code] for code in sorted({k[:2] for k in kommuner})}
    cats = [f"k{j}" for j in range(n_c)]
    geo_rows = {k: [i] for i, k in enumerate(kommuner)}
    geo_rows |= {code: [kommuner.index(k) for k in ks] for code, ks in lan.items()} | {"00": list(range(n_k))}
    recs = []
    for g, idx in geo_rows.items():
        sub = leaves[idx].sum(axis=0)
        recs += [(g, cats[j], int(sub[j])) for j in range(n_c)] + [(g, "total", int(sub.sum()))]
    spec = TableSpec(
        "g",
        ["geo", "cat"],
        {"geo": Hierarchy({"00": list(lan), **lan}), "cat": Hierarchy.flat("total", cats)},
    )
    return pd.DataFrame(recs, columns=["geo", "cat", "value"]), spec


def check(df: pd.DataFrame, spec: TableSpec) -> None:
    rules = Rules()
    first = protect({spec.name: df}, [spec], rules=rules)
    system = first.system
    independent = attack(system, first.mask, rules.margin, exact=True)
    assert audit_passes(independent) or first.unprotectable
    if not first.unprotectable:
        assert (independent["width"] >= rules.margin - 1e-6).all()
    assert not first.mask[system.grand_totals].any()
    assert (first.mask | ~first.primary).all()
    again = protect({spec.name: df}, [spec], rules=rules)
    assert (again.mask == first.mask).all() and (again.reasons == first.reasons).all()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(2, 4).flatmap(lambda r: st.integers(2, 4).flatmap(
    lambda c: st.lists(small_counts, min_size=r * c, max_size=r * c).map(lambda v: np.array(v).reshape(r, c))
)))  # fmt: skip
def test_two_way_tables_pass_the_attack(body: np.ndarray) -> None:
    check(*two_way(body))


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(3, 5).flatmap(lambda k: st.integers(2, 3).flatmap(
    lambda c: st.lists(small_counts, min_size=k * c, max_size=k * c).map(lambda v: np.array(v).reshape(k, c))
)))  # fmt: skip
def test_hierarchical_tables_pass_the_attack(leaves: np.ndarray) -> None:
    check(*geo_table(leaves))


def brute_force_interval(system, hidden_mask: np.ndarray, var: int) -> tuple[float, float]:
    """min and max of one hidden variable by plain linprog over every hidden variable (no shortcuts)."""
    from scipy.optimize import linprog

    from pipelines.stage5_protection.attack import hidden_variables

    hidden = hidden_variables(system, hidden_mask)
    cols = np.flatnonzero(hidden)
    rhs = -(system.A @ np.where(hidden, 0.0, system.values))
    A = system.A[:, cols]
    j = int(np.flatnonzero(cols == var)[0])
    out = []
    for sign in (1.0, -1.0):
        c = np.zeros(len(cols))
        c[j] = sign
        res = linprog(c, A_eq=A, b_eq=rhs, bounds=(0, None), method="highs")
        out.append(sign * res.fun if res.status == 0 else np.inf)
    return out[0], out[1]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.integers(3, 5).flatmap(lambda k: st.lists(small_counts, min_size=k * 3, max_size=k * 3)),
    st.randoms(use_true_random=False),
)
def test_the_attack_finds_exactly_the_intervals_plain_linprog_finds(values: list[int], rnd) -> None:
    """The attack's shortcuts (components, probe points, bounds implied by single rows) change nothing:
    every interval equals the one two plain LPs give, on random tables with random hidden cells."""
    df, spec = geo_table(np.array(values).reshape(-1, 3))
    from pipelines.stage5_protection.model import build_system

    system = build_system({spec.name: df}, [spec])
    mask = np.array([rnd.random() < 0.4 for _ in range(system.n_cells)])
    mask[system.grand_totals] = False
    found = attack(system, mask, 4.0, exact=True)
    for row in found.itertuples():
        lower, upper = brute_force_interval(system, mask, row.var)
        assert abs(row.lower - lower) < 1e-6
        assert (np.isinf(row.upper) and np.isinf(upper)) or abs(row.upper - upper) < 1e-6


def test_exact_bounds_shared_between_processes_equal_one_process(monkeypatch) -> None:
    """The exact audit of a large component split between spawned processes gives the same intervals."""
    from pipelines.stage5_protection import attack as attack_module
    from pipelines.stage5_protection.model import build_system

    rng = np.random.default_rng(5)
    df, spec = geo_table(rng.integers(0, 12, size=(12, 3)))
    system = build_system({spec.name: df}, [spec])
    mask = rng.random(system.n_cells) < 0.5
    mask[system.grand_totals] = False
    alone = attack(system, mask, 4.0, exact=True)
    monkeypatch.setattr(attack_module, "PARALLEL_MIN_TARGETS", 2)
    calls = []
    real = attack_module._bound_in_processes
    monkeypatch.setattr(attack_module, "_bound_in_processes", lambda *a: calls.append(1) or real(*a))
    shared = attack(system, mask, 4.0, exact=True, workers=2)
    assert calls  # the component really went to the processes
    pd.testing.assert_frame_equal(alone, shared)
