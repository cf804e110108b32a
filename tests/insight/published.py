"""A synthetic published release for the insight tests: a monthly ``rates`` table for all 290
municipalities over 2024–2025 (as of 2025-12) and the child population that makes the groups, written
where stage 6 reads them. A planted effect can be added to one municipality from a month on."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from pipelines.core.schemas import code_table
from pipelines.core.settings import Paths
from pipelines.stage4_statistics.population import POPULATION_DATA, output_folder

AS_OF = "2025-12"
MONTHS = [f"{y}-{m:02d}" for y in (2024, 2025) for m in range(1, 13)]
RATE = "investigation_rate"


def codes() -> list[str]:
    return code_table("municipalities").column("municipality_code").to_pylist()


def write_population(home: Paths, children: dict[str, int], year: int = 2025) -> None:
    rows = [
        {"year": year, "geo_level": "kommun", "geo_code": c, "legal_sex": "total", "children_0_17": n}
        for c, n in children.items()
    ]
    folder = output_folder(home)
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_parquet(folder / POPULATION_DATA)


def children_by_code(seed: int = 1) -> dict[str, int]:
    rng = np.random.default_rng(seed)
    return {c: int(rng.lognormal(np.log(8000), 1.0)) + 300 for c in codes()}


def write_release(
    home: Paths,
    effect: float = 0.0,
    treated: str = "2401",
    start: str = "2024-09",
    seed: int = 7,
    noise: float = 0.02,
    hidden: dict[str, list[str]] | None = None,
) -> None:
    """Monthly investigation rates: a national seasonal pattern, a level per municipality, AR(1) noise;
    ``effect`` added to ``treated`` from ``start``; ``hidden`` kommunkod → months published as '..'."""
    rng = np.random.default_rng(seed)
    season = 0.03 * np.sin(np.arange(12) / 12 * 2 * np.pi)
    rows = []
    for code in codes():
        level = rng.uniform(0.3, 0.5)
        shock = 0.0
        for month in MONTHS:
            shock = 0.4 * shock + rng.normal(0, noise)
            value = level + season[int(month[5:]) - 1] + shock
            if code == treated and month >= start:
                value += effect
            status = ".." if month in (hidden or {}).get(code, []) else ""
            rows.append(
                {
                    "period_type": "month",
                    "period": month,
                    "geo_level": "kommun",
                    "geo_code": code,
                    "rate": RATE,
                    "value": None if status else value,
                    "status": status,
                }
            )
    folder = home.protected / f"release={AS_OF}"
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_parquet(folder / "rates.parquet")
    manifest = {"release": AS_OF, "as_of_month": AS_OF, "data": "SYNTETISKA testdata"}
    (folder / "manifest.json").write_text(json.dumps(manifest), "utf-8")


def write_monthly_releases(
    home: Paths,
    effect: float = 0.0,
    treated: str = "2401",
    start: str = "2024-09",
    seed: int = 11,
    noise: float = 0.15,
    hidden: dict[str, list[str]] | None = None,
    months: list[str] = MONTHS,
) -> None:
    """One release per month (as of that month) publishing each municipality's year-to-date count of
    reports (outcomes, total) and its population (population_rates), as stage 5 does: monthly reports per
    1,000 children = a level per municipality × a national season + AR(1) noise, + ``effect`` for
    ``treated`` from ``start``. ``hidden``: kommunkod → as-of months whose year to date is '..'."""
    rng = np.random.default_rng(seed)
    children = children_by_code(seed)
    season = 1 + 0.25 * np.sin(np.arange(12) / 12 * 2 * np.pi)
    per_1000: dict[str, dict[str, float]] = {}
    for code in codes():
        level, shock = rng.uniform(1.0, 2.5), 0.0
        per_1000[code] = {}
        for month in months:
            shock = 0.3 * shock + rng.normal(0, noise)
            value = level * season[int(month[5:]) - 1] + shock
            per_1000[code][month] = value + (effect if code == treated and month >= start else 0.0)
    for month in months:
        year = month[:4]
        outcomes, population = [], []
        for code in codes():
            ytd = sum(v for m, v in per_1000[code].items() if m[:4] == year and m <= month)
            status = ".." if month in (hidden or {}).get(code, []) else ""
            common = {"period_type": "year", "period": year, "geo_level": "kommun", "geo_code": code}
            outcomes.append(
                common
                | {
                    "outcome": "total",
                    "value": None if status else ytd * children[code] / 1000,
                    "status": status,
                }
            )
            population.append(
                common
                | {
                    "rate": "reports_per_1000_children",
                    "population": children[code],
                    "value": None,
                    "status": "..",
                }
            )
        folder = home.protected / f"release={month}"
        folder.mkdir(parents=True, exist_ok=True)
        pd.DataFrame(outcomes).to_parquet(folder / "outcomes.parquet")
        pd.DataFrame(population).to_parquet(folder / "population_rates.parquet")
        manifest = {"release": month, "as_of_month": month, "data": "SYNTETISKA testdata"}
        (folder / "manifest.json").write_text(json.dumps(manifest), "utf-8")
    write_population(home, children)
