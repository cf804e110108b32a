"""The release as an XLSX workbook: "Om statistiken" first, then one sheet per table with Swedish headers.

Every text goes in with ``write_string`` and the workbook is opened with formula, URL and number conversion
off, so no cell can be something a spreadsheet executes (a name such as "=HYPERLINK(…)" stays text). A
value is a number where published, else its symbol as text (``..``, ``-``, ``.``), as in SCB's workbooks.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import pandas as pd
import xlsxwriter

from pipelines.core.atomic import atomic_file
from pipelines.core.schemas import publishing_spec, release_spec
from pipelines.core.settings import settings
from pipelines.stage6_publishing.readable import write_readable
from pipelines.stage6_publishing.release_tables import Release, symbols

NUMBER_FORMATS = {"andel": "0.0%", "kvot": "0.00", "anmälningar per 1 000 barn": "0.0", "dagar": "0"}


def workbook_path(folder: Path, release: str) -> Path:
    return folder / publishing_spec()["workbook"]["file"].format(release=release)


def sheet_columns(name: str, frame: pd.DataFrame) -> list[tuple[str, str]]:
    """(source column, Swedish header) of a table's sheet, in order; ``value`` last."""
    pub, spec = publishing_spec(), release_spec()
    cols = pub["columns"]
    layout = [(c, cols[c]["sv"]) for c in ("period_type", "period", "geo_level", "geo_code", "geo_name")]
    if name in spec["tables"]:
        layout += [(f"{dim}_sv", d["sv"]) for dim, d in spec["tables"][name]["dimensions"].items()]
    else:
        label = next(c for c in ("rate_sv", "percentile_sv", "measure_sv") if c in frame)
        layout.append((label, cols[label]["sv"]))
        layout += [(c, cols[c]["sv"]) for c in ("unit", "population") if c in frame]
    layout.append(("value", cols["value"]["sv"]))
    return layout + [(c, cols[c]["sv"]) for c in ("preliminary", "undecided") if c in frame]


def column_values(frame: pd.DataFrame, column: str) -> list[Any]:
    """What a sheet column holds: labels as text; values as numbers, or the symbol where not published."""
    pub = publishing_spec()
    if column == "value":
        status = frame["status"].fillna("").astype(str)
        symbol = status.where(status != "", "-")
        values = frame["value"].astype(object).where(frame["value"].notna() & (status == ""), symbol)
        return [v if isinstance(v, str) else float(v) for v in values]
    if column == "preliminary":
        return ["ja" if bool(v) else "nej" for v in frame[column]]
    if column == "undecided":
        return [float(v) if pd.notna(v) else "-" for v in frame[column]]
    labels = {"period_type": pub["period_types"], "geo_level": pub["geo_levels"]}.get(column, {})
    text = frame[column].astype("string").fillna("")
    return [labels.get(t, t) for t in text]


def write_workbook(release: Release, folder: Path) -> Path:
    target = workbook_path(folder, release.release)
    options = {"strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False}
    with atomic_file(target) as tmp:
        book = xlsxwriter.Workbook(str(tmp), options)
        bold = book.add_format({"bold": True})
        book.set_properties(_properties(release))
        _about(book, release, bold)
        write_readable(book, release)  # for people first, then the long tables for machines
        for name, frame in release.tables.items():
            _table_sheet(book, name, frame, bold)
        book.close()
        _set_language(tmp, publishing_spec()["workbook"]["properties"]["language"])
    return target


def _set_language(path: Path, language: str) -> None:
    """Add ``dc:language`` to the core document properties: xlsxwriter writes the others, not this one.
    The package is rewritten member by member (same order, same compression)."""
    with zipfile.ZipFile(path) as old:
        members = [(info, old.read(info.filename)) for info in old.infolist()]
    tag = f"<dc:language>{escape(language)}</dc:language>".encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as new:
        for info, data in members:
            if info.filename == "docProps/core.xml" and b"<dc:language>" not in data:
                data = data.replace(b"</cp:coreProperties>", tag + b"</cp:coreProperties>")
            new.writestr(info, data)


def _properties(release: Release) -> dict[str, str]:
    """The document properties (title, author, language …) publishing.yaml declares."""
    facts = {"release": release.release, "as_of_month": release.manifest["as_of_month"]}
    return {
        key: str(text).format(**facts) for key, text in publishing_spec()["workbook"]["properties"].items()
    }


def _row_formats(book: xlsxwriter.Workbook, name: str, frame: pd.DataFrame) -> list[Any] | None:
    """Per row, the number format of its own unit where a table mixes units (rates: shares as
    percentages beside ratios); None where one format fits the sheet."""
    codes = next((frame[c] for c in ("rate", "measure") if c in frame), None)
    if codes is None or codes.nunique() <= 1:
        return None
    spec = release_spec()
    known = {
        code: item["unit"] for group in ("rates", "population_rates") for code, item in spec[group].items()
    }
    units = frame["unit"] if "unit" in frame else codes.map(known)
    cache = {u: book.add_format({"num_format": NUMBER_FORMATS.get(u, "#,##0")}) for u in units.unique()}
    return [cache[u] for u in units]


def _unit(name: str, frame: pd.DataFrame) -> str | None:
    spec = release_spec()
    if name in spec["tables"]:
        return spec["tables"][name]["unit"]
    for group in ("rates", "population_rates"):
        codes = frame.get("rate")
        if codes is not None and len(codes) and codes.iloc[0] in spec[group]:
            return spec[group][codes.iloc[0]]["unit"]
    return None


def _table_sheet(book: xlsxwriter.Workbook, name: str, frame: pd.DataFrame, bold: Any) -> None:
    sheet = book.add_worksheet(publishing_spec()["workbook"]["sheets"][name])
    layout = sheet_columns(name, frame)
    number = book.add_format({"num_format": NUMBER_FORMATS.get(_unit(name, frame) or "", "#,##0")})
    per_row = _row_formats(book, name, frame)  # shares and ratios side by side
    for col, (_, header) in enumerate(layout):
        sheet.write_string(0, col, header, bold)
    for col, (source, _) in enumerate(layout):
        for r, value in enumerate(column_values(frame, source), start=1):
            if isinstance(value, str):
                sheet.write_string(r, col, value)
            else:
                fmt = (per_row[r - 1] if per_row else number) if source == "value" else None
                sheet.write_number(r, col, value, fmt)
    sheet.freeze_panes(1, 0)
    sheet.autofilter(0, 0, len(frame), len(layout) - 1)
    sheet.set_column(0, len(layout) - 1, 16)
    sheet.set_column(len(layout) - 2, len(layout) - 2, 40)


def disclosure_text(manifest: dict) -> str:
    """How the release was protected, in the words of publishing.yaml for its method."""
    method = manifest.get("disclosure_method", "suppression")
    words = " ".join(publishing_spec()["disclosure"][method].split())
    r = manifest["rules"]
    return words.format(
        threshold=r["threshold"],
        margin=r["protection_margin_used"],
        max_noise=manifest.get("cell_key", {}).get("max_noise", ""),
    )


def methodology_text(topic: str) -> str:
    """A methodology rule of publishing.yaml in plain Swedish, its figures filled in from the specs."""
    words = " ".join(publishing_spec()["methodology"][topic].split())
    quality = release_spec()["data_quality"]
    return words.format(
        deadline_days=settings()["decisions"]["deadline_days"],
        incomplete_share=float(quality["incomplete_share"]),
        rounding=quality["rounding"],
        max_undecided_share=f"{float(release_spec()['preliminary']['max_undecided_share']):.1%}".replace(
            ".", ","
        ),
    ).replace("%", "\u00a0%")


def about_lines(release: Release) -> list[tuple[str, str]]:
    """The rows of "Om statistiken": (label, text)."""
    m, spec, pub = release.manifest, release_spec(), publishing_spec()
    lines = [
        (pub["report"]["title"], pub["report"]["subtitle"]),
        ("Uppgifter", m["data"]),
        ("Publicering", m["release"]),
        ("Uppgifterna avser uttag", m["as_of_month"]),
        ("Föregående publicering", m["previous_release"] or "ingen"),
        ("Programversion", m["code_version"]),
        ("Enhet", "En anmälan om ett barn; en anmälan om tre syskon räknas tre gånger."),
        ("Röjandekontroll", disclosure_text(m)),
        ("Kommuner", "Kommuner redovisas för året hittills och förra året, inte per månad."),
    ]
    lines += [("Preliminära uppgifter", methodology_text("preliminary"))]
    lines += [("Datakvalitet", methodology_text("data_quality"))]
    lines += [(f"Symbol {s}", text) for s, text in symbols().items()]
    for name, table in spec["tables"].items():
        note = " ".join(str(table.get("note_sv", "")).split())
        lines.append(
            (pub["workbook"]["sheets"][name], f"{table['title_sv']} ({table['unit']}). {note}".strip())
        )
    for group in ("rates", "population_rates", "percentiles"):
        for item in spec[group].values():
            lines.append((item["sv"], f"Enhet: {item['unit']}."))
    return lines


def _about(book: xlsxwriter.Workbook, release: Release, bold: Any) -> None:
    sheet = book.add_worksheet(publishing_spec()["workbook"]["about_sheet"])
    wrap = book.add_format({"text_wrap": True, "valign": "top"})
    for r, (label, text) in enumerate(about_lines(release)):
        sheet.write_string(r, 0, label, bold)
        sheet.write_string(r, 1, text, wrap)
    sheet.set_column(0, 0, 38)
    sheet.set_column(1, 1, 100)
