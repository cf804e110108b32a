"""The ``orostat`` command line. One module per command family; each adds its subcommands with a
description and examples, and validates its arguments before any work (a bad argument is one clear line
and exit status 2, never a traceback)."""

from __future__ import annotations

import argparse
import os
import sys

from pipelines.cli import demo, insight, load, publish, read, validate
from pipelines.cli.common import CommandError

DESCRIPTION = """\
orostat: national statistics on reports of concern about children (orosanmälningar), from the monthly
extracts of Sweden's municipalities: pseudonymised, disclosure-controlled, published.

For a municipality:  validate, spec
For the operator:    load, backfill, status, summary, release, rotate-key, demo
For a researcher:    query, serve, compare

`orostat COMMAND --help` describes a command and gives examples."""

EXAMPLES = """\
examples:
  orostat demo                                  synthetic data: generate, load, release, publish
  orostat validate 0180_2025-03.csv             check a file before delivering it
  orostat load --month 2025-03                  load a month (the key from OROSTAT_KEY_FILE)
  orostat status --month 2025-03 --kommun 0180  what one municipality delivered that month
  orostat release --as-of 2025-03               protect and publish the release as of March
  orostat query "SELECT * FROM rates WHERE geo_level = 'riket'"
  orostat compare --kommun 2401 --from 2024-09  a municipality before/after a month vs similar ones

The README and docs/ say more; the delivery specification is docs/leveransspecifikation.md."""

COMMAND_MODULES = (validate, load, read, publish, demo, insight)


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="orostat",
        description=DESCRIPTION,
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.add_commands(sub)
    return top


def main(argv: list[str] | None = None) -> int:
    try:
        args = parser().parse_args(argv)
    except SystemExit as done:  # --help (0), or argparse's one-line message for a bad argument (2)
        return int(done.code or 0)
    from pipelines.core.keys import KeyConfigurationError

    try:
        code = args.handler(args)
        sys.stdout.flush()
        return code
    except (KeyConfigurationError, CommandError) as err:
        # A refused configuration or argument is the operator's to fix, not a crash: one line, no traceback.
        print(" ".join(str(err).split()), file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The output went to a reader that stopped early (`orostat validate FILE | head`): say nothing more
        # (Python would print a traceback, and again on exit) and report that the output was cut short.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
