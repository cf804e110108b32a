"""What several commands share: argument types that refuse bad values with a clear message, a subcommand
with a description and examples, and the monthly partitions' range."""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable

from pipelines.core.schemas import _csv


class CommandError(Exception):
    """A bad argument found after parsing (a month not loaded, an unknown code): one line, exit 2."""


def month(text: str) -> str:
    """An argparse type: YYYY-MM, a real month."""
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", text.strip()):
        raise argparse.ArgumentTypeError(f"{text!r} is not a month: write YYYY-MM, e.g. 2025-03")
    return text.strip()


def municipalities() -> dict[str, str]:
    """kommunkod → name, from the reference table."""
    return {
        row["municipality_code"]: row["municipality_name_short"]
        for row in _csv("reference/municipalities.csv").to_pylist()
    }


def counties() -> dict[str, str]:
    """länskod → name, from the reference table."""
    return {row["county_code"]: row["county_name"] for row in _csv("reference/counties.csv").to_pylist()}


def kommun(text: str) -> str:
    """An argparse type: one of the 290 kommunkoder."""
    code = text.strip()
    if code not in municipalities():
        raise argparse.ArgumentTypeError(f"{text!r} is not a kommunkod: four digits, e.g. 0180 (Stockholm)")
    return code


def lan(text: str) -> str:
    """An argparse type: one of the 21 länskoder."""
    code = text.strip()
    if code not in counties():
        raise argparse.ArgumentTypeError(f"{text!r} is not a länskod: two digits, e.g. 01 (Stockholms län)")
    return code


def add_command(
    sub: argparse._SubParsersAction,
    name: str,
    handler: Callable[[argparse.Namespace], int],
    summary: str,
    description: str,
    examples: list[str],
) -> argparse.ArgumentParser:
    """A subcommand with a one-line summary (in ``orostat --help``), a description and examples."""
    parser = sub.add_parser(
        name,
        help=summary,
        description=description,
        epilog="examples:\n" + "\n".join(f"  {example}" for example in examples),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(handler=handler)
    return parser


def loadable_months() -> list[str]:
    from pipelines.core.partitions import monthly

    return monthly.get_partition_keys()


def check_months(first: str, last: str) -> str | None:
    """A clear message if the months are reversed or outside the monthly partitions."""
    keys = loadable_months()
    for item in (first, last):
        if item not in keys:
            return f"{item} is outside the loadable months {keys[0]} … {keys[-1]} (a month can be loaded once it has ended)."
    if first > last:
        return f"--from {first} is after --to {last}."
    return None
