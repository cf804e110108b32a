"""Measure the early-warning signals (issue 22) on the demo: the planted drop and the false-alarm share.

Two sources:

- ``--home PATH``: a demo's protected releases (``orostat demo --scale 0.1`` into OROSTAT_HOME=PATH): the
  published figures, cell-key noise and suppression included, as the report computes them.
- ``--generate``: the generator alone (no load, no protection) at ``--scale`` for ``--counties``: exact
  counts per county, reporter group and month of arrival; quick at full scale.

For each method of ``model.py`` it prints whether the planted drop (settings.yaml demo.planted_drop) is
flagged in its first and second month, and the share of assessed month x series flagged among the series the
drop does not touch (nominal: 1 - interval level). Run: ``.venv/bin/python benchmarks/bench_signals.py``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from pipelines.core.schemas import code_table
from pipelines.core.settings import settings
from pipelines.demo import generator, planted
from pipelines.stage6_publishing.history import History
from pipelines.stage6_publishing.insight import signals
from pipelines.stage6_publishing.release_tables import Release

METHODS = ("glm", "ratio")
ASSESSED = ("low", "high", "normal")


def from_home(home: Path, method: str) -> pd.DataFrame:
    folder = sorted((home / "data" / "5_protected").glob("release=*-12"))[-1]
    return signals._compute(History(Release(folder)), method)


def generated_months(scale: float, counties: list[str], seed: int | None = None) -> pd.DataFrame:
    """Arrival counts per county, reporter group and month from the generator (rows as ``monthly``)."""
    conf = settings()["demo"]
    seed = conf["seed"] if seed is None else seed
    years = list(range(conf["years"]["first"], conf["years"]["last"] + 1))
    codes = generator._codes()
    muni_codes = [c for c, _ in generator.municipalities()]
    wanted = np.array([i for i, c in enumerate(muni_codes) if c[:2] in counties])
    world = generator._world(seed, muni_codes)
    groups = code_table("reporters").to_pandas().set_index("code")["group"]
    parts = []
    for year in years:
        frame = generator._year_frame(seed, year, scale, codes, muni_codes, world, wanted)
        first = ~frame["late"]
        month = frame["received"][first].astype("datetime64[D]").astype("datetime64[M]").astype(str)
        parts.append(
            pd.DataFrame(
                {
                    "geo_code": [muni_codes[m][:2] for m in frame["muni"][first]],
                    "code": groups.loc[[codes["reporter"][r] for r in frame["reporter"][first]]].to_numpy(),
                    "period": month,
                }
            )
        )
    counts = pd.concat(parts).groupby(["geo_code", "code", "period"]).size().rename("value").reset_index()
    return counts.assign(
        geo_level="lan", geo_name=counts["geo_code"], table="reporters", dimension="reporter_group",
        status="", preliminary=False,
    )  # fmt: skip


def assess_months(months: pd.DataFrame, method: str) -> pd.DataFrame:
    tested = {str(settings()["demo"]["years"]["last"])}
    rows = []
    for (geo, code), part in months.groupby(["geo_code", "code"]):
        part = part.sort_values("period").reset_index(drop=True)
        for found in signals.assess(part, tested, method):
            rows.append({"geo_code": geo, "table": "reporters", "code": code} | found)
    return pd.DataFrame(rows)


def measure(found: pd.DataFrame, method: str, seconds: float, quiet: bool = False) -> dict[str, float]:
    drop = planted.spec()
    year = settings()["demo"]["years"]["last"]
    first, second = (f"{year}-{int(m):02d}" for m in drop["months"][:2])
    hit = found["code"].isin(drop["reporter_groups"]) & (found["table"] == "reporters")
    target = hit & (found["geo_code"] == str(drop["county"]))
    touched = hit & found["geo_code"].isin([str(drop["county"]), "00"])  # riket holds the county's drop
    figures: dict[str, float] = {}
    for code in drop["reporter_groups"]:
        rows = found[target & (found["code"] == code)].set_index("period")
        for p in (first, second):
            figures[f"{code} {p}"] = float(p in rows.index and rows.loc[p, "status"] == "low")
        if quiet:
            continue
        print(
            f"  {method}: planted {drop['county']}/{code}: "
            + ", ".join(
                f"{p} {rows.loc[p, 'status']} (observed {rows.loc[p, 'observed']}, expected "
                f"{rows.loc[p, 'expected']}, interval {rows.loc[p, 'lower']}–{rows.loc[p, 'upper']})"
                for p in (first, second)
                if p in rows.index
            )
        )
    rest = found[~touched & found["status"].isin(ASSESSED)]
    figures |= {"flagged": float(rest["signal"].sum()), "assessed": float(len(rest))}
    if quiet:
        return figures
    print(
        f"  {method}: unplanted series: {int(rest['signal'].sum())} of {len(rest)} assessed month x series "
        f"flagged = {rest['signal'].mean():.2%} ({seconds:.1f} s)"
    )
    return figures


def over_seeds(scale: float, counties: list[str], seeds: int) -> None:
    """The share of seeds whose planted drop is flagged, per month, and the pooled false-alarm share."""
    totals: dict[str, dict[str, float]] = {m: {} for m in METHODS}
    for k in range(seeds):
        months = generated_months(scale, counties, seed=1000 + k)
        for method in METHODS:
            for name, value in measure(assess_months(months, method), method, 0, quiet=True).items():
                totals[method][name] = totals[method].get(name, 0.0) + value
    for method, t in totals.items():
        found = ", ".join(f"{n} {v / seeds:.0%}" for n, v in t.items() if n not in ("flagged", "assessed"))
        print(
            f"  {method}, {seeds} seeds at scale {scale}: drop flagged in {found}; unplanted "
            f"{t['flagged']:.0f} of {t['assessed']:.0f} flagged = {t['flagged'] / t['assessed']:.2%}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", type=Path, help="OROSTAT_HOME of a demo (its protected releases)")
    parser.add_argument("--generate", action="store_true", help="count straight from the generator")
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--counties", default="12,01,14,20,25")
    parser.add_argument("--seeds", type=int, default=0, help="with --generate: repeat over this many seeds")
    args = parser.parse_args()
    if args.generate and args.seeds:
        over_seeds(args.scale, args.counties.split(","), args.seeds)
        return
    months = None
    if args.generate:
        started = time.perf_counter()
        months = generated_months(args.scale, args.counties.split(","))
        print(f"generated {int(months['value'].sum()):,} reports in {time.perf_counter() - started:.0f} s")
    for method in METHODS:
        started = time.perf_counter()
        found = assess_months(months, method) if months is not None else from_home(args.home, method)
        measure(found, method, time.perf_counter() - started)


if __name__ == "__main__":
    main()
