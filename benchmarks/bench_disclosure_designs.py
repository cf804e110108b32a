"""Benchmark: disclosure-control designs on releases built in order, attacked from the outside.

Not a test. Loads synthetic extracts for a handful of municipalities (small ones, where small counts are
common) for the first months of 2025, then, for each design, builds every monthly release in order and
runs the outside attack of ``tests/protection/release_attack.py`` on all of them: the LP bounds of every
municipality's monthly count (all reports and per reporter) as of the last release. Prints, per design:
the share of cells and of the count hidden, the mean absolute perturbation, the targets bounded tighter
than the margin, the narrowest interval, and the seconds per release.

Designs: ``cell_key`` (the default of schemas/release.yaml), ``suppression`` (primary + secondary with the
LP audit against the previous release), ``rounding`` (every count rounded to a multiple of 5, values 1–4
hidden: the DfE baseline), ``exact`` (no noise, values 1–4 hidden: what the attack does without
protection).

    PYTHONPATH=. .venv/bin/python benchmarks/bench_disclosure_designs.py [--months 6] [--seed 11]

(from the repository's root: the attack lives with the tests, which are not installed).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from pipelines.core.settings import Paths
from pipelines.demo.generator import generate_demo
from pipelines.stage2_pseudonymise.ingest import load_month
from pipelines.stage2_pseudonymise.keyed_hash import load_key
from pipelines.stage3_register.register import build_entries
from pipelines.stage4_statistics.compute import build_statistics
from pipelines.stage5_protection import cell_key, release, release_files
from tests.protection.release_attack import bounds, build_model, monthly_targets

KOMMUNER = ["0114", "0115", "0117", "0180", "2021", "2023", "2026", "2029"]
MARGIN = 4.0


def load(root: Path, months: list[str], seed: int) -> Paths:
    os.environ.update(
        OROSTAT_HOME=str(root), DAGSTER_HOME=str(root / "dagster"), OROSTAT_KEY=secrets.token_hex(32)
    )
    os.environ.pop("OROSTAT_KEY_FILE", None)
    home = Paths(root)
    generate_demo(home.landing, year=2025, seed=seed, scale=0.3, municipality_codes=KOMMUNER)
    key = load_key()
    for month in months:
        load_month(month, key, home)
        build_entries(home, month)
    build_statistics(home, months)
    return home


def _rounding(table, counts, keys):
    counts = np.asarray(counts, dtype=np.int64)
    return (np.round(counts / 5) * 5).astype(np.int64) - counts


def _exact(table, counts, keys):
    return np.zeros(len(counts), dtype=np.int64)


def true_months(home: Paths, as_of: str) -> dict[str, int]:
    """The true count of every attack target (a municipality's month, all reports and per reporter)."""
    folder = home.statistics
    reports = pd.read_parquet(folder / "reports" / f"as_of_month={as_of}" / "data.parquet")
    by_reporter = pd.read_parquet(folder / "reports_by_reporter" / f"as_of_month={as_of}" / "data.parquet")
    out = {}
    for frame, name in ((reports, None), (by_reporter, "reporter_group")):
        frame = frame.loc[frame["geo_level"].eq("kommun") & frame["period_type"].eq("month")]
        for row in frame.itertuples(index=False):
            out[f"{row.geo_code} {row.period} {getattr(row, name) if name else 'total'}"] = int(row.reports)
    return out


def run(design: str, loaded: Paths, months: list[str]) -> dict[str, object]:
    root = Path(tempfile.mkdtemp(prefix=f"design-{design}-"))
    shutil.copytree(loaded.data, root / "data", ignore=shutil.ignore_patterns("5_protected", "6_published"))
    home = Paths(root)
    real_noise, real_method = cell_key.noise, release.method
    noise_bound, hidden_small = {"cell_key": 16, "rounding": 2, "exact": 0, "suppression": 0}[design], True
    if design == "rounding":
        cell_key.noise = _rounding
    elif design == "exact":
        cell_key.noise = _exact
    elif design == "suppression":
        release.method, hidden_small = (lambda: "suppression"), False
    seconds = []
    try:
        for month in months:
            started = time.perf_counter()
            outcome = release.build_release(home, month)
            seconds.append(time.perf_counter() - started)
    finally:
        cell_key.noise, release.method = real_noise, real_method
    folders = {m: release.release_folder(home, m) for m in months}
    model = build_model(
        folders, KOMMUNER, {k: k[:2] for k in KOMMUNER}, noise_bound, hidden_small=hidden_small
    )
    reporters = sorted(
        set(pd.read_parquet(folders[months[-1]] / "reporters.parquet")["reporter_group"]) - {"total"}
    )
    attacked = bounds(model, monthly_targets(model, months[-1], KOMMUNER, reporters))
    attacked["true"] = attacked["target"].map(true_months(loaded, months[-1]))
    sensitive = attacked["true"].between(1, 4)
    manifest = json.loads((folders[months[-1]] / release_files.MANIFEST_FILE).read_text("utf-8"))
    tables = manifest["tables"]
    cells = sum(t["cells"] for t in tables.values())
    noises = [t.get("mean_absolute_noise") for t in tables.values() if "mean_absolute_noise" in t]
    shutil.rmtree(root)
    return {
        "design": design,
        "hidden % of cells": round(100 * sum(t["suppressed_total"] for t in tables.values()) / cells, 2),
        "largest hidden % of a table's count": round(
            100 * max(t["hidden_share_of_count"] for t in tables.values()), 2
        ),
        "mean |perturbation|": round(float(np.mean(noises)), 2) if noises and design != "exact" else 0.0,
        "targets": len(attacked),
        "narrower than margin": int((attacked["width"] < MARGIN - 1e-6).sum()),
        "of them 1-4 reports": int((sensitive & (attacked["width"] < MARGIN - 1e-6)).sum()),
        "targets of 1-4": int(sensitive.sum()),
        "narrowest": round(float(attacked["width"].min()), 2),
        "own audit passes": outcome.passes,
        "s per release": round(float(np.mean(seconds)), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--months", type=int, default=6)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--designs", default="cell_key,suppression,rounding,exact")
    args = parser.parse_args()
    months = [f"2025-{m:02d}" for m in range(1, args.months + 1)]
    root = Path(tempfile.mkdtemp(prefix="designs-"))
    loaded = load(root, months, args.seed)
    rows = [run(design, loaded, months) for design in args.designs.split(",")]
    print(pd.DataFrame(rows).to_string(index=False))
    shutil.rmtree(root)


if __name__ == "__main__":
    main()
