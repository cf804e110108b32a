"""A PxWebApi 2.0 selection: which codes of each variable, from a POST body or GET ``valuecodes[...]``.

Value codes are codes or expressions: ``*`` (all), wildcards (``01*``, ``*-Q1``, ``20?5``), ``top(n)``,
``bottom(n)``, ``from(c)``, ``to(c)`` and ``range(a,b)`` over the variable's codes in order, optionally within
a code list (``vs_kommun``, ``vs_month`` …). A variable left out is eliminated to its total where it has one.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping

from pipelines.api.spec import ApiError
from pipelines.api.tables import GEO, LEVELS, PERIOD, PERIOD_TYPES, Dimension, Table

Request = list[tuple[str, str | None, list[str]]]  # (variable, code list, value codes)
FUNCTION = re.compile(r"(top|bottom|from|to|range)\((.*)\)", re.IGNORECASE)


def from_body(body: bytes) -> Request | None:
    """The selection of a POST body; None for an empty body or no selection (the default selection)."""
    if not body.strip():
        return None
    try:
        query = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, "bad_json", reason=str(exc)[:200]) from exc
    if not isinstance(query, dict) or not isinstance(query.get("selection", []), list):
        raise ApiError(400, "bad_selection", reason="selection")
    items = []
    for item in query.get("selection", []):
        if not isinstance(item, dict) or not isinstance(item.get("variableCode"), str):
            raise ApiError(400, "bad_selection", reason="variableCode")
        codes, codelist = item.get("valueCodes", []), item.get("codelist")
        if not isinstance(codes, list) or not all(isinstance(c, str) for c in codes):
            raise ApiError(400, "bad_selection", reason="valueCodes")
        if codelist is not None and not isinstance(codelist, str):
            raise ApiError(400, "bad_selection", reason="codelist")
        items.append((item["variableCode"], codelist, codes))
    return items or None


def from_query(params: Mapping[str, str]) -> Request | None:
    """``valuecodes[var]=a,b`` and ``codelist[var]=id`` of a GET (names case-insensitive, as SCB's)."""
    codes: dict[str, list[str]] = {}
    lists: dict[str, str] = {}
    for key, value in params.items():
        match = re.fullmatch(r"(valuecodes|codelist)\[(.+)\]", key, re.IGNORECASE)
        if match and match[1].lower() == "valuecodes":
            codes[match[2]] = [c.strip() for c in _split(value)]
        elif match:
            lists[match[2]] = value
    items = [(var, lists.get(var), values) for var, values in codes.items()]
    items += [(var, cl, ["*"]) for var, cl in lists.items() if var not in codes]
    return items or None


def _split(value: str) -> list[str]:
    """Split on commas outside parentheses (``range(a,b)`` stays whole)."""
    return [part for part in re.split(r",(?![^(]*\))", value) if part.strip()]


def default(table: Table) -> dict[str, list[str]]:
    """The default selection: the whole country (where the table has it), every other code."""
    return {
        d.code: ([d.elimination] if d.code == GEO and d.elimination else list(d.codes))
        for d in table.dimensions
    }


def resolve(table: Table, items: Request | None, max_cells: int) -> dict[str, list[str]]:
    """Codes per dimension, in the dimension's order; errors name the variable, code or code list."""
    if items is None:
        chosen = default(table)
    else:
        chosen = {}
        for variable, codelist, codes in items:
            dim = table.dimension(variable)
            if dim is None:
                known = ", ".join(d.code for d in table.dimensions)
                raise ApiError(400, "unknown_variable", variable=variable[:60], table=table.id, known=known)
            chosen[variable] = _expand(dim, codelist_codes(dim, codelist), codes)
        for dim in table.dimensions:
            if dim.code not in chosen:
                if dim.elimination is None:
                    raise ApiError(400, "mandatory", variable=dim.code)
                chosen[dim.code] = [dim.elimination]
    cells = math.prod(len(codes) for codes in chosen.values())
    if cells > max_cells:
        raise ApiError(403, "too_many_cells", cells=cells, max=max_cells)
    return {d.code: chosen[d.code] for d in table.dimensions}


def codelist_codes(dim: Dimension, codelist: str | None) -> list[str]:
    """The dimension's codes within a code list (all of them without one)."""
    if codelist is None:
        return dim.codes
    if codelist not in dim.codelists:
        where = f" ({dim.code})"
        raise ApiError(
            400, "unknown_codelist", codelist=codelist[:60], where=where, known=", ".join(dim.codelists)
        )
    return [c for c in dim.codes if in_codelist(dim.code, codelist, c)]


def in_codelist(variable: str, codelist: str, code: str) -> bool:
    """Whether a geography or period code belongs to a level's or period type's code list."""
    kind = codelist.removeprefix("vs_")
    if variable == GEO:
        return {"riket": 2, "lan": 2, "kommun": 4}[kind] == len(code) and (kind == "riket") == (code == "00")
    return {
        "month": re.compile(r"\d{4}-\d\d"),
        "quarter": re.compile(r"\d{4}-Q\d"),
        "year": re.compile(r"\d{4}"),
    }[kind].fullmatch(code) is not None


CODELISTS = {f"vs_{kind}": (GEO, kind) for kind in LEVELS} | {
    f"vs_{kind}": (PERIOD, kind) for kind in PERIOD_TYPES
}


def _expand(dim: Dimension, available: list[str], expressions: list[str]) -> list[str]:
    wanted: set[str] = set()
    for expression in expressions:
        found = _match(dim, available, expression.strip())
        if not found:
            raise ApiError(400, "no_match", code=expression[:60], variable=dim.code)
        wanted.update(found)
    if not expressions:
        raise ApiError(400, "no_match", code="", variable=dim.code)
    return [c for c in dim.codes if c in wanted]


def _match(dim: Dimension, available: list[str], expression: str) -> list[str]:
    if "*" in expression or "?" in expression:
        pattern = re.compile(".*".join(".".join(map(re.escape, p.split("?"))) for p in expression.split("*")))
        return [c for c in available if pattern.fullmatch(c)]
    function = FUNCTION.fullmatch(expression)
    if function:
        return _function(dim, available, function[1].lower(), function[2])
    if expression not in dim.codes:
        raise ApiError(400, "unknown_code", code=expression[:60], variable=dim.code)
    return [expression] if expression in available else []


def _function(dim: Dimension, available: list[str], name: str, argument: str) -> list[str]:
    args = [a.strip() for a in argument.split(",")]
    if name in ("top", "bottom"):
        if len(args) != 1 or not args[0].isdigit() or int(args[0]) < 1:
            raise ApiError(400, "unknown_code", code=f"{name}({argument})"[:60], variable=dim.code)
        n = int(args[0])
        return available[-n:] if name == "top" else available[:n]  # top: the latest (PxWeb's order)
    bounds = {"from": (args[0], None), "to": (None, args[0]), "range": (args[0], args[-1])}[name]
    if name == "range" and len(args) != 2:
        raise ApiError(400, "unknown_code", code=f"range({argument})"[:60], variable=dim.code)
    for bound in bounds:
        if bound is not None and bound not in available:
            raise ApiError(400, "unknown_code", code=bound[:60], variable=dim.code)
    start = available.index(bounds[0]) if bounds[0] else 0
    end = available.index(bounds[1]) + 1 if bounds[1] else len(available)
    return available[start:end]
