"""Feedback for the municipal analyst: what is wrong with a file, where, and what is expected.

One builder serves both ``orostat validate FILE`` (no key, nothing loaded) and every load, which writes
``aterkoppling/<file>.json`` and ``aterkoppling/<file>.csv`` beside the month's quarantine. Exit status
of validate: 0 = the file loads clean, 1 = it loads but some rows would be quarantined, 2 = rejected.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import duckdb

from pipelines.core.partitions import month_bounds
from pipelines.core.schemas import quarantine_reasons
from pipelines.stage1_landing.read import FileRejected, Landed, read_extract
from pipelines.stage2_pseudonymise.validate import build_checked, expand

LISTED_ROWS = 20


def _rules() -> dict[str, dict]:
    spec = quarantine_reasons()
    return {r["code"]: r for r in spec["rules"] + spec.get("structural", [])}


def problems(con: duckdb.DuckDBPyConnection, source_file: str) -> list[dict[str, Any]]:
    """Per reason: how many rows, the first row numbers, the field, the texts and what is expected."""
    rows = con.execute(
        f"""SELECT r, count(*) AS n, list(row_number ORDER BY row_number)[1:{LISTED_ROWS}]
            FROM (SELECT unnest(reasons) AS r, row_number FROM quarantine_out WHERE source_file = ?)
            GROUP BY r ORDER BY n DESC, r""",
        [source_file],
    ).fetchall()
    rules = _rules()
    return [
        {
            "code": code,
            "field": rules.get(code, {}).get("field", ""),
            "rows": n,
            "row_numbers": list(numbers),
            "text_sv": rules.get(code, {}).get("sv", code),
            "text_en": rules.get(code, {}).get("en", code),
            "expected_sv": expand(rules.get(code, {}).get("expected", "")),
            "expected_en": expand(rules.get(code, {}).get("expected_en", "")),
        }
        for code, n, numbers in rows
    ]


def summary(landed: Landed, con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """Machine-readable feedback for one read file (aggregates and row numbers only)."""
    name = landed.path.name
    (bad,) = con.execute("SELECT count(*) FROM quarantine_out WHERE source_file = ?", [name]).fetchone()
    return {
        "file": name,
        "status": "inläst",
        "municipality_code": landed.municipality_code,
        "period": landed.period,
        "dialect": landed.dialect,
        "encoding": landed.encoding,
        "rows_in": landed.records,
        "accepted": landed.records - bad,
        "quarantined": bad,
        "ignored_columns": landed.ignored_columns,
        "problems": problems(con, name),
    }


def rejection(path: Path, err: FileRejected) -> dict[str, Any]:
    return {"file": path.name, "status": "avvisad", "rejection_code": err.code, "rejection_message": str(err)}


def write_feedback(folder: Path, feedback: dict[str, Any], rows_csv: bool, con=None) -> None:
    """``<file>.json`` always; ``<file>.csv`` with the quarantined rows when the file was read."""
    from pipelines.stage2_pseudonymise.ingest import write_analyst_csv

    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{feedback['file']}.json").write_text(
        json.dumps(feedback, ensure_ascii=False, indent=2), "utf-8"
    )
    if rows_csv and con is not None:
        table = con.sql(
            f"SELECT * FROM quarantine_out WHERE source_file = '{feedback['file'].replace(chr(39), chr(39) * 2)}'"
        ).to_arrow_table()
        write_analyst_csv(table, folder / f"{feedback['file']}.csv")


def validate_file(path: Path, english: bool = False, feedback: Path | None = None) -> int:
    """``orostat validate``: print the summary, write the feedback file, return the exit status."""
    from pipelines.stage2_pseudonymise.ingest import (
        build_quarantine,
        connect,
        landed_table,
        write_analyst_csv,
    )

    say = (lambda sv, en: en) if english else (lambda sv, en: sv)
    if not path.is_file():
        print(say(f"Filen finns inte: {path}", f"No such file: {path}"), file=sys.stderr)
        return 2
    try:
        landed = read_extract(path)
    except FileRejected as err:
        print(say("AVVISAS – filen kan inte läsas in:", "REJECTED – the file cannot be loaded:"), err)
        _write_json(feedback, rejection(path, err))
        return 2
    con = connect()
    con.register("landed", landed_table([landed]))
    build_checked(con, "landed", *month_bounds(landed.period))
    build_quarantine(con, [landed])
    result = summary(landed, con)
    _print(result, english)
    target = feedback or Path.cwd() / f"aterkoppling_{path.stem}.csv"
    if target.suffix.lower() == ".json":
        _write_json(target, result)
    else:
        write_analyst_csv(con.sql("SELECT * FROM quarantine_out").to_arrow_table(), target)
    print(say(f"Återkoppling per rad: {target}", f"Row-level feedback: {target}"))
    con.close()
    return 1 if result["quarantined"] else 0


def _write_json(target: Path | None, content: dict[str, Any]) -> None:
    if target is not None and target.suffix.lower() == ".json":
        target.write_text(json.dumps(content, ensure_ascii=False, indent=2), "utf-8")


def _print(result: dict[str, Any], english: bool) -> None:
    lang = "en" if english else "sv"
    if english:
        print(
            f"{result['file']}: dialect {result['dialect']}, encoding {result['encoding']}, {result['rows_in']} rows, "
            f"{result['accepted']} accepted, {result['quarantined']} quarantined."
        )
    else:
        print(
            f"{result['file']}: dialekt {result['dialect']}, kodning {result['encoding']}, {result['rows_in']} rader, "
            f"{result['accepted']} godkända, {result['quarantined']} i karantän."
        )
    if result["ignored_columns"]:
        label = "Ignored columns: " if english else "Kolumner som ignoreras: "
        print(label + ", ".join(result["ignored_columns"]))
    words = ("field", "rows", "expected") if english else ("fält", "rader", "förväntat")
    for p in result["problems"]:
        where = ", ".join(map(str, p["row_numbers"])) + (" …" if p["rows"] > len(p["row_numbers"]) else "")
        print(f"  [{p['code']}] {p['rows']} × {p[f'text_{lang}']}")
        print(
            f"      {words[0]}: {p['field'] or '-'}; {words[1]}: {where}; {words[2]}: {p[f'expected_{lang}']}"
        )
