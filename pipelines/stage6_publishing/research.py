"""Research access: the release's tables beside a DuckDB file of views over them, and ``orostat query``.

The published folder is self-contained: ``tabeller/`` holds the release's Parquet and CSV files, and
``orostat.duckdb`` holds one view per table over ``tabeller/<table>.parquet`` by a relative path, so the folder
can be moved, zipped or mounted read-only. Open it from inside the folder (``cd release=YYYY-MM && duckdb
orostat.duckdb``) or set DuckDB's ``file_search_path`` to the folder; ``orostat query`` does the latter.
The database also holds ``release_info`` (the manifest's key facts) and ``data_dictionary`` (every column).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pyarrow as pa

from pipelines.core.atomic import atomic_dir, atomic_file
from pipelines.core.schemas import publishing_spec
from pipelines.stage6_publishing.dictionary import column_rows, html, markdown
from pipelines.stage6_publishing.release_tables import Release, table_order


class QueryError(Exception):
    """The SQL could not run; the message is DuckDB's (it holds no row-level data: there is none here)."""


def _names() -> dict[str, str]:
    return publishing_spec()["research"]


def database_path(folder: Path) -> Path:
    return folder / _names()["database"]


def write_tables(release: Release, folder: Path) -> int:
    """Copy the release's publishable files into ``folder/tabeller/`` (atomically); the number copied."""
    files = release.files()
    with atomic_dir(folder / _names()["tables_folder"]) as tmp:
        for path in files:
            shutil.copy2(path, tmp / path.name)
    return len(files)


def write_database(release: Release, folder: Path) -> list[str]:
    """``orostat.duckdb``: a view per table, ``release_info`` and ``data_dictionary``; the views made."""
    target = database_path(folder)
    views = [name for name in table_order() if name in release.tables] + ["audit"]
    if (release.folder / "ptable.parquet").exists():  # the cell-key method's perturbation table
        views.append("ptable")
    with atomic_file(target) as tmp:
        con = duckdb.connect(str(tmp))
        try:
            _search_in(con, folder)
            for name in views:
                path = f"{_names()['tables_folder']}/{name}.parquet"
                con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{path}')")
            con.register("info", _release_info(release))
            con.execute("CREATE TABLE release_info AS SELECT * FROM info")
            con.register("dictionary", _dictionary_rows(views))
            con.execute("CREATE TABLE data_dictionary AS SELECT * FROM dictionary")
        finally:
            con.close()
    return views


def _search_in(con: duckdb.DuckDBPyConnection, folder: Path) -> None:
    """Resolve the views' relative paths against the published folder (wherever it has been moved)."""
    quoted = str(folder).replace("'", "''")
    con.execute(f"SET file_search_path = '{quoted}'")


def _release_info(release: Release) -> pa.Table:
    m = release.manifest
    facts = {
        "release": m["release"],
        "as_of_month": m["as_of_month"],
        "contract": m["contract"],
        "data": m["data"],
        "code_version": m["code_version"],
        "previous_release": m["previous_release"] or "",
        "threshold": str(m["rules"]["threshold"]),
        "protection_margin": str(m["rules"]["protection_margin_used"]),
        "audit_passes": str(m["audit"]["passes"]).lower(),
        "disclosure_method": m.get("disclosure_method", "suppression"),
    }
    return pa.table({"key": list(facts), "value": list(facts.values())})


def _dictionary_rows(views: list[str]) -> pa.Table:
    rows = [(view, *row) for view in views if view != "audit" for row in column_rows(view)]
    names = ["table_name", "column_name", "type", "unit", "meaning"]
    return pa.table({name: [r[i] for r in rows] for i, name in enumerate(names)})


def write_dictionary(release: Release, folder: Path) -> list[Path]:
    """The data dictionary as Markdown and HTML beside the database."""
    stem = _names()["dictionary"]
    written = []
    for suffix, text in ((".md", markdown(release.release)), (".html", html(release.release))):
        with atomic_file(folder / f"{stem}{suffix}") as tmp:
            tmp.write_text(text, "utf-8")
        written.append(folder / f"{stem}{suffix}")
    return written


def query(folder: Path, sql: str) -> pa.Table:
    """Run read-only SQL against a published release's database; a clear QueryError if it cannot run."""
    path = database_path(folder)
    if not path.exists():
        raise QueryError(f"No research database at {path}: build the release first (orostat release).")
    con = duckdb.connect(str(path), read_only=True)
    try:
        _search_in(con, folder)
        result = con.sql(sql)
        if result is None:
            raise QueryError("The statement returns no rows: give a query (SELECT, DESCRIBE, SHOW …).")
        return result.to_arrow_table()
    except duckdb.Error as exc:
        raise QueryError(str(exc).splitlines()[0]) from exc
    finally:
        con.close()
