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
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.core.partitions import month_bounds
from pipelines.core.schemas import quarantine_reasons
from pipelines.stage1_landing.delivery import FileRejected, Landed, masked_name
from pipelines.stage1_landing.dialect import column_names
from pipelines.stage1_landing.landing import landed_table
from pipelines.stage1_landing.read import read_extract
from pipelines.stage2_pseudonymise.quarantine import build_quarantine, connect, write_analyst_csv
from pipelines.stage2_pseudonymise.validate import build_checked, expand

LISTED_ROWS = 20


def _rules() -> dict[str, dict]:
    spec = quarantine_reasons()
    return {r["code"]: r for r in spec["rules"] + spec.get("structural", [])}


def problems_by_file(con: duckdb.DuckDBPyConnection) -> dict[str, list[dict[str, Any]]]:
    """Per file and reason: rows, first row numbers, field, texts, what is expected (one query)."""
    rows = con.execute(
        f"""SELECT source_file, r, count(*) AS n, list(row_number ORDER BY row_number)[1:{LISTED_ROWS}]
            FROM (SELECT source_file, unnest(reasons) AS r, row_number FROM quarantine_out)
            GROUP BY source_file, r ORDER BY source_file, n DESC, r"""
    ).fetchall()
    rules = _rules()
    found: dict[str, list[dict[str, Any]]] = {}
    for source_file, code, n, numbers in rows:
        rule = rules.get(code, {})
        found.setdefault(source_file, []).append(
            {
                "code": code,
                "field": rule.get("field", ""),
                "rows": n,
                "row_numbers": list(numbers),
                "text_sv": rule.get("sv", code),
                "text_en": rule.get("en", code),
                "expected_sv": expand(rule.get("expected", "")),
                "expected_en": expand(rule.get("expected_en", "")),
            }
        )
    return found


def consequences_by_file(con: duckdb.DuckDBPyConnection) -> dict[str, list[dict[str, Any]]]:
    """Per file, what its quarantined rows mean beyond themselves (``consequences`` in
    quarantine_reasons.yaml), e.g. updates of earlier reports that were not loaded: rows and texts."""
    found: dict[str, list[dict[str, Any]]] = {}
    for item in quarantine_reasons().get("consequences", []):
        counts = con.execute(
            f"""SELECT source_file, count(*) FROM checked
                WHERE len(reasons) > 0 AND ({expand(item["when"])}) GROUP BY ALL ORDER BY 1"""
        ).fetchall()
        for source_file, n in counts:
            entry = {"code": item["code"], "rows": n, "text_sv": item["sv"], "text_en": item["en"]}
            found.setdefault(source_file, []).append(entry)
    return found


def summaries(landed: list[Landed], con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Machine-readable feedback for every read file (aggregates and row numbers only)."""
    problems = problems_by_file(con)
    consequences = consequences_by_file(con)
    bad = dict(con.execute("SELECT source_file, count(*) FROM quarantine_out GROUP BY ALL").fetchall())
    return [
        {
            "file": item.path.name,
            "status": "inläst",
            "municipality_code": item.municipality_code,
            "period": item.period,
            "dialect": item.dialect,
            "encoding": item.encoding,
            "rows_in": item.records,
            "accepted": item.records - bad.get(item.path.name, 0),
            "quarantined": bad.get(item.path.name, 0),
            "ignored_columns": item.ignored_columns,
            "problems": problems.get(item.path.name, []),
            "consequences": consequences.get(item.path.name, []),
        }
        for item in landed
    ]


def file_reason(code: str) -> dict[str, str]:
    """The Swedish and English text of a whole-file rejection (``file_level`` in quarantine_reasons.yaml)."""
    found = {r["code"]: r for r in quarantine_reasons().get("file_level", [])}
    return found.get(code, {"sv": code, "en": code})


def rejection(path: Path, err: FileRejected) -> dict[str, Any]:
    reason = file_reason(err.code)
    return {
        "file": masked_name(path.name),
        "status": "avvisad",
        "rejection_code": err.code,
        "rejection_message": str(err),
        "text_sv": reason["sv"],
        "text_en": reason["en"],
    }


def write_feedback(folder: Path, feedback: list[dict[str, Any]], quarantine: pa.Table | None) -> None:
    """``<file>.json`` for every file; ``<file>.csv`` with its quarantined rows where there are any."""
    folder.mkdir(parents=True, exist_ok=True)
    for item in feedback:
        text = json.dumps(item, ensure_ascii=False, indent=2)
        (folder / f"{item['file']}.json").write_text(text, "utf-8")
        if quarantine is not None and item.get("quarantined"):
            rows = quarantine.filter(pc.equal(quarantine.column("source_file"), item["file"]))
            write_analyst_csv(rows, folder / f"{item['file']}.csv")


def validate_file(path: Path, english: bool = False, feedback: Path | None = None) -> int:
    """``orostat validate``: print the summary, write the feedback file, return the exit status."""
    say = (lambda sv, en: en) if english else (lambda sv, en: sv)
    if not path.is_file():
        print(say(f"Filen finns inte: {path}", f"No such file: {path}"), file=sys.stderr)
        return 2
    try:
        landed = read_extract(path)
    except FileRejected as err:
        reason = file_reason(err.code)
        print(say("AVVISAS – filen kan inte läsas in:", "REJECTED – the file cannot be loaded:"))
        print(f"  [{err.code}] {say(reason['sv'], reason['en'])}")
        detail = say(err.sv, str(err))
        if detail:
            print(f"  {detail}")
        _write_json(feedback, rejection(path, err))
        return 2
    con = connect()
    con.register("landed", landed_table([landed]))
    build_checked(con, "landed", *month_bounds(landed.period))
    build_quarantine(con, [landed])
    (result,) = summaries([landed], con)
    _print(result, english)
    if feedback is None:  # written only where asked: the current folder may be anywhere
        if result["quarantined"]:
            print(
                say(
                    "Raderna att rätta: lägg till --feedback FIL.csv",
                    "The rows to correct: add --feedback FILE.csv",
                )
            )
    elif feedback.suffix.lower() == ".json":
        _write_json(feedback, result)
        print(say(f"Återkoppling: {feedback}", f"Feedback: {feedback}"))
    else:
        write_analyst_csv(con.sql("SELECT * FROM quarantine_out").to_arrow_table(), feedback)
        print(say(f"Återkoppling per rad: {feedback}", f"Row-level feedback: {feedback}"))
    con.close()
    return 1 if result["quarantined"] else 0


def _write_json(target: Path | None, content: dict[str, Any]) -> None:
    if target is not None and target.suffix.lower() == ".json":
        target.write_text(json.dumps(content, ensure_ascii=False, indent=2), "utf-8")


def _in_file(field: str | None, dialect: str) -> str:
    """A contract field as the file's own columns name it, with the contract's name: the analyst looks
    for the column in the file (``Återkopplingsdatum/Återkoppling (feedback_date)``)."""
    if not field:
        return "-"
    return ", ".join(f"{column_names(dialect, f.strip())} ({f.strip()})" for f in field.split(","))


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
            f"      {words[0]}: {_in_file(p['field'], result['dialect'])}; {words[1]}: {where}; "
            f"{words[2]}: {p[f'expected_{lang}']}"
        )
    for c in result.get("consequences", []):
        print(f"  [{c['code']}] {c['rows']} × {c[f'text_{lang}']}")
