"""Hand-made cases: each shows a leak the attack finds and the engine closes."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipelines.stage5_protection.attack import attack, audit_passes
from pipelines.stage5_protection.model import Hierarchy, Link, PreviousRelease, TableSpec, build_system
from pipelines.stage5_protection.primary import Rules, primary_suppression
from pipelines.stage5_protection.secondary import protect
from pipelines.stage5_protection.symbols import to_kolada_csv_values, to_published


def _mask(system, cells) -> np.ndarray:
    mask = np.zeros(system.n_cells, dtype=bool)
    for cid in cells:
        mask[system.index[cid]] = True
    return mask


def _width(result: pd.DataFrame, cell) -> float:
    return float(result.loc[result["key"] == cell[1]].loc[lambda d: d["table"] == cell[0], "width"].iloc[0])


ONE_WAY = pd.DataFrame({"cat": ["total", "a", "b", "c"], "value": [20, 2, 8, 10]})
ONE_WAY_SPEC = TableSpec("t", ["cat"], {"cat": Hierarchy.flat("total", ["a", "b", "c"])})


def test_one_way_total_minus_neighbours_is_found_then_fixed() -> None:
    system = build_system({"t": ONE_WAY}, [ONE_WAY_SPEC])
    naive = attack(system, _mask(system, [("t", ("a",))]))
    assert naive["exact"].all() and naive["lower"].iloc[0] == 2 and not audit_passes(naive)
    result = protect({"t": ONE_WAY}, [ONE_WAY_SPEC])
    assert result.mask[system.index[("t", ("a",))]]
    assert not result.mask[system.index[("t", ("total",))]]  # grand total is never suppressed
    assert result.mask.sum() == 2  # one complement, the cheapest: b = 8
    assert result.mask[system.index[("t", ("b",))]]
    assert audit_passes(result.audit) and result.passes


def _two_way() -> tuple[pd.DataFrame, TableSpec]:
    body = {
        ("r1", "c1"): 2,
        ("r1", "c2"): 9,
        ("r2", "c1"): 7,
        ("r2", "c2"): 12,
        ("r3", "c1"): 6,
        ("r3", "c2"): 8,
    }
    rows = {"r1": 11, "r2": 19, "r3": 14}
    cols = {"c1": 15, "c2": 29}
    recs = [(r, c, v) for (r, c), v in body.items()]
    recs += [(r, "T", v) for r, v in rows.items()] + [("T", c, v) for c, v in cols.items()] + [("T", "T", 44)]
    df = pd.DataFrame(recs, columns=["row", "col", "value"])
    spec = TableSpec(
        "x",
        ["row", "col"],
        {"row": Hierarchy.flat("T", ["r1", "r2", "r3"]), "col": Hierarchy.flat("T", ["c1", "c2"])},
    )
    return df, spec


def test_two_way_row_partner_is_not_enough() -> None:
    df, spec = _two_way()
    system = build_system({"x": df}, [spec])
    # hide r1c1 (2) and its row partner r1c2: the column c1 still gives r1c1 = 15 - 7 - 6
    naive = attack(system, _mask(system, [("x", ("r1", "c1")), ("x", ("r1", "c2"))]))
    assert _width(naive, ("x", ("r1", "c1"))) < 1e-6
    result = protect({"x": df}, [spec])
    assert audit_passes(result.audit)
    assert result.mask.sum() >= 4  # a rectangle at least
    hidden = result.suppressed_cells()
    assert ("x", ("r1", "c1")) in hidden and ("x", ("T", "T")) not in hidden


def test_linked_table_leaks_and_is_fixed() -> None:
    # A: geo x sex with totals; B: geo x reporter. B's reporter total = A's sex total per geo.
    a = pd.DataFrame(
        [("g", "total", 30), ("g", "girl", 3), ("g", "boy", 27)], columns=["geo", "sex", "value"]
    )
    b = pd.DataFrame(
        [("g", "total", 30), ("g", "school", 10), ("g", "police", 20)], columns=["geo", "reporter", "value"]
    )
    specs = [
        TableSpec("A", ["geo", "sex"], {"sex": Hierarchy.flat("total", ["girl", "boy"])}),
        TableSpec("B", ["geo", "reporter"], {"reporter": Hierarchy.flat("total", ["school", "police"])}),
    ]
    links = [Link("A", "B", {"sex": "total"}, {"reporter": "total"})]
    tables = {"A": a, "B": b}
    system = build_system(tables, specs, links)
    assert system.var(("A", ("g", "total"))) == system.var(("B", ("g", "total")))
    # hiding girl and A's total looks safe inside A (total - boy needs the total), but A's total is the
    # same cell as B's published total, so girl = 30 - 27 exactly
    naive = attack(system, _mask(system, [("A", ("g", "girl")), ("A", ("g", "total"))]))
    assert naive["exact"].all()
    rules = Rules(protect_grand_totals=False)
    result = protect(tables, specs, links, rules)
    assert audit_passes(result.audit)
    assert result.mask[system.index[("A", ("g", "boy"))]]  # the only way to protect girl inside A
    # linked cells share one fate
    assert (
        result.mask[system.index[("A", ("g", "total"))]] == result.mask[system.index[("B", ("g", "total"))]]
    )


def _monthly(
    months: list[str], ytd: str, values: dict[tuple[str, str], int]
) -> tuple[pd.DataFrame, TableSpec]:
    """geo (A, B, riket) x period (months + one year-to-date code whose children are the months)."""
    cell = {(g, p): v for (g, p), v in values.items() if p in months}
    for g in ["A", "B"]:
        cell[g, ytd] = sum(values[g, m] for m in months)
    for p in [*months, ytd]:
        cell["riket", p] = cell["A", p] + cell["B", p]
    df = pd.DataFrame([(g, p, v) for (g, p), v in cell.items()], columns=["geo", "period", "value"])
    spec = TableSpec(
        "m",
        ["geo", "period"],
        {"geo": Hierarchy.flat("riket", ["A", "B"]), "period": Hierarchy({ytd: months})},
    )
    return df, spec


VALUES = {("A", "01"): 10, ("A", "02"): 12, ("A", "03"): 3, ("B", "01"): 20, ("B", "02"): 25, ("B", "03"): 5}


def test_cumulative_release_differencing_leak() -> None:
    r1, spec1 = _monthly(["01", "02"], "ytd02", VALUES)
    first = protect({"m": r1}, [spec1])
    assert first.mask.sum() == 0  # nothing small in January-February
    previous = PreviousRelease({"m": r1}, [spec1], suppressed=frozenset(first.suppressed_cells()))
    r2, spec2 = _monthly(["01", "02", "03"], "ytd03", VALUES)
    # protected without knowing release 1: the pass hides February cells that release 1 published
    naive = protect({"m": r2}, [spec2])
    assert audit_passes(naive.audit)
    with_history = build_system({"m": r2}, [spec2], previous=previous)
    naive_mask = (
        np.array([c in naive.suppressed_cells() for c in with_history.cells]) & with_history.in_current
    )
    leak = attack(with_history, naive_mask)
    assert not audit_passes(leak)  # A's March = ytd03 - ytd02 (release 1) or - Jan - Feb
    assert _width(leak, ("m", ("A", "03"))) < 1e-6
    fixed = protect({"m": r2}, [spec2], previous=previous)
    assert audit_passes(fixed.audit) and fixed.passes
    assert ("m", ("A", "03")) in fixed.suppressed_cells()


def test_suppressed_in_previous_release_stays_suppressed() -> None:
    df, spec = _two_way()
    keep = ("x", ("r2", "c2"))  # 12: not small, but hidden in release 1
    result = protect({"x": df}, [spec], previous_suppressed={keep})
    assert keep in result.suppressed_cells()
    assert result.reasons[result.system.index[keep]] == "previous"
    assert audit_passes(result.audit)


def _geo() -> tuple[pd.DataFrame, TableSpec]:
    kommuner = {"0114": 2, "0115": 30, "0116": 15, "0380": 40, "0381": 1, "0382": 9}
    lan = {"01": ["0114", "0115", "0116"], "03": ["0380", "0381", "0382"]}
    hier = Hierarchy({"00": ["01", "03"], **lan})
    girls = {"0114": 2, "0115": 14, "0116": 8, "0380": 20, "0381": 1, "0382": 9}
    recs = []
    for k, tot in kommuner.items():
        recs += [(k, "total", tot), (k, "girl", girls[k]), (k, "boy", tot - girls[k])]
    for lan_code, ks in lan.items():
        for sex in ["total", "girl", "boy"]:
            recs.append((lan_code, sex, sum(v for g, s, v in recs if g in ks and s == sex)))
    for sex in ["total", "girl", "boy"]:
        recs.append(("00", sex, sum(v for g, s, v in recs if g in lan and s == sex)))
    df = pd.DataFrame(recs, columns=["geo", "sex", "value"])
    spec = TableSpec("g", ["geo", "sex"], {"geo": hier, "sex": Hierarchy.flat("total", ["girl", "boy"])})
    return df, spec


def test_hierarchical_geography() -> None:
    df, spec = _geo()
    system = build_system({"g": df}, [spec])
    assert system.A.shape[0] == 3 * 3 + 9  # (riket + 2 län) x 3 sexes + 9 geos x 1 sex split
    primary, reasons = primary_suppression(system, Rules(), None)
    # 0382: all 9 reports about girls, below the group threshold 10 -> the girl cell is primary
    assert reasons[system.index[("g", ("0382", "girl"))]] == "primary:dominance_group"
    assert reasons[system.index[("g", ("0114", "total"))]] == "primary:small"
    # naive: only primaries hidden -> 0114 boy = 0 is published, so 0114 total = girl -> both exact
    assert not audit_passes(attack(system, primary))
    result = protect({"g": df}, [spec])
    assert audit_passes(result.audit)
    assert not result.mask[system.index[("g", ("00", "total"))]]
    assert (result.mask | ~primary).all()


def test_symbols() -> None:
    df = ONE_WAY.copy()
    mask = np.array([False, True, True, False])
    out = to_published(df, mask, np.array(["", "primary:small", "secondary:row", ""], dtype=object))
    assert out["value"].isna().tolist() == [False, True, True, False]
    assert out["status"].tolist() == ["", "..", "..", ""]
    assert str(out["value"].dtype) == "Int64"
    assert to_kolada_csv_values(out).tolist() == ["20", "..", "..", "10"]


def _cumulative_release():
    """A län L with kommuner A and B: release 2 publishes year-to-date February per kommun (and L's
    months); release 1 published year-to-date January. A's February alone is 2: never published, but
    YTD02 − YTD01 would give it exactly. The kommun months are structural cells of an increment table."""
    geo = Hierarchy({"L": ["A", "B"]})
    t = pd.DataFrame(
        [("L", "YTD02", 47), ("A", "YTD02", 12), ("B", "YTD02", 35), ("L", "01", 30), ("L", "02", 17)],
        columns=["geo", "period", "value"],
    )
    t_spec = TableSpec("t", ["geo", "period"], {"geo": geo, "period": Hierarchy({"YTD02": ["01", "02"]})})
    inc = pd.DataFrame(
        [
            ("A", "YTD02", 12, True),
            ("B", "YTD02", 35, True),
            ("A", "YTD01", 10, False),
            ("B", "YTD01", 20, False),
            ("A", "02", 2, False),
            ("B", "02", 15, False),
            ("L", "02", 17, True),
        ],
        columns=["geo", "period", "value", "published"],
    )
    inc_spec = TableSpec(
        "inc", ["geo", "period"], {"geo": geo, "period": Hierarchy({"YTD02": ["YTD01", "02"]})}
    )
    prev = pd.DataFrame(
        [("L", "YTD01", 30), ("A", "YTD01", 10), ("B", "YTD01", 20), ("L", "01", 30)],
        columns=["geo", "period", "value"],
    )
    prev_spec = TableSpec("t", ["geo", "period"], {"geo": geo, "period": Hierarchy({"YTD01": ["01"]})})
    previous = PreviousRelease({"t": prev}, [prev_spec])
    return {"t": t, "inc": inc}, [t_spec, inc_spec], [Link("inc", "t")], previous


def test_a_hidden_month_cannot_be_differenced_out_of_cumulative_figures() -> None:
    tables, specs, links, previous = _cumulative_release()
    system = build_system(tables, specs, links, previous)
    feb_a = ("inc", ("A", "02"))
    assert not system.published[system.index[feb_a]]
    naive = attack(system, _mask(system, [feb_a]))  # everything published: the difference is exact
    assert naive["exact"].all() and naive["lower"].iloc[0] == 2
    result = protect(tables, specs, links, previous=previous)
    assert result.mask[system.index[("t", ("A", "YTD02"))]]  # the cumulative figure is hidden
    assert not result.mask[system.index[("t", ("L", "YTD02"))]]  # the län total stays published
    assert result.passes
    feb = result.audit.loc[result.audit["key"] == ("A", "02")]
    assert len(feb) == 1 and float(feb["width"].iloc[0]) >= 4  # the structural cell itself is protected


def test_structural_cells_that_are_not_sensitive_need_no_complement() -> None:
    tables, specs, links, previous = _cumulative_release()
    tables = dict(tables)
    inc = tables["inc"].copy()
    # A's February is 12 instead of 2 (YTD02 = 22, L's totals follow): nothing is sensitive any more
    inc.loc[inc["geo"].eq("A") & inc["period"].ne("YTD01"), "value"] += 10
    inc.loc[inc["geo"].eq("L"), "value"] += 10
    t = tables["t"].copy()
    t.loc[t["geo"].eq("A") | (t["geo"].eq("L") & t["period"].ne("01")), "value"] += 10
    tables.update(inc=inc, t=t)
    result = protect(tables, specs, links, previous=previous)
    assert result.passes and not result.mask.any()
