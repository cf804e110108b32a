"""The workbook, reopened with openpyxl and checked cell by cell against the release's Parquet tables."""

from __future__ import annotations

import zipfile

import pandas as pd
import pytest
from openpyxl import load_workbook

from pipelines.core.schemas import publishing_spec
from pipelines.core.settings import Paths
from pipelines.stage5_protection.release import release_folder
from pipelines.stage6_publishing.release_tables import Release, published_folder
from pipelines.stage6_publishing.workbook import sheet_columns, workbook_path, write_workbook
from tests.stage6.conftest import RELEASE

pytestmark = pytest.mark.slow


def _expected(frame: pd.DataFrame, column: str) -> list:
    """What a cell must hold, computed here independently of workbook.column_values."""
    pub = publishing_spec()
    out = []
    for value, status, text in zip(
        frame["value"], frame["status"], frame.get(column, frame["value"]), strict=True
    ):
        if column == "preliminary":
            out.append("ja" if text else "nej")
        elif column == "undecided":
            out.append("-" if pd.isna(text) else float(text))
        elif column == "value":
            out.append(status if status else ("-" if pd.isna(value) else float(value)))
        else:
            labels = pub["period_types"] | pub["geo_levels"] if column in ("period_type", "geo_level") else {}
            out.append("" if pd.isna(text) else labels.get(text, str(text)))
    return out


def test_every_sheet_matches_its_table_cell_by_cell(published: Paths) -> None:
    release = Release(release_folder(published, RELEASE))
    book = load_workbook(workbook_path(published_folder(published, RELEASE), RELEASE), read_only=True)
    sheets = publishing_spec()["workbook"]["sheets"]
    assert book.sheetnames[0] == publishing_spec()["workbook"]["about_sheet"]
    assert set(release.tables) >= {"outcomes", "population_rates", "percentiles"}
    suppressed_seen = 0
    for name, frame in release.tables.items():
        rows = list(book[sheets[name]].iter_rows(values_only=True))
        layout = sheet_columns(name, frame)
        assert list(rows[0]) == [header for _, header in layout]
        assert len(rows) == len(frame) + 1, name
        for col, (source, _) in enumerate(layout):
            got = [("" if r[col] is None else r[col]) for r in rows[1:]]
            assert got == _expected(frame, source), (name, source)
        value_col = [source for source, _ in layout].index("value")
        suppressed_seen += sum(r[value_col] == ".." for r in rows[1:])
    assert suppressed_seen > 0  # the small release hides cells, and the workbook shows them as ..


def test_no_cell_is_a_formula_even_when_a_label_looks_like_one(published: Paths, tmp_path) -> None:
    release = Release(release_folder(published, RELEASE))
    hostile = '=HYPERLINK("http://example.invalid","klicka")'
    tables = release.tables
    tables["outcomes"] = tables["outcomes"].assign(geo_name=hostile)
    path = write_workbook(release, tmp_path)
    with zipfile.ZipFile(path) as archive:
        sheets = [n for n in archive.namelist() if n.startswith("xl/worksheets/sheet")]
        assert sheets and not any(b"<f>" in archive.read(n) or b"<f " in archive.read(n) for n in sheets)
    book = load_workbook(path)
    cell = book[publishing_spec()["workbook"]["sheets"]["outcomes"]]["E2"]
    assert cell.value == hostile and cell.data_type == "s"


def test_the_about_sheet_states_the_release_and_its_rules(published: Paths) -> None:
    release = Release(release_folder(published, RELEASE))
    book = load_workbook(workbook_path(published_folder(published, RELEASE), RELEASE), read_only=True)
    about = dict(book[publishing_spec()["workbook"]["about_sheet"]].iter_rows(values_only=True))
    assert about["Publicering"] == RELEASE and about["Uppgifterna avser uttag"] == RELEASE
    assert "SYNTETISKA" in about["Uppgifter"]
    threshold = release.manifest["rules"]["threshold"]
    assert f"1–{threshold}" in about["Röjandekontroll"]
    assert {f"Symbol {s}" for s in publishing_spec()["symbols"]} <= set(about)
