"""Dagster assets for stage 6: what SKR publishes and researchers query, built from the protected release only.

Each writes its own files under ``6_published/release=YYYY-MM/`` (atomically) and returns aggregate metadata.
They run after ``protected_release`` in the ``monthly_release`` job; its blocking audit check stops them
when the release fails, so nothing unprotected is ever published.
"""

import time
from pathlib import Path
from typing import TYPE_CHECKING

from dagster import AssetExecutionContext, MaterializeResult, asset

from pipelines.core.partitions import monthly
from pipelines.core.settings import paths

if TYPE_CHECKING:
    from pipelines.stage6_publishing.release_tables import Release

# The publishing modules (pandas, jinja2, xlsxwriter) are imported inside the assets: every
# command-line run and code server loads these definitions, and a load never publishes (with stage 5's
# imports, the definitions load in 0.49 s instead of 1.23 s).

GROUP = "stage6_publishing"


def _release(context: AssetExecutionContext) -> "tuple[Release, Path]":
    from pipelines.stage5_protection.release import release_folder
    from pipelines.stage6_publishing.release_tables import Release, published_folder

    home = paths()
    return Release(release_folder(home, context.partition_key)), published_folder(home, context.partition_key)


@asset(partitions_def=monthly, deps=["protected_release"], group_name=GROUP, kinds={"duckdb", "parquet"})
def research_database(context: AssetExecutionContext) -> MaterializeResult:
    """The release's tables (Parquet, CSV, audit, manifest) in ``tabeller/`` and ``orostat.duckdb`` holding the
    same tables (it opens from any folder), ``release_info`` and ``data_dictionary``, every table and column
    commented; query it with ``orostat query``. Parquet files carry their schema version and release id."""
    from pipelines.stage6_publishing import research

    release, folder = _release(context)
    started = time.perf_counter()
    copied = research.write_tables(release, folder)
    tables = research.write_database(release, folder)
    return MaterializeResult(
        metadata={"files": copied, "tables": len(tables), "seconds": round(time.perf_counter() - started, 2)}
    )


@asset(partitions_def=monthly, deps=["protected_release"], group_name=GROUP, kinds={"markdown", "html"})
def data_dictionary(context: AssetExecutionContext) -> MaterializeResult:
    """The data dictionary (``datakatalog.md`` and ``.html``): every table, column, type, unit, code list and
    definition, generated from schemas/ alone."""
    from pipelines.stage6_publishing import research

    release, folder = _release(context)
    written = research.write_dictionary(release, folder)
    return MaterializeResult(metadata={"files": len(written)})


@asset(partitions_def=monthly, deps=["protected_release"], group_name=GROUP, kinds={"excel"})
def published_workbook(context: AssetExecutionContext) -> MaterializeResult:
    """The release as an XLSX workbook: "Om statistiken", then one sheet per table with Swedish headers;
    suppressed values as ``..``; every text written as text, so no cell is a formula."""
    from pipelines.stage6_publishing.workbook import write_workbook

    release, folder = _release(context)
    started = time.perf_counter()
    path = write_workbook(release, folder)
    return MaterializeResult(
        metadata={
            "sheets": len(release.tables) + 1,
            "bytes": path.stat().st_size,
            "seconds": round(time.perf_counter() - started, 2),
        }
    )


@asset(partitions_def=monthly, deps=["protected_release"], group_name=GROUP, kinds={"html", "svg"})
def published_report(context: AssetExecutionContext) -> MaterializeResult:
    """The Swedish HTML report (``rapport/index.html``): riket (key figures, trends over every loaded year,
    causes, reporters, age × sex), one page per län and per kommun, "Om statistiken" (``om.html``); inline
    SVG charts with text alternatives; links to the other outputs; works offline. Years before the release's
    own two come from the December releases of the years after them."""
    from pipelines.stage6_publishing.history import History
    from pipelines.stage6_publishing.insight import signals
    from pipelines.stage6_publishing.report import build_report

    release, folder = _release(context)
    started = time.perf_counter()
    counts = build_report(release, folder / "rapport")
    signals.write_csv(History(release), folder)  # issue 22: signaler.csv, rewritten on every publication
    return MaterializeResult(metadata={**counts, "seconds": round(time.perf_counter() - started, 2)})
