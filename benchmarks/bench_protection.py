"""Benchmark: primary + secondary suppression and the LP audit on a synthetic national release.

Not a test. Builds two linked tables over 290 kommuner (län = first two digits of the kommunkod) + 21 län
+ riket, three months and their year-to-date total: a category table (24 categories + total) and a
reporters table (6 reporters + total) whose total is linked to the category table's total. Counts are
skewed Poisson (log-normal kommun sizes, geometric category shares). Prints time, primary/secondary
counts and information loss.

    python benchmarks/bench_protection.py [--reports-per-month 40000] [--months 3] [--seed 1]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from pipelines.stage5_protection.attack import attack, audit_passes
from pipelines.stage5_protection.model import Hierarchy, Link, TableSpec
from pipelines.stage5_protection.primary import Rules
from pipelines.stage5_protection.secondary import protect

LAN = ["01", "03", "04", "05", "06", "07", "08", "09", "10", "12", "13"]
LAN += ["14", "17", "18", "19", "20", "21", "22", "23", "24", "25"]


def geography(n_kommuner: int = 290) -> tuple[list[str], Hierarchy]:
    """Kommunkoder spread over the 21 län; hierarchy kommun -> län -> riket ("00")."""
    per_lan = np.full(len(LAN), n_kommuner // len(LAN))
    per_lan[: n_kommuner - per_lan.sum()] += 1
    kommuner = [f"{lan}{i + 1:02d}" for lan, n in zip(LAN, per_lan, strict=True) for i in range(n)]
    children = {"00": list(LAN)} | {lan: [k for k in kommuner if k[:2] == lan] for lan in LAN}
    return kommuner, Hierarchy(children)


def leaf_counts(
    rng: np.random.Generator, kommuner: list[str], cats: list[str], months: list[str], per_month: float
):
    """Poisson counts per kommun x category x month with skewed sizes and shares."""
    size = rng.lognormal(0.0, 1.1, len(kommuner))
    size /= size.sum()
    share = 0.75 ** np.arange(len(cats))
    share /= share.sum()
    lam = per_month * size[:, None, None] * share[None, :, None] * np.ones(len(months))[None, None, :]
    return rng.poisson(lam)


def long_table(
    counts: np.ndarray, geo: Hierarchy, kommuner, cats, months, cat_dim: str, year: str
) -> pd.DataFrame:
    """All cells including margins: kommun/län/riket x categories+total x months+year."""
    k_index = {k: i for i, k in enumerate(kommuner)}
    geo_rows = {k: [k_index[k]] for k in kommuner}
    for lan in LAN:
        geo_rows[lan] = [k_index[k] for k in geo.children[lan]]
    geo_rows["00"] = list(range(len(kommuner)))
    cat_rows = {c: [i] for i, c in enumerate(cats)} | {"total": list(range(len(cats)))}
    month_rows = {m: [i] for i, m in enumerate(months)} | {year: list(range(len(months)))}
    by_geo = {g: counts[rows].sum(axis=0) for g, rows in geo_rows.items()}
    records = []
    for g, arr in by_geo.items():
        for c, crow in cat_rows.items():
            sub = arr[crow].sum(axis=0)
            for m, mrow in month_rows.items():
                records.append((g, c, m, int(sub[mrow].sum())))
    return pd.DataFrame(records, columns=["geo", cat_dim, "month", "value"])


def build(seed: int, per_month: float, n_months: int):
    """Tables, specs and links of the synthetic release."""
    rng = np.random.default_rng(seed)
    kommuner, geo = geography()
    months = [f"2025-{m:02d}" for m in range(1, n_months + 1)]
    cats = [f"k{i:02d}" for i in range(24)]
    reporters = [f"r{i}" for i in range(6)]
    time_h = Hierarchy({"2025": months})
    cat_counts = leaf_counts(rng, kommuner, cats, months, per_month)
    # reporters split the same reports: a multinomial split of the kommun-month totals
    totals = cat_counts.sum(axis=1)
    share = 0.6 ** np.arange(len(reporters))
    rep_counts = np.stack(
        [rng.multinomial(t, share / share.sum()) for t in totals.reshape(-1)], axis=0
    ).reshape(len(kommuner), len(months), len(reporters))
    rep_counts = rep_counts.transpose(0, 2, 1)
    tables = {
        "categories": long_table(cat_counts, geo, kommuner, cats, months, "category", "2025"),
        "reporters": long_table(rep_counts, geo, kommuner, reporters, months, "reporter", "2025"),
    }
    specs = [
        TableSpec("categories", ["geo", "category", "month"],
                  {"geo": geo, "category": Hierarchy.flat("total", cats), "month": time_h}),
        TableSpec("reporters", ["geo", "reporter", "month"],
                  {"geo": geo, "reporter": Hierarchy.flat("total", reporters), "month": time_h}),
    ]  # fmt: skip
    links = [Link("reporters", "categories", {"reporter": "total"}, {"category": "total"})]
    return tables, specs, links


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports-per-month", type=float, default=40000)
    parser.add_argument("--months", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--exact", action="store_true", help="exact min/max LP per hidden cell (slow)")
    args = parser.parse_args()
    tables, specs, links = build(args.seed, args.reports_per_month, args.months)
    n_cells = sum(len(t) for t in tables.values())
    t0 = time.perf_counter()
    result = protect(tables, specs, links, Rules(), audit=False)
    t1 = time.perf_counter()
    audit = attack(result.system, result.mask, Rules().margin, exact=args.exact)
    t2 = time.perf_counter()
    system, mask = result.system, result.mask
    cur = system.in_current
    values = system.values[system.cell_var]
    primary = int(result.primary.sum())
    print(f"cells {n_cells} (variables {system.n_vars}, constraints {system.A.shape[0]})")
    print(f"primary {primary}, secondary {int(mask.sum()) - primary}, suppressed {int(mask.sum())}")
    print(f"reasons: {pd.Series(result.reasons[mask]).value_counts().to_dict()}")
    print(
        f"information loss: cells {mask.sum() / cur.sum():.1%}, count {values[mask].sum() / values[cur].sum():.2%}"
    )
    print(f"protect {t1 - t0:.1f} s, audit (exact={args.exact}) {t2 - t1:.1f} s, total {t2 - t0:.1f} s")
    print(
        f"audit passes: {audit_passes(audit)} (min width {audit['width'].min():.1f}, exact {int(audit['exact'].sum())})"
    )
    print(f"unprotectable: {len(result.unprotectable)}")


if __name__ == "__main__":
    main()
