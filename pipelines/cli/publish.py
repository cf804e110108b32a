"""The publisher's command: protect the release as of an extract month and publish it."""

from __future__ import annotations

import argparse
import json
import sys

from pipelines.cli.common import CommandError, add_command, check_months, month
from pipelines.cli.load import which_run
from pipelines.core.settings import paths


def add_commands(sub: argparse._SubParsersAction) -> None:
    release = add_command(
        sub,
        "release",
        _release,
        "protect and publish the release as of an extract month",
        "Stage 5 protects every table (cell-key method; schemas/release.yaml) and audits it against every\n"
        "earlier release; only if the audit passes does stage 6 publish the report, workbook, CSV, research\n"
        "database and data dictionary. The month's statistics must be loaded (orostat load).",
        ["orostat release --as-of 2025-03"],
    )
    release.add_argument("--as-of", required=True, type=month, help="extract month YYYY-MM (loaded first)")


def _release(args: argparse.Namespace) -> int:
    problem = check_months(args.as_of, args.as_of)
    if problem:
        raise CommandError(problem)
    if not (paths().statistics / "reports" / f"as_of_month={args.as_of}").exists():
        raise CommandError(f"No statistics as of {args.as_of}: load that month first (orostat load).")
    return 0 if release_run(args.as_of) else 1


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


def release_run(as_of: str) -> bool:
    """Run the release through Dagster and say where it is and what it hid (aggregates only)."""
    from pipelines.run import run_release
    from pipelines.stage5_protection.decision import method
    from pipelines.stage5_protection.release import release_folder
    from pipelines.stage5_protection.release_files import MANIFEST_FILE

    words = {"cell_key": "cell-key perturbation, certificate audit"}
    print(
        f"Protecting the release as of {as_of} ({words.get(method(), 'primary + secondary suppression, LP audit')}) …"
    )
    outcome = run_release(as_of)
    folder = release_folder(paths(), as_of)
    if not outcome.success:
        print(f"  {which_run(outcome.run_id)}: FAILED: the release must not be published", file=sys.stderr)
        for message in outcome.errors:
            print(f"    {message}", file=sys.stderr)
        return False
    manifest = json.loads((folder / MANIFEST_FILE).read_text("utf-8"))
    print(f"  Dagster run {outcome.run_id}: success. Protected release (publishable): {folder}")
    print(f"  {_release_summary(manifest)}")
    published = paths().published / f"release={as_of}"
    print(f"  Published from it: {published}")
    print(f"    report {published / 'rapport' / 'index.html'} (open in a browser)")
    print(
        f"    workbook {published / f'orostat_{as_of}.xlsx'}; research database {published / 'orostat.duckdb'}"
    )
    print("    query it: orostat query \"SELECT * FROM outcomes WHERE geo_level = 'riket'\"")
    return True
