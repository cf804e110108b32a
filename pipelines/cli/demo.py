"""``orostat demo``: synthetic extracts for some years, loaded, every monthly release built in order, and
the last one published: the main job on built-in data (the README's first command)."""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable

from pipelines.cli.common import add_command, check_months
from pipelines.cli.load import ensure_key, print_outputs, run_load
from pipelines.cli.publish import release_run
from pipelines.core.settings import paths, settings


def add_commands(sub: argparse._SubParsersAction) -> None:
    demo = add_command(
        sub,
        "demo",
        _demo,
        "generate synthetic extracts for some years, load them and build every monthly release",
        "SYNTHETIC data only (SYNTETISKA DEMODATA): extracts for all 290 municipalities with planted late,\n"
        "missing and corrected deliveries, a demo key in var/secrets/, one Dagster run for the load, the\n"
        "monthly releases in order, and the last one published. Generated files are reused when run again.",
        ["orostat demo", "orostat demo --years 2023-2025", "orostat demo --year 2025 --scale 0.1"],
    )
    years = demo.add_mutually_exclusive_group()
    years.add_argument("--years", help="first-last, e.g. 2023-2025 (default: settings.yaml demo.years)")
    years.add_argument("--year", type=int, help="one year only, e.g. 2025")
    demo.add_argument(
        "--scale", type=float, default=1.0, help="share of the national volume (1.0 ≈ 500,000 reports a year)"
    )
    demo.add_argument("--seed", type=int, default=None, help="default: settings.yaml demo.seed")


def _demo(args: argparse.Namespace) -> int:
    """Generate the demo years once, load them in one run, then build every month's release in month
    order (stage 5 only) and run the full release job (protection and publishing) for the last month."""
    import time

    from pipelines.core.partitions import months_between
    from pipelines.stage2_pseudonymise.key_check import check_keys

    years = _demo_years(args)
    problem = years if isinstance(years, str) else check_months(f"{years[0]}-01", f"{years[-1]}-12")
    if problem:
        print(problem, file=sys.stderr)
        return 2
    seed = settings()["demo"]["seed"] if args.seed is None else args.seed
    ensure_key(demo=True)
    check_keys(paths())  # before any work: a refused key is one line and exit 2 (main)
    months = months_between(f"{years[0]}-01", f"{years[-1]}-12")
    clock: dict[str, float] = {}
    started = time.perf_counter()
    _demo_extracts(years, seed, args.scale)
    clock["generation"] = time.perf_counter() - started
    ok = _timed(clock, "load", lambda: run_load(months[0], months[-1]))
    if ok:
        print_outputs(months[-1])
        ok = _timed(clock, "releases", lambda: _demo_releases(months[:-1]))
    if ok:
        ok = _timed(clock, "publishing", lambda: release_run(months[-1]))
    print("\nDemo wall time: " + ", ".join(f"{k} {v:.0f} s" for k, v in clock.items()), end="")
    print(f"; total {time.perf_counter() - started:.0f} s")
    return 0 if ok else 1


def _demo_years(args: argparse.Namespace) -> list[int] | str:
    """The demo's years from --year, --years or settings.yaml (demo.years), or what is wrong with them."""
    if args.year is not None:
        return [args.year]
    if args.years is None:
        configured = settings()["demo"]["years"]
        return list(range(int(configured["first"]), int(configured["last"]) + 1))
    match = re.fullmatch(r"(\d{4})(?:-(\d{4}))?", args.years.strip())
    if not match:
        return f"--years {args.years!r}: write FIRST-LAST, e.g. 2023-2025."
    first, last = int(match[1]), int(match[2] or match[1])
    limit = int(settings()["operations"]["max_backfill_years"])
    if first > last or last - first >= limit:
        return f"--years {args.years}: the first year must not be after the last, and at most {limit} years."
    return list(range(first, last + 1))


def _demo_extracts(years: list[int], seed: int, scale: float) -> None:
    """The synthetic extracts (once per years, seed and scale) and the population covering the years."""
    from pipelines.demo.generator import generate_demo

    home = paths()
    marker = home.landing / f".demo-{years[0]}-{years[-1]}-{seed}-{scale}"
    if not marker.exists():
        span = f"{years[0]}–{years[-1]}" if len(years) > 1 else str(years[0])
        print(f"Generating SYNTHETIC demo extracts for {span} (scale {scale}) in {home.landing} …")
        summary = generate_demo(home.landing, seed=seed, scale=scale, years=years, irregular_deliveries=True)
        print(f"  {summary.files} files, {summary.rows} rows (synthetic: SYNTETISKA DEMODATA)")
        for kind, words in (("missing", "never delivered"), ("late", "delivered with the next month")):
            print(f"  planted: {words}: {', '.join(summary.deliveries.names(kind)) or 'none'}")
        print(
            f"  planted: re-delivered (corrected file wins): {', '.join(summary.deliveries.names('redelivered'))}"
        )
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()
    _demo_population(years, seed)


def _demo_population(years: list[int], seed: int) -> None:
    """Write the synthetic population unless a file is there; a synthetic one (ours, by its title) is
    rewritten so that it covers the years. A real SCB file is never touched."""
    from pipelines.demo.population import SYNTHETIC_TITLE, generate_population
    from pipelines.stage4_statistics.population import population_file

    population = population_file(paths())
    ours = population.exists() and SYNTHETIC_TITLE.encode("cp1252") in population.read_bytes()[:200]
    if not population.exists() or ours:
        generate_population(population, years, seed)
    print(f"  population (denominators): {population}")


def _timed(clock: dict[str, float], name: str, step: Callable[[], bool]) -> bool:
    import time

    started = time.perf_counter()
    ok = step()
    clock[name] = time.perf_counter() - started
    return ok


def _demo_releases(months: list[str]) -> bool:
    """Stage 5 alone for each month, in month order (the cell-key audit of each release checks every
    earlier one, so the order matters); stop at the first release whose audit does not pass."""
    import time

    from pipelines.stage5_protection.release import build_release, release_folder

    if not months:
        return True
    home = paths()
    print(f"\nProtecting the releases {months[0]} … {months[-1]} in month order (stage 5 only) …")
    started = time.perf_counter()
    for month in months:
        clock = time.perf_counter()
        outcome = build_release(home, month)
        print(
            f"  {month}: audit {'passes' if outcome.passes else 'FAILS'}, {time.perf_counter() - clock:.1f} s"
        )
        if not outcome.passes:
            print(
                f"The release as of {month} fails its audit ({release_folder(home, month)}): it must not be"
                " published; the demo stops here.",
                file=sys.stderr,
            )
            return False
    seconds = time.perf_counter() - started
    print(
        f"  {len(months)} releases, every audit passes, {seconds:.0f} s ({seconds / len(months):.1f} s each)"
    )
    return True
