"""Suggest the closest valid code for an unknown reporter, cause or outcome value.

Runs over the *distinct* unknown values only (a handful per file), matching against each code, its
Swedish and English label and every dialect's words for it. The suggestion never repeats the value.
"""

from __future__ import annotations

import difflib

import duckdb
import pyarrow as pa

from pipelines.core.schemas import code_table, dialects, fold

# reason code → (contract field, code list)
UNKNOWN = {
    "anmalare_okand": ("reporter", "reporters"),
    "orsak_okand": ("causes", "causes"),
    "utfall_okant": ("outcome", "outcomes"),
}


def _vocabulary(field: str, codes: str) -> dict[str, str]:
    """Folded spelling → code, for every way a code is written."""
    table = code_table(codes).to_pylist()
    words = {fold(r["code"]): r["code"] for r in table}
    words |= {fold(r["label_sv"]): r["code"] for r in table} | {fold(r["label_en"]): r["code"] for r in table}
    for spec in dialects().values():
        words |= {fold(w): code for w, code in (spec.get("values") or {}).get(field, {}).items()}
    return words


def closest(field: str, codes: str, value: str) -> str | None:
    """'POL (Polis)' for 'Polisen', or None when nothing is close."""
    vocabulary = _vocabulary(field, codes)
    match = difflib.get_close_matches(fold(value), list(vocabulary), n=1, cutoff=0.6)
    if not match:
        return None
    code = vocabulary[match[0]]
    label = {r["code"]: r["label_sv"] for r in code_table(codes).to_pylist()}[code]
    return f"{code} ({label})"


def suggestions(con: duckdb.DuckDBPyConnection) -> pa.Table:
    """Table (field, value, suggestion) for the unknown values in temp table ``checked``."""
    valid_causes = code_table("causes").column("code").to_pylist()
    con.register("valid_causes", pa.table({"code": valid_causes}))
    found = con.execute(
        """SELECT DISTINCT 'reporter' AS field, reporter AS value FROM checked
             WHERE list_contains(reasons, 'anmalare_okand')
           UNION SELECT DISTINCT 'outcome', outcome FROM checked WHERE list_contains(reasons, 'utfall_okant')
           UNION SELECT DISTINCT 'causes', c FROM (
             SELECT unnest(cause_list) AS c FROM checked WHERE list_contains(reasons, 'orsak_okand'))
             WHERE c NOT IN (SELECT code FROM valid_causes)"""
    ).fetchall()
    lists = {f: c for f, c in UNKNOWN.values()}
    rows = [(f, v, closest(f, lists[f], v)) for f, v in found if v is not None]
    rows = [r for r in rows if r[2] is not None]
    return pa.table(
        {
            "field": pa.array([r[0] for r in rows], pa.string()),
            "value": pa.array([r[1] for r in rows], pa.string()),
            "suggestion": pa.array([r[2] for r in rows], pa.string()),
        }
    )
