"""Property (issue 25): an extract with random structural damage, in any of the three dialects, never
makes ``validate`` or ``load`` raise; both agree on the file's fate and counts; every physical data line
is a row in (accepted or quarantined) unless the whole file is rejected; and a clean file of another
municipality in the same month loses nothing.

Damage: a column duplicated, dropped or moved; a stray quote; lines re-encoded in another encoding; the
file cut short. Examples: ``OROSTAT_DAMAGE_EXAMPLES`` (default 40, kept modest for CI).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import re
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from pipelines.cli import main
from pipelines.core import db
from pipelines.core.settings import Paths
from pipelines.stage2_pseudonymise.ingest import LEDGER_FILE, load_month
from tests.extracts import COMMA_HEADER, SEMICOLON_HEADER, XLSX_HEADER, child, write_semicolon
from tests.strategies import child_numbers

MONTH = "2025-03"
RECEIVED = dt.date(2025, 3, 5)
OTHER = f"0114_{MONTH}.csv"
DIALECTS = {
    "semikolon_utf8": (SEMICOLON_HEADER.split(";"), ";", "utf-8-sig", "%Y-%m-%d", ["POL", "inleds"]),
    "komma_cp1252": (COMMA_HEADER.split(","), ",", "cp1252", "%d.%m.%Y", ["Polis", "Inleds"]),
    "xlsx_export": (XLSX_HEADER, "", "", "%Y-%m-%d", ["POL", "inleds"]),
}
DAMAGE = ["duplicate_column", "drop_column", "move_column", "stray_quote", "mixed_encoding", "truncate"]


@st.composite
def extracts(draw: st.DrawFn) -> tuple[str, list[str], list[list[str]], list[str]]:
    """(dialect, header, rows, damage): a clean extract of 0180 for March 2025 and what to do to it."""
    dialect = draw(st.sampled_from(sorted(DIALECTS)))
    header, _, _, date_format, (reporter, outcome) = DIALECTS[dialect]
    rows = []
    for i in range(draw(st.integers(1, 6))):
        pnr = draw(st.one_of(st.just(""), child_numbers(RECEIVED).map(lambda pair: pair[0])))
        received = RECEIVED.strftime(date_format)
        decided = (RECEIVED + dt.timedelta(days=3)).strftime(date_format)
        rows.append(["0180", f"R{i}", pnr, received, reporter, "V1", outcome, decided, "Ö-distrikt"])
    damage = draw(st.lists(st.sampled_from(DAMAGE), max_size=3, unique=True))
    return dialect, list(header), rows, damage


def _columns(draw: st.DrawFn, header: list[str], rows: list[list[str]], damage: list[str]) -> None:
    """Column damage, in place: the same on the header and on every row."""
    if "duplicate_column" in damage:
        i = draw(st.integers(0, len(header) - 1))
        header.append(header[i])
        for r in rows:
            r.append(r[i])
    if "drop_column" in damage:
        i = draw(st.integers(0, len(header) - 1))
        for r in [header, *rows]:
            del r[i]
    if "move_column" in damage:
        i, j = draw(st.integers(0, len(header) - 1)), draw(st.integers(0, len(header) - 1))
        for r in [header, *rows]:
            r.insert(j, r.pop(i))


def _csv_bytes(
    draw: st.DrawFn, dialect: str, header: list[str], rows: list[list[str]], damage: list[str]
) -> bytes:
    _, delimiter, encoding, _, _ = DIALECTS[dialect]
    lines = [delimiter.join(r) for r in [header, *rows]]
    if "stray_quote" in damage:  # one quote character, anywhere in a line
        n = draw(st.integers(0, len(lines) - 1))
        starts = [
            0,
            *(i + 1 for i, ch in enumerate(lines[n]) if ch == delimiter),
        ]  # where a quote opens a field
        at = draw(st.sampled_from(starts) | st.integers(0, len(lines[n])))
        lines[n] = lines[n][:at] + '"' + lines[n][at:]
    other = "cp1252" if encoding != "cp1252" else "utf-8"
    mixed = (
        set(draw(st.lists(st.integers(1, len(lines) - 1), max_size=2)))
        if "mixed_encoding" in damage
        else set()
    )
    plain = "utf-8" if encoding == "utf-8-sig" else encoding  # the BOM starts the file, not each line
    raw = b"".join(
        (line + "\r\n").encode(other if n in mixed else encoding if n == 0 else plain, errors="replace")
        for n, line in enumerate(lines)
    )
    return _truncated(draw, raw, damage)


def _truncated(draw: st.DrawFn, raw: bytes, damage: list[str]) -> bytes:
    # A share of the file, not a byte offset: the draw must not depend on the length it cuts.
    return raw[: max(1, len(raw) * draw(st.integers(1, 999)) // 1000)] if "truncate" in damage else raw


def _xlsx_bytes(draw: st.DrawFn, header: list[str], rows: list[list[str]], damage: list[str]) -> bytes:
    import xlsxwriter

    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True})
    book.set_properties({"created": dt.datetime(2025, 4, 1)})  # the same bytes every time
    sheet = book.add_worksheet()
    for r, values in enumerate([header, *rows]):
        sheet.write_row(r, 0, values)
    book.close()
    return _truncated(draw, out.getvalue(), damage)


def _physical_rows(raw: bytes, dialect: str, rows: list[list[str]]) -> int:
    """What the deliverer sees: the non-blank lines after the header (for a spreadsheet, its rows)."""
    if dialect == "xlsx_export":
        return len(rows)
    lines = re.split(rb"\r\n|\n|\r", raw)[1:]
    return sum(1 for line in lines if line.strip())


def _validate(path: Path, feedback: Path) -> tuple[int, dict]:
    code = main(["validate", str(path), "--feedback", str(feedback)])
    return code, json.loads(feedback.read_text("utf-8"))


@pytest.mark.filterwarnings("ignore")
@settings(
    max_examples=int(os.environ.get("OROSTAT_DAMAGE_EXAMPLES", "40")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(extract=extracts(), data=st.data())
def test_damaged_extracts_never_crash_nor_lose_rows(extract, data, key, capsys) -> None:
    dialect, header, rows, damage = extract
    _columns(data.draw, header, rows, damage)
    if dialect == "xlsx_export":
        raw, name = _xlsx_bytes(data.draw, header, rows, damage), f"0180_{MONTH}.xlsx"
    else:
        raw, name = _csv_bytes(data.draw, dialect, header, rows, damage), f"0180_{MONTH}.csv"
    with tempfile.TemporaryDirectory() as tmp:
        home = Paths(Path(tmp) / "home")
        home.landing.mkdir(parents=True)
        path = home.landing / name
        path.write_bytes(raw)
        other = [
            ["0114", f"G{i}", child(dt.date(2012, 4, 4), 400 + i), "2025-03-04", "POL", "V1"]
            for i in range(3)
        ]
        write_semicolon(home.landing / OTHER, [[*r, "inleds", "2025-03-06", ""] for r in other])

        exit_code, feedback = _validate(path, Path(tmp) / "feedback.json")
        load_month(MONTH, key, home)  # raises nothing: a broken file is a ledger row, not an exception
        capsys.readouterr()

        ledger = {
            r["source_file"]: r
            for r in db.table(
                f"SELECT * FROM read_parquet('{home.extract_month(MONTH) / LEDGER_FILE}')"
            ).to_pylist()
        }
        mine = ledger[name]
        assert (ledger[OTHER]["status"], ledger[OTHER]["rows_in"], ledger[OTHER]["accepted"]) == (
            "inläst",
            3,
            3,
        )
        event(
            f"{dialect}: {feedback.get('rejection_code') or 'loaded'}"
        )  # the spread, for --hypothesis-show-statistics
        if exit_code == 2:
            assert (mine["status"], mine["rejection_code"]) == ("avvisad", feedback["rejection_code"])
            return
        assert exit_code in (0, 1) and mine["status"] == "inläst"
        assert (mine["rows_in"], mine["accepted"], mine["quarantined"]) == (
            feedback["rows_in"],
            feedback["accepted"],
            feedback["quarantined"],
        )
        assert mine["rows_in"] == mine["accepted"] + mine["quarantined"]
        assert mine["rows_in"] == _physical_rows(raw, dialect, rows), (dialect, damage)
