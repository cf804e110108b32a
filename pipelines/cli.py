"""The ``orostat`` command line: demo, load, validate, summary."""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path

from pipelines.core import db
from pipelines.core.settings import paths, settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="orostat", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser(
        "demo", help="generate synthetic extracts for some years, load them and build every monthly release"
    )
    years = demo.add_mutually_exclusive_group()
    years.add_argument("--years", help="first-last, e.g. 2023-2025 (default: settings.yaml demo.years)")
    years.add_argument("--year", type=int, help="one year only, e.g. 2025")
    demo.add_argument(
        "--scale", type=float, default=1.0, help="share of the national volume (1.0 ≈ 500,000 reports a year)"
    )
    demo.add_argument("--seed", type=int, default=None, help="default: settings.yaml demo.seed")
    load = sub.add_parser("load", help="load one extract month, or a range, through Dagster (headless)")
    load.add_argument("--month", help="YYYY-MM")
    load.add_argument("--from", dest="first", help="first month YYYY-MM of a range")
    load.add_argument("--to", dest="last", help="last month YYYY-MM of a range")
    backfill = sub.add_parser("backfill", help="load a range of extract months as one Dagster run")
    backfill.add_argument("--from", dest="first", required=True, help="first month YYYY-MM")
    backfill.add_argument("--to", dest="last", required=True, help="last month YYYY-MM")
    summary = sub.add_parser("summary", help="print the national summary per month of arrival")
    summary.add_argument("--as-of", help="extract month YYYY-MM (default: the latest computed)")
    release = sub.add_parser("release", help="protect and write the release as of an extract month")
    release.add_argument("--as-of", required=True, help="extract month YYYY-MM (loaded first)")
    status = sub.add_parser("status", help="what is loaded and what is missing, per extract month")
    status.add_argument("--month", help="only this extract month YYYY-MM")
    query = sub.add_parser("query", help="SQL over a published release (DuckDB); a table, CSV or Parquet out")
    query.add_argument("sql", help="the query, e.g. \"SELECT * FROM outcomes WHERE geo_level = 'lan'\"")
    query.add_argument("--release", help="release YYYY-MM (default: the latest published)")
    query.add_argument("--output", type=Path, help="write the result here: .csv or .parquet")
    query.add_argument("--csv", action="store_true", help="print the result as CSV (semicolon, UTF-8)")
    serve = sub.add_parser(
        "serve", help="serve the published releases over HTTP (PxWebApi 2.0, JSON-stat 2.0)"
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")
    sub.add_parser("rotate-key", help="rebuild every loaded month from the retained extracts with a new key")
    validate = sub.add_parser("validate", help="check an extract file without loading it (no key needed)")
    validate.add_argument("file", type=Path)
    validate.add_argument("--english", action="store_true", help="messages in English")
    validate.add_argument("--feedback", type=Path, help="write the row-level feedback CSV here")
    args = parser.parse_args(argv)
    handler = {
        "demo": _demo,
        "load": _load,
        "summary": _summary,
        "validate": _validate,
        "release": _release,
        "status": _status,
        "backfill": _backfill,
        "rotate-key": _rotate_key,
        "query": _query,
        "serve": _serve,
    }[args.command]
    from pipelines.stage2_pseudonymise.keyed_hash import KeyConfigurationError

    try:
        code = handler(args)
        sys.stdout.flush()
        return code
    except KeyConfigurationError as err:
        # A refused configuration is the operator's to fix, not a crash: one line, no traceback.
        print(" ".join(str(err).split()), file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The output went to a reader that stopped early (`orostat validate FILE | head`): say nothing more
        # (Python would print a traceback, and again on exit) and report that the output was cut short.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


def _demo(args: argparse.Namespace) -> int:
    """Generate the demo years once, load them in one run, then build every month's release in month
    order (stage 5 only) and run the full release job (protection and publishing) for the last month."""
    import time

    from pipelines.core.partitions import months_between
    from pipelines.stage2_pseudonymise.key_check import check_keys

    years = _demo_years(args)
    problem = years if isinstance(years, str) else _check_months(f"{years[0]}-01", f"{years[-1]}-12")
    if problem:
        print(problem, file=sys.stderr)
        return 2
    seed = settings()["demo"]["seed"] if args.seed is None else args.seed
    _ensure_key(demo=True)
    check_keys(paths())  # before any work: a refused key is one line and exit 2 (main)
    months = months_between(f"{years[0]}-01", f"{years[-1]}-12")
    clock: dict[str, float] = {}
    started = time.perf_counter()
    _demo_extracts(years, seed, args.scale)
    clock["generation"] = time.perf_counter() - started
    ok = _timed(clock, "load", lambda: _run(months[0], months[-1]))
    if ok:
        _print_outputs(months[-1])
        ok = _timed(clock, "releases", lambda: _demo_releases(months[:-1]))
    if ok:
        ok = _timed(clock, "publishing", lambda: _release_run(months[-1]))
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
    from pipelines.demo.generator import SYNTHETIC_TITLE, generate_population
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


def _ensure_key(demo: bool = False) -> None:
    """Use the configured key; for the demo, create a demo key once and say so."""
    from pipelines.stage2_pseudonymise.keyed_hash import MissingKeyError, load_key, new_key_file

    try:
        load_key()
        return
    except MissingKeyError:
        if not demo:
            raise
    key_file = paths().secrets / "demo.key"
    if not key_file.exists():
        key_file.parent.mkdir(parents=True, exist_ok=True)
        new_key_file(key_file)
        print(f"Created a DEMO pseudonymisation key at {key_file} (demo only: never use it for real data).")
    os.environ["OROSTAT_KEY_FILE"] = str(key_file)
    _ensure_demo_archive_key()


def _ensure_demo_archive_key() -> None:
    """The demo keeps its loaded extracts encrypted too, with a separate demo archive key."""
    from pipelines.core.settings import settings
    from pipelines.stage1_landing.archive import MissingArchiveKeyError, load_archive_key
    from pipelines.stage2_pseudonymise.keyed_hash import new_key_file

    try:
        load_archive_key()
        return
    except MissingArchiveKeyError:
        pass
    key_file = paths().secrets / "demo-archive.key"
    if not key_file.exists():
        new_key_file(key_file)
        print(
            f"Created a DEMO archive key at {key_file}: loaded extracts are kept encrypted in data/1_archive/."
        )
    os.environ[settings()["archive"]["key_file_env"]] = str(key_file)


def _which_run(run_id: str) -> str:
    """A refused run (the lock, a daemon run in progress) never started: it has no run id to name."""
    return f"Dagster run {run_id}" if run_id else "Not started"


def _run(first: str, last: str) -> bool:
    from pipelines.core.run import run_months

    print(f"Running the monthly load through Dagster for {first} … {last} (headless) …")
    outcome = run_months(first, last)
    if outcome.success:
        print(f"  Dagster run {outcome.run_id}: success")
        for message in outcome.warnings:
            print(f"    {message} (see `orostat status`)")
    else:
        print(f"  {_which_run(outcome.run_id)}: FAILED", file=sys.stderr)
        for message in outcome.errors:
            print(f"    {message}", file=sys.stderr)
    return outcome.success


def _load(args: argparse.Namespace) -> int:
    from pipelines.stage2_pseudonymise.key_check import check_keys

    first = args.month or args.first
    last = args.month or args.last or first
    if not first:
        print("Give --month YYYY-MM, or --from YYYY-MM --to YYYY-MM.", file=sys.stderr)
        return 2
    problem = _check_months(first, last)
    if problem:
        print(problem, file=sys.stderr)
        return 2
    _ensure_key()
    check_keys(paths())  # every key, and that it is the loaded data's, before any work (main: exit 2)
    later = _latest_loaded()
    if later and later > last:
        # A re-delivery for a month already published: every later as-of month changes too.
        print(f"Extract months up to {later} are already loaded: recomputing {first} … {later}.")
        last = later
    ok = _run(first, last)
    if ok:
        _print_outputs(last)
    return 0 if ok else 1


def _backfill(args: argparse.Namespace) -> int:
    """A range of months (years) as one single-run backfill, with a live status while it runs."""
    from rich.console import Console

    from pipelines.core.partitions import months_between

    problem = _check_months(args.first, args.last)
    if problem:
        print(problem, file=sys.stderr)
        return 2
    months = months_between(args.first, args.last)
    limit = 12 * int(settings()["operations"]["max_backfill_years"])
    if len(months) > limit:
        print(f"{len(months)} months is more than {limit} in one run: split the backfill.", file=sys.stderr)
        return 2
    print(f"Backfill: {len(months)} extract months, {args.first} … {args.last}, in one Dagster run.")
    with Console(stderr=True).status(f"Loading {len(months)} months (one run) …"):
        return _load(argparse.Namespace(month=None, first=args.first, last=args.last))


def _check_months(first: str, last: str) -> str | None:
    """A clear message if the months are malformed, reversed or outside the monthly partitions."""
    from pipelines.core.partitions import monthly

    keys = monthly.get_partition_keys()
    for month in (first, last):
        if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", month):
            return f"{month!r} is not a month: write YYYY-MM, e.g. 2025-03."
        if month not in keys:
            return f"{month} is outside the loadable months {keys[0]} … {keys[-1]} (a month can be loaded once it has ended)."
    if first > last:
        return f"--from {first} is after --to {last}."
    return None


def _latest_loaded() -> str | None:
    from pipelines.stage3_register.register import latest_extract_month

    return latest_extract_month(paths())


def _print_outputs(as_of: str) -> None:
    home = paths()
    print("\nOutputs (INTERNAL statistics: not disclosure-controlled, do not publish):")
    for label, folder in [
        ("pseudonymised reports, quarantine, ledger", home.pseudonymised),
        ("report register (one partition per extract month)", home.register),
        ("statistics (Parquet, hive-partitioned by as_of_month)", home.statistics),
    ]:
        print(f"  {label:55} {folder}")
    _print_summary(as_of)


def _summary(args: argparse.Namespace) -> int:
    home = paths()
    folder = home.statistics / "reports"
    months = sorted(p.name.split("=")[1] for p in folder.glob("as_of_month=*")) if folder.exists() else []
    if not months:
        print("No statistics yet: run `orostat load` or `make demo` first.", file=sys.stderr)
        return 1
    _print_summary(args.as_of or months[-1])
    return 0


def _print_summary(as_of: str) -> None:
    from rich.console import Console
    from rich.table import Table

    path = paths().statistics / "reports" / f"as_of_month={as_of}" / "data.parquet"
    rows = db.rows(
        f"""SELECT period, reports, distinct_children, reports_per_child,
                   decided, investigation_rate, share_decided_within_deadline, undecided
            FROM read_parquet('{path}') WHERE geo_level = 'riket' ORDER BY period_type, period"""
    )
    import pyarrow.parquet as pq

    label = (pq.ParquetFile(path).schema_arrow.metadata or {}).get(b"data", b"real").decode()
    title = f"Riket, as of extract {as_of} (internal, unprotected)"
    table = Table(title=title if label == "real" else f"{label}\n{title}")
    for header in [
        "period",
        "reports",
        "children",
        "reports/child",
        "decided",
        "investigated",
        "≤14 days",
        "undecided",
    ]:
        table.add_column(header, justify="right")
    for month, reports, children, per_child, decided, rate, within, undecided in rows:
        table.add_row(
            month,
            f"{reports:,}",
            f"{children:,}",
            # No identified child in the period (every report anonymous): no ratio, not a crash.
            f"{per_child:.2f}" if per_child is not None else "–",
            f"{decided:,}",
            f"{rate:.1%}" if rate is not None else "–",
            f"{within:.1%}" if within is not None else "–",
            f"{undecided:,}",
        )
    Console(width=max(Console().width, 110)).print(table)


def _release(args: argparse.Namespace) -> int:
    problem = _check_months(args.as_of, args.as_of)
    if problem:
        print(problem, file=sys.stderr)
        return 2
    if not (paths().statistics / "reports" / f"as_of_month={args.as_of}").exists():
        print(f"No statistics as of {args.as_of}: load that month first (orostat load).", file=sys.stderr)
        return 2
    return 0 if _release_run(args.as_of) else 1


def _release_summary(manifest: dict) -> str:
    """One line on what a release hid and how it was audited (aggregates only)."""
    audit, tables = manifest["audit"], manifest["tables"]
    cells = sum(t["cells"] for t in tables.values())
    hidden = sum(t["suppressed_total"] for t in tables.values())
    if manifest.get("disclosure_method") == "cell_key":
        noises = [t["mean_absolute_noise"] for t in tables.values() if "mean_absolute_noise" in t]
        return (
            f"{cells:,} cells, {hidden:,} hidden (published value 1–{manifest['rules']['threshold']}); "
            f"mean absolute noise {sum(noises) / len(noises):.2f}; audit: certificate "
            f"({'passes' if audit['passes'] else 'FAILS'}), no count narrower than ±{audit['margin']:g} "
            "against every earlier release"
        )
    return (
        f"{cells:,} cells, {hidden:,} suppressed "
        f"({sum(t['suppressed_primary'] for t in tables.values()):,} primary); audit: "
        f"{audit['cells_audited']:,} hidden cells attacked, narrowest interval {audit['narrowest_interval']}"
        f" (margin {audit['margin']}), previous release: {manifest['previous_release'] or 'none'}"
    )


def _release_run(month: str) -> bool:
    """Run the release through Dagster and say where it is and what it hid (aggregates only)."""
    import json

    from pipelines.core.run import run_release
    from pipelines.stage5_protection.release import MANIFEST_FILE, method, release_folder

    words = {"cell_key": "cell-key perturbation, certificate audit"}
    print(
        f"Protecting the release as of {month} ({words.get(method(), 'primary + secondary suppression, LP audit')}) …"
    )
    outcome = run_release(month)
    folder = release_folder(paths(), month)
    if not outcome.success:
        print(f"  {_which_run(outcome.run_id)}: FAILED: the release must not be published", file=sys.stderr)
        for message in outcome.errors:
            print(f"    {message}", file=sys.stderr)
        return False
    manifest = json.loads((folder / MANIFEST_FILE).read_text("utf-8"))
    print(f"  Dagster run {outcome.run_id}: success. Protected release (publishable): {folder}")
    print(f"  {_release_summary(manifest)}")
    published = paths().published / f"release={month}"
    print(f"  Published from it: {published}")
    print(f"    report {published / 'rapport' / 'index.html'} (open in a browser)")
    print(
        f"    workbook {published / f'orostat_{month}.xlsx'}; research database {published / 'orostat.duckdb'}"
    )
    print("    query it: orostat query \"SELECT * FROM outcomes WHERE geo_level = 'riket'\"")
    return True


def _query(args: argparse.Namespace) -> int:
    """Exit 0 with the result, 2 when the SQL or the release is wrong (the message says which)."""
    from pipelines.stage6_publishing.research import QueryError, query

    published = paths().published
    releases = (
        sorted(p.name.removeprefix("release=") for p in published.glob("release=*"))
        if published.exists()
        else []
    )
    release = args.release or (releases[-1] if releases else None)
    if release is None or release not in releases:
        known = ", ".join(releases) or "none"
        print(
            f"No published release {release or ''} (published: {known}); run orostat release first.",
            file=sys.stderr,
        )
        return 2
    try:
        result = query(published / f"release={release}", args.sql)
    except QueryError as exc:
        print(f"The query cannot run: {exc}", file=sys.stderr)
        return 2
    return _print_result(result, args)


def _print_result(result, args: argparse.Namespace) -> int:
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    if args.output is not None:
        suffix = args.output.suffix.lower()
        if suffix not in {".csv", ".parquet"}:
            print("--output must end in .csv or .parquet", file=sys.stderr)
            return 2
        if suffix == ".parquet":
            pq.write_table(result, args.output, compression="zstd")
        else:
            pacsv.write_csv(result, args.output, pacsv.WriteOptions(delimiter=";"))
        print(f"{result.num_rows:,} rows written to {args.output}")
        return 0
    if args.csv:
        sink = sys.stdout.buffer
        pacsv.write_csv(result, sink, pacsv.WriteOptions(delimiter=";"))
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(*result.column_names, caption=f"{result.num_rows:,} rows")
    for row in result.slice(0, 50).to_pylist():
        table.add_row(*("" if v is None else str(v) for v in row.values()))
    Console().print(table)
    return 0


def _serve(args: argparse.Namespace) -> int:
    from pipelines.api.server import serve

    serve(args.host, args.port)
    return 0


def _status(args: argparse.Namespace) -> int:
    from pipelines.stage4_statistics.status import print_status

    return print_status(paths(), args.month)


def _rotate_key(args: argparse.Namespace) -> int:
    from pipelines.stage1_landing.archive import rotate_key

    return rotate_key(args)


def _validate(args: argparse.Namespace) -> int:
    from pipelines.stage2_pseudonymise.feedback import validate_file

    return validate_file(args.file, english=args.english, feedback=args.feedback)


if __name__ == "__main__":
    raise SystemExit(main())
