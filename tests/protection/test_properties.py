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
