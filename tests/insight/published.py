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
