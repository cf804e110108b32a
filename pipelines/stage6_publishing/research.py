"""Research access: the release's tables beside a DuckDB database that holds them, and ``orostat query``.

``tabeller/`` holds the release's Parquet and CSV files; ``orostat.duckdb`` holds the same tables *inside* the
database (one table each), so it opens and answers from any working directory, and still does when the file is
copied, mailed or mounted on its own. Views over ``tabeller/*.parquet`` by relative path (the earlier design)
only resolved from inside the release folder: DuckDB resolves a relative path against the process's working
directory, not the database file's, and a researcher runs ``duckdb /path/to/orostat.duckdb`` from anywhere.
The tables are small (the demo's whole release is a few MB), so holding them twice costs little.

Every table and column carries a DuckDB ``COMMENT`` generated from the data dictionary's own rows
(``dictionary.column_rows``) and the tables' titles in ``schemas/``: ``duckdb_columns()`` and ``DESCRIBE`` show
what the Markdown dictionary says. The database also holds ``release_info`` (the manifest's key facts) and
``data_dictionary`` (every column).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pyarrow as pa

from pipelines.core.atomic import atomic_dir, atomic_file
from pipelines.core.schemas import publishing_spec, release_spec
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
    """``orostat.duckdb``: a table per release table, ``release_info`` and ``data_dictionary``, all commented;
    the release tables made."""
    target = database_path(folder)
    tables = [name for name in table_order() if name in release.tables] + ["audit"]
    if (release.folder / "ptable.parquet").exists():  # the cell-key method's perturbation table
        tables.append("ptable")
    with atomic_file(target) as tmp:
        con = duckdb.connect(str(tmp))
        try:
            for name in tables:
                path = str(release.folder / f"{name}.parquet").replace("'", "''")
                con.execute(
                    f"CREATE TABLE {name} AS SELECT * FROM read_parquet('{path}', hive_partitioning = false)"
                )
            con.register("info", _release_info(release))
            con.execute("CREATE TABLE release_info AS SELECT * FROM info")
            con.register("dictionary", _dictionary_rows(tables))
            con.execute("CREATE TABLE data_dictionary AS SELECT * FROM dictionary")
            _comment(con, tables)
        finally:
            con.close()
    return tables


# The two tables the database adds beside the release's own: what they hold, and their columns.
_OWN_TABLES = {
    "release_info": (
        "Key facts of the release from its manifest (release, as-of month, rules, audit)",
        {"key": "Name of the fact", "value": "The fact, as text"},
    ),
    "data_dictionary": (
        "Every column of every table: type, unit and meaning (as datakatalog.md)",
        {
            "table_name": "Table",
            "column_name": "Column",
            "type": "DuckDB type",
            "unit": "Unit of the value",
            "meaning": "What the column holds",
        },
    ),
}


def _comment(con: duckdb.DuckDBPyConnection, tables: list[str]) -> None:
    """``COMMENT ON`` every table and column, from the dictionary's rows and the tables' titles."""
    for name in tables:
        con.execute(f"COMMENT ON TABLE {name} IS {_literal(_title(name))}")
        if name == "audit":
            continue  # the audit's columns are stage 5's, not in the dictionary
        for column, _type, unit, meaning in column_rows(name):
            text = f"{meaning} ({unit})" if unit else meaning
            con.execute(f"COMMENT ON COLUMN {name}.{column} IS {_literal(text)}")
    for name, (title, columns) in _OWN_TABLES.items():
        con.execute(f"COMMENT ON TABLE {name} IS {_literal(title)}")
        for column, text in columns.items():
            con.execute(f"COMMENT ON COLUMN {name}.{column} IS {_literal(text)}")


def _title(table: str) -> str:
    """A table's English title as release.yaml and publishing.yaml give it (the dictionary's headings)."""
    spec = {**release_spec()["tables"], **publishing_spec()["derived_tables"]}
    if table in spec:
        return f"{spec[table]['title_en']} ({spec[table]['title_sv']})"
    if table == "ptable":
        return "Perturbation table of the cell-key method: probability of each noise per true count"
    return "Disclosure audit: the interval an attacker can bound each hidden cell to, and whether it passes"


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


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


def _dictionary_rows(tables: list[str]) -> pa.Table:
    rows = [(table, *row) for table in tables if table != "audit" for row in column_rows(table)]
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
        result = con.sql(sql)
        if result is None:
            raise QueryError("The statement returns no rows: give a query (SELECT, DESCRIBE, SHOW …).")
        return result.to_arrow_table()
    except duckdb.Error as exc:
        raise QueryError(str(exc).splitlines()[0]) from exc
    finally:
        con.close()
