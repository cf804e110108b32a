"""Commands that read what is there: the deliveries' status, the internal summary, a published release."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pipelines.cli.common import CommandError, add_command, counties, kommun, lan, month, municipalities
from pipelines.core import db
from pipelines.core.files import STATISTICS_FILE
from pipelines.core.settings import paths


def add_commands(sub: argparse._SubParsersAction) -> None:
    status = add_command(
        sub,
        "status",
        _status,
        "what is delivered, loaded, quarantined and missing, per extract month",
        "Per extract month: municipalities delivered (x/290), files loaded and rejected, rows, quarantined\n"
        "and unreconciled rows, reports undecided after 14 days, late decisions, and who is missing. With\n"
        "--month, every municipality that month and the quarantine reasons; with --kommun, one municipality.\n"
        "Exit status: 0 all complete, 1 something missing or rejected, 2 nothing loaded or a bad argument.",
        [
            "orostat status",
            "orostat status --month 2025-03",
            "orostat status --kommun 0180",
            "orostat status --month 2025-03 --kommun 0180",
        ],
    )
    status.add_argument("--month", type=month, help="only this extract month YYYY-MM")
    status.add_argument("--kommun", type=kommun, help="only this municipality (kommunkod, e.g. 0180)")
    summary = add_command(
        sub,
        "summary",
        _summary,
        "print the internal summary per month of arrival (riket, a län or a kommun)",
        "Reports, distinct children, decisions, investigation rate and share decided within 14 days per\n"
        "month of arrival, as of an extract month. INTERNAL: not disclosure-controlled, never to publish.",
        [
            "orostat summary",
            "orostat summary --as-of 2025-06",
            "orostat summary --lan 01",
            "orostat summary --kommun 2480",
        ],
    )
    summary.add_argument("--as-of", type=month, help="extract month YYYY-MM (default: the latest computed)")
    where = summary.add_mutually_exclusive_group()
    where.add_argument("--kommun", type=kommun, help="a municipality (kommunkod, e.g. 0180)")
    where.add_argument("--lan", type=lan, help="a county (länskod, e.g. 01)")
    query = add_command(
        sub,
        "query",
        _query,
        "SQL over a published release (DuckDB); a table, CSV or Parquet out",
        "Runs read-only SQL against the release's research database (one view per published table).",
        [
            "orostat query \"SELECT geo_name, value FROM outcomes WHERE geo_level = 'lan' AND period_type = 'year'\"",
            "orostat query \"SELECT * FROM rates WHERE geo_level = 'riket'\" --csv > rates.csv",
            'orostat query "SELECT * FROM outcomes" --release 2025-06 --output outcomes.parquet',
        ],
    )
    query.add_argument("sql", help="the query, e.g. \"SELECT * FROM outcomes WHERE geo_level = 'lan'\"")
    query.add_argument("--release", type=month, help="release YYYY-MM (default: the latest published)")
    query.add_argument("--output", type=Path, help="write the result here: .csv or .parquet")
    query.add_argument("--csv", action="store_true", help="print the result as CSV (semicolon, UTF-8)")
    serve = add_command(
        sub,
        "serve",
        _serve,
        "serve the published releases over HTTP (PxWebApi 2.0, JSON-stat 2.0)",
        "A read-only open-data API over the published releases only (never the internal statistics):\n"
        "PxWebApi 2.0 under /api/v2, JSON-stat 2.0, CSV, XLSX or Parquet, Swedish or English (docs/api.md).",
        ["orostat serve", "orostat serve --host 0.0.0.0 --port 8080"],
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=port, default=8000, help="port to listen on (default 8000)")


def port(text: str) -> int:
    """An argparse type: a TCP port."""
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port: a number 1–65535, e.g. 8000")
    return int(text)


def _serve(args: argparse.Namespace) -> int:
    import socket

    from pipelines.api.server import serve

    with socket.socket() as probe:  # a port in use is a clear line, not uvicorn's traceback-like log
        try:
            probe.bind((args.host, args.port))
        except OSError as err:
            raise CommandError(f"Cannot listen on {args.host}:{args.port}: {err.strerror}.") from None
    serve(args.host, args.port)
    return 0


def _status(args: argparse.Namespace) -> int:
    from pipelines.operations.status import print_status

    return print_status(paths(), args.month, args.kommun)


def _summary(args: argparse.Namespace) -> int:
    folder = paths().statistics / "reports"
    months = sorted(p.name.split("=")[1] for p in folder.glob("as_of_month=*")) if folder.exists() else []
    if not months:  # nothing wrong with the command: there is nothing to summarise yet
        print("No statistics yet: run `orostat load` or `make demo` first.", file=sys.stderr)
        return 1
    as_of = args.as_of or months[-1]
    if as_of not in months:
        raise CommandError(f"No statistics as of {as_of}: computed as of {months[0]} … {months[-1]}.")
    if args.kommun:
        print_summary(as_of, "kommun", args.kommun, municipalities()[args.kommun])
    elif args.lan:
        print_summary(as_of, "lan", args.lan, counties()[args.lan])
    else:
        print_summary(as_of)
    _print_signals()  # issue 22: the latest published release's signals, a few Swedish lines
    return 0


def _print_signals() -> None:
    from pipelines.stage6_publishing.insight.signals import summary_lines

    published = paths().published
    for line in summary_lines(published) if published.exists() else []:
        print(line)


def print_summary(as_of: str, level: str = "riket", code: str | None = None, name: str = "Riket") -> None:
    """The internal statistics of one geography per month of arrival, as of an extract month."""
    import pyarrow.parquet as pq
    from rich.console import Console
    from rich.table import Table

    path = paths().statistics / "reports" / f"as_of_month={as_of}" / STATISTICS_FILE
    where = f"geo_level = '{level}'" + (f" AND geo_code = '{code}'" if code else "")
    rows = db.rows(
        f"""SELECT period, reports, distinct_children, reports_per_child,
                   decided, investigation_rate, share_decided_within_deadline, undecided
            FROM read_parquet('{path}') WHERE {where} ORDER BY period_type, period"""
    )
    label = (pq.ParquetFile(path).schema_arrow.metadata or {}).get(b"data", b"real").decode()
    title = f"{name}, as of extract {as_of} (internal, unprotected)"
    table = Table(title=title if label == "real" else f"{label}\n{title}")
    headers = [
        "period",
        "reports",
        "children",
        "reports/child",
        "decided",
        "investigated",
        "≤14 days",
        "undecided",
    ]
    for header in headers:
        table.add_column(header, justify="right")
    for period, reports, children, per_child, decided, rate, within, undecided in rows:
        table.add_row(
            period,
            f"{reports:,}",
            f"{children:,}",
            # No identified child in the period (every report anonymous): no ratio, not a crash.
            f"{per_child:.2f}" if per_child is not None else "–",
            f"{decided:,}",
            f"{rate:.1%}" if rate is not None else "–",
            f"{within:.1%}" if within is not None else "–",
            f"{undecided:,}",
        )
    if not rows:
        table.caption = "no reports from this geography in the loaded months"
    Console(width=max(Console().width, 110)).print(table)


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
        raise CommandError(
            f"No published release {release or ''} (published: {known}); run orostat release first."
        )
    if args.output is not None and args.output.suffix.lower() not in {".csv", ".parquet"}:
        raise CommandError("--output must end in .csv or .parquet")
    if args.output is not None and not args.output.parent.is_dir():
        raise CommandError(f"--output {args.output}: the folder {args.output.parent} does not exist.")
    try:
        result = query(published / f"release={release}", args.sql)
    except QueryError as exc:
        raise CommandError(f"The query cannot run: {exc}") from None
    return _print_result(result, args)


def _print_result(result, args: argparse.Namespace) -> int:
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    if args.output is not None:
        if args.output.suffix.lower() == ".parquet":
            pq.write_table(result, args.output, compression="zstd")
        else:
            pacsv.write_csv(result, args.output, pacsv.WriteOptions(delimiter=";"))
        print(f"{result.num_rows:,} rows written to {args.output}")
        return 0
    if args.csv:
        pacsv.write_csv(result, sys.stdout.buffer, pacsv.WriteOptions(delimiter=";"))
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(*result.column_names, caption=f"{result.num_rows:,} rows")
    for row in result.slice(0, 50).to_pylist():
        table.add_row(*("" if v is None else str(v) for v in row.values()))
    Console().print(table)
    return 0
