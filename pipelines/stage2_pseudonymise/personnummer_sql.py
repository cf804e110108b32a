"""The personnummer rules of ``personnummer.py`` as vectorised DuckDB SQL.

Design: one function, ``normalise_select(table, value_col, reference_col, keep)``, returns a complete
SELECT statement made of a CTE chain

* ``clean``    - remove whitespace (the same character class as the Python reference), read the
  reference date with ``try_cast``;
* ``parse``    - check the format and count the digits;
* ``fields``, ``numbers``, ``split`` - strip the separator and read the digits once as a BIGINT;
  every field (year, month, day, check digit) is then integer arithmetic, which DuckDB vectorises
  far better than repeated ``substr`` + cast;
* ``resolve``  - infer the century for 10 digits (``+``: from the calendar year of the 100th birthday);
* ``validate`` - pick the first failing rule as ``pnr_problem`` (the Luhn digit is integer arithmetic);

and a final projection: the kept columns, then ``OUTPUT_COLUMNS`` in that order. A CTE chain was
chosen over free-standing column expressions (a ``normalise_sql``) because each step names its
intermediate results once: inlining them would repeat the parsing expressions dozens of times.

Call it like::

    con.execute(normalise_select("raw_reports", "personnummer", "inkomstdatum", ["report_id"]))

``table`` is any FROM item (a table or view name, or a table function such as ``read_parquet(...)``)
and is inserted verbatim, so it must come from code, never from data. Column names are quoted.

Only built-in functions are used, no Python UDFs, and nothing can raise on bad input: casts are
``try_cast``, and the BIGINT cast runs only on strings the regex has already checked (a DuckDB
conversion error message would contain the raw value). A NULL reference date leaves 10-digit values
unresolvable: they get ``pnr_problem = 'date'``; 12-digit values do not need it. ``pnr_normalised``,
``birth_date``, ``is_coordination_number`` and ``legal_sex`` are NULL unless the value is valid.

``pnr_masked`` uses ``translate`` for pure-ASCII values (byte length = character length) and the
Unicode ``\\p{Nd}`` regex only for the rest: a global regex replace took a third of the run time.
On 2 cores, 1,000,000 mixed rows take about 0.6 s.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from pipelines.stage2_pseudonymise.personnummer import WHITESPACE

__all__ = ["OUTPUT_COLUMNS", "normalise_select"]

OUTPUT_COLUMNS: tuple[str, ...] = (
    "pnr_empty",
    "pnr_problem",
    "pnr_normalised",
    "birth_date",
    "is_coordination_number",
    "legal_sex",
    "pnr_masked",
)


def _re2_class(chars: str) -> str:
    """An RE2 character class matching exactly these characters (escaped as \\x{..})."""
    return "[" + "".join(f"\\x{{{ord(c):x}}}" for c in chars) + "]"


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _luhn_sql(nine: str) -> str:
    """Luhn check digit of the nine-digit BIGINT expression ``nine`` (YYMMDDNNN).

    The rightmost of the nine digits has weight 2; for weight 2 the digit sum of 2d is 2d - 9 when
    d >= 5, i.e. 2d - 9 * (d // 5).
    """
    terms = []
    for k in range(9):
        digit = f"({nine} // {10**k} % 10)"
        terms.append(f"(2 * {digit} - 9 * ({digit} // 5))" if k % 2 == 0 else digit)
    return f"((10 - ({' + '.join(terms)}) % 10) % 10)"


# The CTE chain; placeholders are filled by normalise_select, literal braces are doubled.
_TEMPLATE = """
WITH clean AS (
    SELECT {kept}
        {value}::VARCHAR AS _raw,
        regexp_replace({value}::VARCHAR, '{whitespace}+', '', 'g') AS _text,
        try_cast({reference} AS DATE) AS _ref
    FROM {table}
),
parse AS (
    SELECT *,
        coalesce(_text = '', true) AS _empty,
        regexp_full_match(_text, '[0-9]+|[0-9]*[-+][0-9]{{4}}') AS _format_ok,
        length(_text) - (contains(_text, '-') OR contains(_text, '+'))::INTEGER AS _ndigits,
        contains(_text, '+') AS _plus
    FROM clean
),
fields AS (
    SELECT *,
        CASE WHEN _format_ok AND _ndigits IN (10, 12)
             THEN replace(replace(_text, '-', ''), '+', '') END AS _digits
    FROM parse
),
numbers AS (
    SELECT *, try_cast(_digits AS BIGINT) AS _n
    FROM fields
),
split AS (
    SELECT *,
        _n % 10 AS _check,
        _n // 10 % 1000000000 AS _nine,
        _n // 1000000 % 100 AS _month,
        _n // 10000 % 100 AS _raw_day,
        CASE WHEN _n // 10000 % 100 > 60 THEN _n // 10000 % 100 - 60 ELSE _n // 10000 % 100 END AS _day,
        _n // 100000000 % 100 AS _yy
    FROM numbers
),
resolve AS (
    SELECT *,
        CASE WHEN _ndigits = 12 THEN _n // 100000000
             -- '+' from the calendar year of the 100th birthday: latest year <= ref year - 100 ending in YY
             WHEN _plus THEN year(_ref) - 100 - ((year(_ref) - 100 - _yy) % 100 + 100) % 100
             -- '-' or none: latest year <= ref year ending in YY whose birthday is not after the ref date
             ELSE year(_ref) - ((year(_ref) - _yy) % 100 + 100) % 100
                  - CASE WHEN _yy = year(_ref) % 100 AND _month * 100 + _day > month(_ref) * 100 + day(_ref)
                         THEN 100 ELSE 0 END
        END AS _year
    FROM split
),
validate AS (
    SELECT *,
        CASE
            WHEN _empty THEN NULL
            WHEN NOT _format_ok THEN 'format'
            WHEN _ndigits NOT IN (10, 12) THEN 'length'
            WHEN _year IS NULL OR _year < 1 OR _year > 9999 OR _month < 1 OR _month > 12 OR _day < 1
                 OR _day > CASE
                     WHEN _month = 2 THEN
                         CASE WHEN _year % 4 = 0 AND (_year % 100 <> 0 OR _year % 400 = 0) THEN 29 ELSE 28 END
                     WHEN _month IN (4, 6, 9, 11) THEN 30
                     ELSE 31 END
                 THEN 'date'
            WHEN {luhn} <> _check THEN 'checksum'
        END AS _problem
    FROM resolve
)
SELECT {kept_names}
    _empty AS pnr_empty,
    _problem AS pnr_problem,
    CASE WHEN NOT _empty AND _problem IS NULL
         THEN CASE WHEN _ndigits = 12 THEN _digits
                   ELSE lpad(_year::VARCHAR, 4, '0') || right(_digits, 8) END END AS pnr_normalised,
    CASE WHEN NOT _empty AND _problem IS NULL
         THEN make_date(_year::BIGINT, _month::BIGINT, _day::BIGINT) END AS birth_date,
    CASE WHEN NOT _empty AND _problem IS NULL THEN _raw_day > 60 END AS is_coordination_number,
    CASE WHEN NOT _empty AND _problem IS NULL
         THEN CASE WHEN _n // 10 % 2 = 1 THEN '1' ELSE '2' END END AS legal_sex,
    CASE WHEN _empty THEN NULL
         WHEN strlen(_raw) = length(_raw) THEN translate(_raw, '0123456789', 'XXXXXXXXXX')
         ELSE regexp_replace(_raw, '\\p{{Nd}}', 'X', 'g') END AS pnr_masked
FROM validate
"""


_INTERNAL_COLUMNS = frozenset(re.findall(r"\bAS (_[a-z_]+)\b", _TEMPLATE))


def _check_keep(keep: Sequence[str]) -> None:
    clash = sorted(set(keep) & (set(OUTPUT_COLUMNS) | _INTERNAL_COLUMNS))
    if clash:
        raise ValueError(f"kept columns clash with output or internal columns: {clash}")


def normalise_select(table: str, value_col: str, reference_col: str, keep: Sequence[str] = ()) -> str:
    """A SELECT yielding the ``keep`` columns, then ``OUTPUT_COLUMNS``, for every row of ``table``."""
    _check_keep(keep)
    return _TEMPLATE.format(
        table=table,
        value=_quote(value_col),
        reference=_quote(reference_col),
        kept="".join(f"{_quote(c)} AS {_quote(c)}, " for c in keep),
        kept_names="".join(f"{_quote(c)}, " for c in keep),
        whitespace=_re2_class(WHITESPACE),
        luhn=_luhn_sql("_nine"),
    )
