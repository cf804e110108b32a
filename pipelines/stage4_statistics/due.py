"""Counts that depend on the extract date: a report counts only once its 14-day deadline has passed.

``statistics.yaml`` names, in ``due_month``, the first extract month by whose end a report's deadline of
the initial assessment has passed; a count with ``due: true`` counts an entry only in the as-of months
from then on. The newest month's share decided within 14 days is then taken over the reports whose 14
days are over (undecided ones counted as not within), not over the quick decisions alone.

The statistics are sums of +1/−1 events over extract months (``compute``). A due count has its own
signs: +1 when an entry becomes current if its deadline has passed by then, else +1 in its due month
(while still current); −1 when it is replaced only if it had been counted. A report's due month is at
most one month after the extract that delivered it, so only entries delivered in the month of a carried
state can become due later without a new entry: they are read again (``touched_sql``).
"""

from __future__ import annotations

from typing import Any

from pipelines.core.schemas import statistics_spec
from pipelines.stage2_pseudonymise.validate import expand

DUE_MONTH = "due_month"
DUE_SIGN = "due_sign"


def due_month_sql() -> str:
    """``due_month`` of statistics.yaml, settings filled in."""
    return expand(statistics_spec()[DUE_MONTH])


def is_due(measure: dict[str, Any]) -> bool:
    return bool(measure.get("due"))


def has_due(table: dict[str, Any]) -> bool:
    measures = table["measures"]
    return any(is_due(m) or is_due(measures.get(m.get("key_sum", ""), {})) for m in measures.values())


def sign(table: dict[str, Any], measure: str) -> str:
    """The event sign a count or key sum of ``table`` sums: ``due_sign`` for a due count (and its twin)."""
    spec = table["measures"][measure]
    counted = table["measures"].get(spec.get("key_sum", ""), spec)
    return DUE_SIGN if is_due(counted) else "sign"


def events_sql(source: str, since: str, current: str) -> tuple[str, str, str]:
    """(extra column of the +1 branch, extra column of the −1 branch, third branch) of ``sql._events``."""
    third = f"""
                UNION ALL BY NAME
                SELECT {DUE_MONTH} AS event_month, 0 AS sign, 1 AS {DUE_SIGN}, * FROM {source}
                WHERE {current} AND {DUE_MONTH} > valid_from AND {DUE_MONTH} > '{since}'
                  AND (valid_to IS NULL OR valid_to > {DUE_MONTH})"""
    return (
        f", ({DUE_MONTH} <= valid_from)::INTEGER AS {DUE_SIGN}",
        f", -(({DUE_MONTH} < valid_to)::INTEGER) AS {DUE_SIGN}",
        third,
    )


def touched_sql(since: str) -> str:
    """The condition, over register entries, of a report that continuing from ``since`` must read again:
    delivered in ``since``'s extract before its deadline passed."""
    return f"(valid_from = '{since}' AND {due_month_sql()} > '{since}')"
