"""``orostat validate FILE``: the same reading and validation as a load, without a key or any output.

For the municipal analyst: a summary per problem (with the rows concerned and what is expected) and a
row-level feedback CSV that opens in Excel. Exit status 0 = the file would load with no rows
quarantined, 1 = it would load but some rows would be quarantined, 2 = the file would be rejected.
"""

from __future__ import annotations

import sys
from pathlib import Path

from pipelines.core.schemas import quarantine_reasons
from pipelines.stage1_landing.read import FileRejected, read_extract
from pipelines.stage2_pseudonymise.ingest import (
    build_quarantine,
    connect,
    landed_table,
    month_bounds,
    write_analyst_csv,
)
from pipelines.stage2_pseudonymise.validate import build_checked

SHOWN_ROWS = 10


def validate_file(path: Path, english: bool = False, feedback: Path | None = None) -> int:
    say = (lambda sv, en: en) if english else (lambda sv, en: sv)
    if not path.is_file():
        print(say(f"Filen finns inte: {path}", f"No such file: {path}"), file=sys.stderr)
        return 2
    try:
        landed = read_extract(path)
    except FileRejected as err:
        print(say("AVVISAS – filen kan inte läsas in:", "REJECTED – the file cannot be loaded:"), err)
        return 2
    con = connect()
    con.register("landed", landed_table([landed]))
    build_checked(con, "landed", *month_bounds(landed.period))
    build_quarantine(con, [landed])
    total = landed.records
    bad = con.execute("SELECT count(*) FROM quarantine_out").fetchone()[0]
    print(
        say(
            f"{path.name}: dialekt {landed.dialect}, kodning {landed.encoding}, {total} rader, "
            f"{total - bad} godkända, {bad} i karantän.",
            f"{path.name}: dialect {landed.dialect}, encoding {landed.encoding}, {total} rows, "
            f"{total - bad} accepted, {bad} quarantined.",
        )
    )
    if landed.ignored_columns:
        print(say("Kolumner som ignoreras: ", "Ignored columns: ") + ", ".join(landed.ignored_columns))
    _print_problems(con, english)
    if feedback is not None:
        write_analyst_csv(con.sql("SELECT * FROM quarantine_out").to_arrow_table(), feedback)
        print(say(f"Återkoppling per rad: {feedback}", f"Row-level feedback: {feedback}"))
    con.close()
    return 1 if bad else 0


def _print_problems(con, english: bool) -> None:
    spec = quarantine_reasons()
    by_code = {r["code"]: r for r in spec["rules"] + spec.get("structural", [])}
    rows = con.execute(
        f"""SELECT r, count(*) AS n, list(row_number ORDER BY row_number)[1:{SHOWN_ROWS}] AS some_rows
            FROM (SELECT unnest(reasons) AS r, row_number FROM quarantine_out) GROUP BY r ORDER BY n DESC, r"""
    ).fetchall()
    for code, n, some in rows:
        rule = by_code.get(code, {})
        text = rule.get("en" if english else "sv", code)
        where = ", ".join(str(r) for r in some) + (" …" if n > len(some) else "")
        field = rule.get("field") or "-"
        expected = rule.get("expected", "")
        print(f"  [{code}] {n} × {text}\n      {'field' if english else 'fält'}: {field}; "
              f"{'rows' if english else 'rader'}: {where}; {'expected' if english else 'förväntat'}: {expected}")
