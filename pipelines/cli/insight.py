"""`orostat compare`: a municipality before and after a month, against its comparison group, on the
published figures. The analysis is ``pipelines/stage6_publishing/insight/``; this is the thin wrapper."""

from __future__ import annotations

import argparse
from pathlib import Path

from pipelines.cli.common import CommandError, add_command, kommun, month, municipalities
from pipelines.core.schemas import insight_spec
from pipelines.core.settings import paths


def add_commands(sub: argparse._SubParsersAction) -> None:
    spec = insight_spec()
    codes = list(spec["compare"]["indicators"])
    compare = add_command(
        sub,
        "compare",
        _compare,
        "did a municipality change after a month, compared with similar municipalities?",
        "Compares a municipality's monthly figures before and after --from with the mean of the other\n"
        "municipalities in its comparison group in the same months. A month is the difference of two\n"
        "successive releases' published year-to-date figures (municipal months are not published).\n"
        "Difference-in-differences with a 95 % confidence interval (autocorrelation-robust EWC errors); says in Swedish\n"
        "what the estimate means and what it cannot tell. Only published, disclosure-protected figures are\n"
        "used (docs/insight.md).\n"
        f"Refused (exit 2) with fewer than {spec['compare']['min_months_before']} months before or "
        f"{spec['compare']['min_months_after']} after, or too many hidden months.\n"
        f"Indicators: {', '.join(codes)}.",
        [
            "orostat compare --kommun 2401 --from 2024-09",
            "orostat compare --kommun 0180 --from 2025-01 --indicator investigation_rate",
            "orostat compare --kommun 1280 --from 2024-06 --release 2025-06 --chart malmo.svg",
        ],
    )
    compare.add_argument(
        "--kommun", type=kommun, required=True, help="the municipality (kommunkod, e.g. 2401)"
    )
    compare.add_argument(
        "--from", dest="start", type=month, required=True, help="first month after the change, YYYY-MM"
    )
    compare.add_argument(
        "--indicator",
        choices=codes,
        default=spec["compare"]["default_indicator"],
        help=f"the figure compared (default {spec['compare']['default_indicator']})",
    )
    compare.add_argument("--release", type=month, help="release YYYY-MM (default: the latest published)")
    compare.add_argument("--chart", type=Path, help="write an SVG chart of the two series here (.svg)")


def _releases() -> list[str]:
    protected = paths().protected
    if not protected.exists():
        return []
    return sorted(
        p.name.removeprefix("release=") for p in protected.glob("release=*") if (p / "manifest.json").exists()
    )


def _compare(args: argparse.Namespace) -> int:
    from pipelines.stage6_publishing.insight import explain
    from pipelines.stage6_publishing.insight.compare import CompareRefused
    from pipelines.stage6_publishing.insight.groups import GroupFileError, grouping
    from pipelines.stage6_publishing.release_tables import Release

    if args.chart is not None and (args.chart.suffix.lower() != ".svg" or not args.chart.parent.is_dir()):
        raise CommandError(f"--chart {args.chart}: give a file name ending in .svg in an existing folder.")
    releases = _releases()
    release = args.release or (releases[-1] if releases else None)
    if release is None or release not in releases:
        known = (
            f"{releases[0]} … {releases[-1]}, {len(releases)} in all"
            if len(releases) > 3
            else ", ".join(releases)
        )
        known = known or "none"
        raise CommandError(
            f"No published release {release or ''} (published: {known}); run orostat release first."
        )
    home = paths()
    monthly = {r: Release(home.protected / f"release={r}") for r in releases if r <= release}
    try:
        groups = grouping(home, int(release[:4]))
    except GroupFileError as err:
        raise CommandError(str(err)) from None
    if groups is None:
        raise CommandError(
            "No comparison groups: supply the population file (SCB BE0101A) or a group file "
            "(settings.yaml insight.comparison_groups_file)."
        )
    name = municipalities()[args.kommun]
    try:
        result = explain.run(monthly, groups, args.kommun, name, args.indicator, args.start)
    except CompareRefused as err:
        raise CommandError(f"Jämförelsen görs inte: {err}") from None
    print(explain.text(result))
    if args.chart is not None:
        args.chart.write_text(explain.chart(result), encoding="utf-8")
        print(f"\nDiagram: {args.chart}")
    return 0
