"""Small DuckDB helpers. Library code never uses DuckDB's shared default connection: a result left
unfinished there (``fetchone``) blocks the next query anywhere else in the process."""

from __future__ import annotations

from typing import Any

import duckdb


def connect() -> duckdb.DuckDBPyConnection:
    """An in-memory connection that never spills row data to disk."""
    con = duckdb.connect(":memory:")
    con.execute("SET temp_directory = ''")
    return con


def one(sql: str) -> tuple[Any, ...]:
    """The single row of a query, on a connection of its own."""
    con = connect()
    try:
        return con.execute(sql).fetchall()[0]
    finally:
        con.close()


def rows(sql: str) -> list[tuple[Any, ...]]:
    con = connect()
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()
