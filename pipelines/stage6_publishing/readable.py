"""The workbook's readable sheets: figures laid out for people (areas × periods), beside the long tables.

Declared in ``schemas/publishing.yaml`` (``workbook.readable``): the figures are the national summary's
(``summary``), the categories those of ``release.yaml``'s tables in their code lists' order. Riket comes
first, then the län and the municipalities in code order. A value is a number with the figure's number
format (a share as a percentage), or its symbol as text where it is not published (``..``, ``-``, ``.``);
a period missing for an area is ``-``, never 0. A preliminary period's header carries "prel.".
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import xlsxwriter

from pipelines.core.schemas import codes, publishing_spec, release_spec
from pipelines.stage6_publishing.release_tables import Release

LEVELS = ["riket", "lan", "kommun"]
YEARS = ["year", "year_to_date"]


def _spec() -> dict[str, Any]:
    return publishing_spec()["workbook"]


def _select(frame: pd.DataFrame, where: dict[str, str]) -> pd.DataFrame:
    mask = pd.Series(True, index=frame.index)
    for column, wanted in where.items():
        mask &= frame[column].astype(str).eq(str(wanted))
    return frame[mask]


def _areas(frame: pd.DataFrame, levels: list[str]) -> pd.DataFrame:
    """(geo_code, geo_name, geo_level) in reading order: Riket, län, kommuner, each by code."""
    areas = frame.loc[
        frame["geo_level"].isin(levels), ["geo_code", "geo_name", "geo_level"]
    ].drop_duplicates()
    areas = areas.assign(_lv=areas["geo_level"].map({lv: i for i, lv in enumerate(LEVELS)}))
    return areas.sort_values(["_lv", "geo_code"]).drop(columns="_lv").reset_index(drop=True)


def _period_label(period: str, period_type: str, preliminary: bool) -> str:
    label = f"{period} (hittills)" if period_type == "year_to_date" else period
    return f"{label} {_spec()['preliminary_mark']}" if preliminary else label


class Writer:
    """Cell writing with the workbook's formats: numbers formatted by figure, symbols as text."""

    def __init__(self, book: xlsxwriter.Workbook) -> None:
        self.book = book
        self.bold = book.add_format({"bold": True})
        self.header = book.add_format({"bold": True, "text_wrap": True, "valign": "top", "bottom": 1})
        self.formats = {
            name: book.add_format({"num_format": f["xlsx"]})
            for name, f in publishing_spec()["formats"].items()
        }
        self.symbol = book.add_format({"align": "right"})

    def value(self, sheet: Any, row: int, col: int, value: Any, status: str, fmt: str) -> None:
        if status or value is None or pd.isna(value):
            sheet.write_string(row, col, status or "-", self.symbol)
        else:
            sheet.write_number(row, col, float(value), self.formats[fmt])


def _cells(release: Release, figure: dict[str, Any], types: list[str]) -> pd.DataFrame:
    frame = release.tables.get(figure["table"])
    if frame is None:
        return pd.DataFrame(columns=["geo_code", "period", "period_type", "value", "status", "preliminary"])
    rows = _select(frame, figure["where"])
    rows = rows.loc[rows["period_type"].isin(types)]
    if "preliminary" not in rows:
        rows = rows.assign(preliminary=False)
    return rows[["geo_code", "period", "period_type", "value", "status", "preliminary"]]


def _columns(cells: pd.DataFrame) -> list[tuple[str, str, bool]]:
    """(period, period type, preliminary at Riket) in period order."""
    periods = cells[["period", "period_type"]].drop_duplicates().sort_values("period")
    riket = cells.loc[cells["geo_code"].eq("00")].set_index("period")["preliminary"]
    return [(p, t, bool(riket.get(p, False))) for p, t in periods.itertuples(index=False)]


def _lookup(cells: pd.DataFrame) -> dict[tuple[str, str], tuple[Any, str]]:
    return {
        (g, p): (v, s or "")
        for g, p, v, s in zip(
            cells["geo_code"], cells["period"], cells["value"], cells["status"], strict=True
        )
    }


def _intro(sheet: Any, w: Writer, title: str, release: Release) -> int:
    sheet.write_string(0, 0, f"{title} – publicering {release.release}", w.bold)
    symbols = "; ".join(f"{s} {t}" for s, t in publishing_spec()["symbols"].items() for t in [t["sv"]])
    note = f"{_spec()['preliminary_mark']} = preliminär: siffran kan ändras när fler beslut kommer in. {symbols}."
    sheet.write_string(1, 0, note)
    return 3


def lan_months(book: xlsxwriter.Workbook, w: Writer, release: Release, spec: dict[str, Any]) -> None:
    """One block per figure: areas down, months across."""
    sheet = book.add_worksheet(spec["sheet"])
    row = _intro(sheet, w, spec["sheet"], release)
    for figure in publishing_spec()["summary"]:
        cells = _cells(release, figure, [spec["period_type"]])
        areas = _areas(release.tables[figure["table"]], spec["levels"]) if len(cells) else pd.DataFrame()
        areas = areas.loc[areas["geo_code"].isin(set(cells["geo_code"]))] if len(areas) else areas
        if cells.empty or areas.empty:
            continue
        columns, found = _columns(cells), _lookup(cells)
        sheet.write_string(row, 0, figure["label"], w.header)
        for col, (period, kind, prel) in enumerate(columns, start=1):
            sheet.write_string(row, col, _period_label(period, kind, prel), w.header)
        for r, area in enumerate(areas.itertuples(index=False), start=row + 1):
            sheet.write_string(r, 0, area.geo_name)
            for col, (period, _, _) in enumerate(columns, start=1):
                w.value(sheet, r, col, *found.get((area.geo_code, period), (None, "-")), figure["format"])
        row += len(areas) + 2
    sheet.set_column(0, 0, 28)
    sheet.set_column(1, 40, 11)
    sheet.freeze_panes(3, 1)


def kommun_years(book: xlsxwriter.Workbook, w: Writer, release: Release, spec: dict[str, Any]) -> None:
    """Areas down (Riket, län, kommuner), figure × year across: one row per area, filterable."""
    sheet = book.add_worksheet(spec["sheet"])
    row = _intro(sheet, w, spec["sheet"], release)
    heads = [("Kod", None), ("Namn", None), ("Nivå", None)]
    blocks = []
    for figure in publishing_spec()["summary"]:
        cells = _cells(release, figure, YEARS)
        if cells.empty or not cells["geo_code"].str.len().eq(4).any():
            continue  # the sheet is about municipalities: only figures they have
        columns = _columns(cells)
        blocks.append((figure, columns, _lookup(cells)))
        heads += [(f"{figure['label']} {_period_label(p, t, prel)}", None) for p, t, prel in columns]
    for col, (text, _) in enumerate(heads):
        sheet.write_string(row, col, text, w.header)
    areas = _areas(release.tables["outcomes"], spec["levels"])
    levels = publishing_spec()["geo_levels"]
    for r, area in enumerate(areas.itertuples(index=False), start=row + 1):
        sheet.write_string(r, 0, area.geo_code)
        sheet.write_string(r, 1, area.geo_name)
        sheet.write_string(r, 2, levels[area.geo_level])
        col = 3
        for figure, columns, found in blocks:
            for period, _, _ in columns:
                w.value(sheet, r, col, *found.get((area.geo_code, period), (None, "-")), figure["format"])
                col += 1
    sheet.set_row(row, 60)
    sheet.set_column(0, 0, 7)
    sheet.set_column(1, 1, 22)
    sheet.set_column(3, len(heads), 13)
    sheet.freeze_panes(row + 1, 2)
    sheet.autofilter(row, 0, row + len(areas), len(heads) - 1)


def _categories(table: str) -> list[tuple[str, str]]:
    """(code, Swedish label) of a table's first dimension in display order: total first."""
    _, d = next(iter(release_spec()["tables"][table]["dimensions"].items()))
    if "categories" in d:
        return [(code, cat["sv"]) for code, cat in d["categories"].items()]
    return [("total", "Totalt")] * bool(d.get("total")) + [(code, "") for code in codes(d["codes"])]


def categories(book: xlsxwriter.Workbook, w: Writer, release: Release, spec: dict[str, Any]) -> None:
    """Per table and year: areas down, categories across in the code list's order."""
    sheet = book.add_worksheet(spec["sheet"])
    row = _intro(sheet, w, spec["sheet"], release)
    for table in spec["tables"]:
        frame = release.tables.get(table)
        if frame is None:
            continue
        dim = next(iter(release_spec()["tables"][table]["dimensions"]))
        labels = dict(zip(frame[dim], frame[f"{dim}_sv"], strict=True))
        order = [(code, label or labels.get(code, code)) for code, label in _categories(table)]
        years = frame.loc[frame["period_type"].isin(YEARS), ["period", "period_type"]].drop_duplicates()
        areas = _areas(frame, spec["levels"])
        for period, kind in years.sort_values("period").itertuples(index=False):
            cells = frame.loc[frame["period"].eq(period) & frame["period_type"].eq(kind)]
            found = {
                (g, k): (v, s or "")
                for g, k, v, s in zip(
                    cells["geo_code"], cells[dim], cells["value"], cells["status"], strict=True
                )
            }
            prel = (
                bool(cells.loc[cells["geo_code"].eq("00"), "preliminary"].any())
                if "preliminary" in cells
                else False
            )
            title = release_spec()["tables"][table]["title_sv"]
            sheet.write_string(row, 0, f"{title}, {_period_label(period, kind, prel)}", w.header)
            for col, (_, label) in enumerate(order, start=1):
                sheet.write_string(row, col, label, w.header)
            for r, area in enumerate(areas.itertuples(index=False), start=row + 1):
                sheet.write_string(r, 0, area.geo_name)
                for col, (code, _) in enumerate(order, start=1):
                    w.value(sheet, r, col, *found.get((area.geo_code, code), (None, "-")), "count")
            row += len(areas) + 2
    sheet.set_column(0, 0, 40)
    sheet.set_column(1, 20, 14)


def write_readable(book: xlsxwriter.Workbook, release: Release) -> list[str]:
    """Every readable sheet publishing.yaml declares; their names."""
    w = Writer(book)
    writers = {"lan_months": lan_months, "kommun_years": kommun_years, "categories": categories}
    names = []
    for key, spec in _spec()["readable"].items():
        writers[key](book, w, release, spec)
        names.append(spec["sheet"])
    return names
