"""Research access: the DuckDB views, ``orostat query``, the Parquet metadata and the data dictionary."""

from __future__ import annotations

import shutil
import subprocess
import sys

import duckdb
import pandas as pd
import pyarrow.parquet as pq
import pytest

from pipelines.cli import main
from pipelines.core.schemas import code_table, release_spec
from pipelines.core.settings import Paths
from pipelines.stage6_publishing import research
from pipelines.stage6_publishing.dictionary import column_rows, markdown
from pipelines.stage6_publishing.release_tables import published_folder
from tests.stage6.conftest import RELEASE

pytestmark = pytest.mark.slow


def _tables(home: Paths) -> dict[str, pd.DataFrame]:
    folder = published_folder(home, RELEASE) / "tabeller"
    return {p.stem: pd.read_parquet(p) for p in sorted(folder.glob("*.parquet"))}


def test_every_view_returns_its_table_even_after_the_folder_is_moved(published: Paths, tmp_path) -> None:
    moved = tmp_path / "elsewhere"
    shutil.copytree(published_folder(published, RELEASE), moved)
    tables = _tables(published)
    assert {"outcomes", "rates", "population_rates", "percentiles", "audit"} <= set(tables)
    assert "cells" not in tables  # internal: which cells the next release must keep hidden
    for name, frame in tables.items():
        got = research.query(moved, f"SELECT * FROM {name}").to_pandas()
        pd.testing.assert_frame_equal(got, frame, check_dtype=False)
    info = {r["key"]: r["value"] for r in research.query(moved, "SELECT * FROM release_info").to_pylist()}
    assert info["release"] == RELEASE and info["audit_passes"] == "true"


def test_the_database_cannot_be_written_through_query(published: Paths) -> None:
    with pytest.raises(research.QueryError, match="read-only"):
        research.query(published_folder(published, RELEASE), "DROP VIEW outcomes")


def test_query_cli_prints_writes_and_refuses_bad_sql(published: Paths, tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("OROSTAT_HOME", str(published.home))
    sql = "SELECT geo_code, value FROM outcomes WHERE geo_level = 'lan' AND outcome = 'total' AND period = '2025'"
    assert main(["query", sql, "--csv"]) == 0
    printed = capsys.readouterr().out.splitlines()
    outcomes = _tables(published)["outcomes"]
    expected = outcomes.query("geo_level == 'lan' and outcome == 'total' and period == '2025'")
    assert len(printed) == len(expected) + 1 and printed[0] == '"geo_code";"value"'
    out = tmp_path / "lan.parquet"
    assert main(["query", sql, "--output", str(out), "--release", RELEASE]) == 0
    assert sorted(pq.read_table(out).column("value").to_pylist()) == sorted(expected["value"].tolist())
    assert main(["query", "SELECT no_such_column FROM outcomes"]) == 2
    assert "no_such_column" in capsys.readouterr().err
    assert main(["query", "SELECT 1", "--release", "2019-01"]) == 2
    assert main(["query", "SELECT 1", "--output", str(tmp_path / "x.json")]) == 2


def test_each_table_carries_its_schema_version_and_release_id(published: Paths) -> None:
    folder = published_folder(published, RELEASE) / "tabeller"
    for path in folder.glob("*.parquet"):
        meta = pq.read_schema(path).metadata
        assert meta[b"release"].decode() == RELEASE, path.name
        assert meta[b"schema_version"].decode() == str(release_spec()["version"]), path.name


def test_the_dictionary_documents_every_column_a_release_writes(published: Paths) -> None:
    con = duckdb.connect()
    for name, frame in _tables(published).items():
        if name == "audit":
            continue
        documented = {c: t for c, t, _, _ in column_rows(name)}
        assert list(documented) == list(frame.columns), name
        path = published_folder(published, RELEASE) / "tabeller" / f"{name}.parquet"
        types = {r[0]: r[1] for r in con.execute(f"DESCRIBE SELECT * FROM '{path}'").fetchall()}
        for column, declared in documented.items():
            assert types[column] in declared, (name, column, types[column], declared)


def test_the_dictionary_lists_every_category_code_and_definition(published: Paths) -> None:
    text = markdown(RELEASE)
    spec = release_spec()
    for table in spec["tables"].values():
        for dim in table["dimensions"].values():
            codes = (
                dim["categories"]
                if "categories" in dim
                else code_table(dim["codes"]).column("code").to_pylist()
            )
            assert all(f"`{code}`" in text for code in codes)
    for group in ("rates", "population_rates", "percentiles"):
        assert all(item["sv"] in text for item in spec[group].values())
    html = (published_folder(published, RELEASE) / "datakatalog.html").read_text("utf-8")
    assert html.count("<table>") >= len(spec["tables"]) and "<code>outcomes</code>" in html
    db = research.query(published_folder(published, RELEASE), "SELECT count(*) AS n FROM data_dictionary")
    assert db.column("n")[0].as_py() == sum(len(column_rows(t)) for t in _tables(published) if t != "audit")


def test_the_database_answers_from_any_working_directory_and_on_its_own(published: Paths, tmp_path) -> None:
    """A researcher runs ``duckdb /path/to/orostat.duckdb`` from anywhere, or gets the file alone."""
    alone = tmp_path / "mailed" / "orostat.duckdb"
    alone.parent.mkdir()
    shutil.copy2(research.database_path(published_folder(published, RELEASE)), alone)
    elsewhere = tmp_path / "somewhere_else"
    elsewhere.mkdir()
    script = (
        "import duckdb, sys\n"
        "con = duckdb.connect(sys.argv[1], read_only=True)\n"
        "print(con.sql('SELECT count(*), sum(value) FROM outcomes').fetchall()[0])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(alone)], cwd=elsewhere, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    outcomes = _tables(published)["outcomes"]
    assert done.stdout.strip() == str((len(outcomes), int(outcomes["value"].sum())))


def test_every_table_and_column_is_commented_from_the_dictionary(published: Paths) -> None:
    path = research.database_path(published_folder(published, RELEASE))
    con = duckdb.connect(str(path), read_only=True)
    try:
        tables = dict(
            con.execute("SELECT table_name, comment FROM duckdb_tables() WHERE NOT internal").fetchall()
        )
        columns = {
            (t, c): comment
            for t, c, comment in con.execute(
                "SELECT table_name, column_name, comment FROM duckdb_columns() WHERE NOT internal"
            ).fetchall()
        }
    finally:
        con.close()
    assert set(_tables(published)) | {"release_info", "data_dictionary"} <= set(tables)
    assert all(tables.values()), tables
    assert "Reports by outcome" in tables["outcomes"]
    for name in _tables(published):
        if name == "audit":
            continue
        for column, _type, unit, meaning in column_rows(name):
            assert columns[(name, column)].startswith(meaning), (name, column)
            assert unit in columns[(name, column)]
    assert all(comment for (t, _), comment in columns.items() if t != "audit")
