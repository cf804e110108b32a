"""Benchmark: a national year (≈ 500,000 reports, 290 × 12 files) from landing to its December release.

Not a test: run it with `make bench` and put the figures in the issue notes. Generates the synthetic year
once (cached under the benchmark folder), then runs the full load headless through Dagster in one run
and prints wall time per stage, rows per second and peak memory.

    python benchmarks/bench_national_year.py [--scale 1.0] [--folder /tmp/orostat-bench] [--keep-outputs]
"""

from __future__ import annotations

import argparse
import os
import resource
import secrets
import shutil
import time
from pathlib import Path

from pipelines.core import db


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--year", type=int, default=2025, help="the last year")
    parser.add_argument(
        "--years", type=int, default=1, help="how many years up to --year (10 = a 10-year backfill)"
    )
    parser.add_argument("--folder", type=Path, default=Path("/tmp/orostat-bench"))
    args = parser.parse_args()
    home = args.folder / f"scale-{args.scale}-years-{args.years}"
    years = list(range(args.year - args.years + 1, args.year + 1))
    landing = home / "data" / "1_landing"
    for stale in [
        "data/2_pseudonymised",
        "data/3_register",
        "data/4_statistics",
        "data/5_protected",
        "dagster",
    ]:
        shutil.rmtree(home / stale, ignore_errors=True)
    # A fresh key unless one is given (OROSTAT_KEY): with a known key, the loaded data can be profiled later.
    os.environ.update(OROSTAT_HOME=str(home), DAGSTER_HOME=str(home / "dagster"))
    os.environ.setdefault("OROSTAT_KEY", secrets.token_hex(32))
    os.environ.pop("OROSTAT_KEY_FILE", None)

    from pipelines.demo.generator import generate_demo
    from pipelines.run import run_months, run_release

    if not (landing / ".complete").exists():
        started = time.perf_counter()
        for year in years:
            generate_demo(landing, year=year, scale=args.scale)
        (landing / ".complete").touch()
        print(f"generated synthetic extracts in {time.perf_counter() - started:.1f} s")
    files = sum(1 for p in landing.iterdir() if not p.name.startswith("."))
    mb = sum(p.stat().st_size for p in landing.iterdir()) / 1e6

    started = time.perf_counter()
    outcome = run_months(f"{years[0]}-01", f"{args.year}-12")
    wall = time.perf_counter() - started
    if not outcome.success:
        raise SystemExit(f"run failed: {outcome.errors}")

    ledger = f"{home}/data/2_pseudonymised/extract_month=*/ledger.parquet"
    rows_in, accepted, quarantined = db.one(
        f"SELECT sum(rows_in), sum(accepted), sum(quarantined) FROM read_parquet('{ledger}')"
    )
    started = time.perf_counter()
    release = run_release(f"{args.year}-12")
    release_wall = time.perf_counter() - started
    # A re-delivery of the latest month (one municipality's corrected file, under a newer name): the
    # month is pseudonymised again in full, like a new month, and its register and statistics follow.
    (original,) = landing.glob(f"0180_{args.year}-12.*")
    corrected = landing / f"0180_{args.year}-12_rattad{original.suffix}"
    shutil.copy2(original, corrected)
    started = time.perf_counter()
    again = run_months(f"{args.year}-12")
    month_wall = time.perf_counter() - started
    corrected.unlink()  # the cached landing folder stays as generated
    if not again.success:
        raise SystemExit(f"reload failed: {again.errors}")
    if not release.success:
        raise SystemExit(f"release failed: {release.errors}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(
        f"\nNational {'year' if len(years) == 1 else f'{len(years)} years to'} {args.year}, scale {args.scale}: {files} files, {mb:.0f} MB, {rows_in:,} rows "
        f"({accepted:,} accepted, {quarantined:,} quarantined)"
    )
    print(f"{'stage':40} {'seconds':>8}")
    for step, seconds in sorted(outcome.step_seconds.items(), key=lambda kv: -kv[1]):
        print(f"{step:40} {seconds:8.2f}")
    ingest = outcome.step_seconds.get("pseudonymised_reports", float("nan"))
    print(f"{'whole Dagster run (wall, in process)':40} {wall:8.2f}")
    print(f"{'release ' + str(args.year) + '-12 (protect, audit, publish)':40} {release_wall:8.2f}")
    for step, seconds in sorted(release.step_seconds.items(), key=lambda kv: -kv[1]):
        print(f"{'  ' + step:40} {seconds:8.2f}")
    print(f"{'month re-delivered (' + str(args.year) + '-12)':40} {month_wall:8.2f}")
    for step, seconds in sorted(again.step_seconds.items(), key=lambda kv: -kv[1]):
        print(f"{'  ' + step:40} {seconds:8.2f}")
    print(f"ingest + pseudonymise: {rows_in / ingest:,.0f} rows/s; end to end: {rows_in / wall:,.0f} rows/s")
    print(f"peak memory: {peak:,.0f} MiB in this process, {workers:,.0f} MiB in the largest worker process")


if __name__ == "__main__":
    main()
