"""The DuckDB SQL version must agree exactly with the Python reference."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator, Sequence

import duckdb
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.stage2_pseudonymise import personnummer as pnr
from pipelines.stage2_pseudonymise.personnummer_sql import OUTPUT_COLUMNS, normalise_select
from tests.strategies import WHITESPACE, hundredth_year_numbers, mixed_values

Row = tuple[str | None, dt.date | None]


@pytest.fixture(scope="module")
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect()
    yield connection
    connection.close()


def _run_sql(con: duckdb.DuckDBPyConnection, rows: Sequence[Row]) -> list[dict[str, object]]:
    table = pa.table(
        {
            "id": pa.array(range(len(rows)), pa.int64()),
            "value": pa.array([value for value, _ in rows], pa.string()),
            "reference": pa.array([reference for _, reference in rows], pa.date32()),
        }
    )
    con.register("input_rows", table)
    try:
        result = con.execute(normalise_select("input_rows", "value", "reference", ["id"]) + " ORDER BY id")
        names = [column[0] for column in result.description]
        return [dict(zip(names, row, strict=True)) for row in result.fetchall()]
    finally:
        con.unregister("input_rows")


def _expected(value: str | None, reference: dt.date) -> dict[str, object]:
    """What the SQL must say, computed with the Python reference."""
    empty = value is None or pnr.compact(value) == ""
    expected: dict[str, object] = {
        "pnr_empty": empty,
        "pnr_problem": None,
        "pnr_normalised": None,
        "birth_date": None,
        "is_coordination_number": None,
        "legal_sex": None,
        "pnr_masked": None if empty else pnr.mask(value or ""),
    }
    if empty:
        return expected
    try:
        number = pnr.normalise(value or "", reference)
    except pnr.PersonnummerError as error:
        expected["pnr_problem"] = error.code
        return expected
    expected.update(
        pnr_normalised=number,
        birth_date=pnr.birth_date(number),
        is_coordination_number=pnr.is_coordination_number(number),
        legal_sex=pnr.legal_sex(number),
    )
    return expected


def _assert_agree(con: duckdb.DuckDBPyConnection, rows: Sequence[tuple[str | None, dt.date]]) -> None:
    for (value, reference), got in zip(rows, _run_sql(con, rows), strict=True):
        want = _expected(value, reference)
        assert {name: got[name] for name in OUTPUT_COLUMNS} == want, (value, reference)


@settings(max_examples=150, deadline=None)
@given(st.lists(mixed_values(), min_size=1, max_size=40))
def test_sql_agrees_with_python_on_generated_mixtures(
    con: duckdb.DuckDBPyConnection, rows: list[Row]
) -> None:
    _assert_agree(con, rows)


def _random_rows(seed: int, count: int) -> list[tuple[str | None, dt.date]]:
    """A few thousand valid and near-miss values, generated with a fixed seed (no hypothesis)."""
    rng = random.Random(seed)
    rows: list[tuple[str | None, dt.date]] = []
    for _ in range(count):
        reference = dt.date(1950, 1, 1) + dt.timedelta(days=rng.randrange(55_000))
        birth = reference - dt.timedelta(days=rng.randrange(0, 200 * 365))
        number = pnr.generate(birth, rng.randrange(1, 1000), rng.random() < 0.2)
        value: str | None = rng.choice(pnr.format_forms(number, reference))
        damage = rng.random()
        if damage < 0.15:
            position = rng.randrange(len(value))
            value = value[:position] + rng.choice("0123456789+- x") + value[position + 1 :]
        elif damage < 0.25:
            value = value[: rng.randrange(len(value))]
        elif damage < 0.3:
            value = rng.choice([None, "", " ", "\u00a0", "okänd"])
        elif damage < 0.35:
            value = rng.choice(WHITESPACE) + value + rng.choice(WHITESPACE)
        # Read some rows at another date, so the century of 10-digit forms varies too.
        rows.append(
            (value, reference + dt.timedelta(days=rng.randrange(-40_000, 40_000) if damage > 0.8 else 0))
        )
    return rows


def test_sql_agrees_with_python_on_seeded_rows(con: duckdb.DuckDBPyConnection) -> None:
    _assert_agree(con, _random_rows(seed=20250601, count=4000))


LEAP = pnr.generate(dt.date(2000, 2, 29), 789)
CHILD = pnr.generate(dt.date(2010, 7, 15), 123)
OLD = pnr.generate(dt.date(1920, 3, 4), 456)
TURNS_100 = pnr.generate(dt.date(1925, 12, 1), 457)  # turns 100 in December 2025: writes '+' all 2025


@pytest.mark.parametrize(
    ("value", "reference"),
    [
        (CHILD[2:], dt.date(2025, 6, 1)),
        (CHILD[2:], dt.date(2010, 7, 14)),
        (CHILD[2:], dt.date(2010, 7, 15)),
        (f"{OLD[2:8]}+{OLD[8:]}", dt.date(2025, 6, 1)),
        (f"{OLD[2:8]}-{OLD[8:]}", dt.date(2025, 6, 1)),
        (f"{OLD[:8]}+{OLD[8:]}", dt.date(2025, 6, 1)),
        (f"{TURNS_100[2:8]}+{TURNS_100[8:]}", dt.date(2025, 6, 1)),
        (f"{TURNS_100[2:8]}-{TURNS_100[8:]}", dt.date(2025, 6, 1)),
        (f"{TURNS_100[2:8]}+{TURNS_100[8:]}", dt.date(2025, 1, 1)),
        (f"{TURNS_100[2:8]}+{TURNS_100[8:]}", dt.date(2025, 12, 31)),
        (f"{TURNS_100[2:8]}-{TURNS_100[8:]}", dt.date(2025, 12, 2)),
        (f"{TURNS_100[2:8]}+{TURNS_100[8:]}", dt.date(2024, 12, 31)),
        (f"{TURNS_100[2:8]}+{TURNS_100[8:]}", dt.date(2125, 1, 1)),
        (LEAP[2:], dt.date(2025, 6, 1)),
        (f"{LEAP[2:8]}+{LEAP[8:]}", dt.date(2025, 6, 1)),
        (LEAP[2:], dt.date(2000, 2, 28)),
        (LEAP[2:], dt.date(2000, 2, 29)),
        ("000000000000", dt.date(2025, 6, 1)),
        ("-1234", dt.date(2025, 6, 1)),
        ("１２３４５６７８９０", dt.date(2025, 6, 1)),
        (CHILD[2:], None),
        (CHILD, None),
        (None, None),
        ("9" * 40, dt.date(2025, 6, 1)),
    ],
)
def test_edge_cases(con: duckdb.DuckDBPyConnection, value: str | None, reference: dt.date | None) -> None:
    got = _run_sql(con, [(value, reference)])[0]
    if reference is None:
        # Without a reference date 10 digits cannot be resolved; 12 digits need none.
        want_problem = None if value is None or len(value) == 12 else "date"
        assert got["pnr_problem"] == want_problem
        return
    assert {name: got[name] for name in OUTPUT_COLUMNS} == _expected(value, reference)


def test_output_columns_in_order(con: duckdb.DuckDBPyConnection) -> None:
    con.execute('CREATE OR REPLACE TEMP TABLE t (k INTEGER, "odd name" VARCHAR, r DATE)')
    con.execute("INSERT INTO t VALUES (1, ?, DATE '2025-06-01')", [CHILD])
    result = con.execute(normalise_select("t", "odd name", "r", ["k", "odd name"]))
    assert [column[0] for column in result.description] == ["k", "odd name", *OUTPUT_COLUMNS]
    assert result.fetchall()[0][4] == CHILD


def test_reference_may_be_a_timestamp_or_text(con: duckdb.DuckDBPyConnection) -> None:
    row = con.execute(
        normalise_select("(SELECT ? AS v, TIMESTAMP '2012-01-01 10:00' AS r)", "v", "r"), [CHILD[2:]]
    ).fetchall()[0]
    assert row[2] == CHILD


def test_kept_columns_must_not_clash(con: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(ValueError, match="clash"):
        normalise_select("t", "v", "r", ["pnr_problem"])
    with pytest.raises(ValueError, match="clash"):
        normalise_select("t", "v", "r", ["_digits"])


def test_bad_input_never_raises_or_leaks(con: duckdb.DuckDBPyConnection) -> None:
    # Text in the date column, and values that a plain CAST would reject with the value in the message.
    rows = con.execute(
        normalise_select(
            "(SELECT * FROM (VALUES ('12x4', 'not a date'), ('99999999999999999999', '2025-13-01')) t(v, r))",
            "v",
            "r",
        )
    ).fetchall()
    assert [row[1] for row in rows] == ["format", "length"]


def test_plus_form_in_the_year_of_the_100th_birthday(con: duckdb.DuckDBPyConnection) -> None:
    plus = f"{TURNS_100[2:8]}+{TURNS_100[8:]}"
    dash = f"{TURNS_100[2:8]}-{TURNS_100[8:]}"
    rows = _run_sql(con, [(plus, dt.date(2025, 6, 1)), (dash, dt.date(2025, 6, 1))])
    assert [row["pnr_normalised"] for row in rows] == [TURNS_100, TURNS_100]


@settings(max_examples=100, deadline=None)
@given(st.lists(hundredth_year_numbers(), min_size=1, max_size=20))
def test_sql_agrees_in_the_hundredth_year(
    con: duckdb.DuckDBPyConnection, cases: list[tuple[str, dt.date]]
) -> None:
    rows = [(f"{n[2:8]}{sep}{n[8:]}", ref) for n, ref in cases for sep in ("+", "-", "")]
    _assert_agree(con, rows)
    assert [row["pnr_normalised"] for row in _run_sql(con, rows)][::3] == [n for n, _ in cases]
