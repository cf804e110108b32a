"""Preliminary figures: the as-of month's periods, and periods with more than the spec's share undecided."""

from __future__ import annotations

import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from pipelines.core.schemas import release_spec
from pipelines.stage5_protection import cells as c
from pipelines.stage5_protection.preliminary import flags
from pipelines.stage5_protection.symbols import SUPPRESSED

CALENDAR = c.Calendar("2025-12")
LIMIT = float(release_spec()["preliminary"]["max_undecided_share"])
HIDDEN_MAX = int(release_spec()["rules"]["threshold"])


def outcomes(rows: list[tuple[str, str, int | None, int | None]]) -> pd.DataFrame:
    """An outcomes table: (period type, period, total, undecided); undecided None = hidden (``..``)."""
    out = []
    for i, (period_type, period, total, undecided) in enumerate(rows):
        keys = {"period_type": period_type, "period": period, "geo_code": f"{i:02d}"}
        out.append(keys | {"outcome": "total", "value": total, "status": ""})
        hidden = undecided is None
        out.append(
            keys | {"outcome": "undecided", "value": undecided, "status": SUPPRESSED if hidden else ""}
        )
    return pd.DataFrame(out)


def preliminary(rows: list[tuple[str, str, int | None, int | None]]) -> list[bool]:
    return flags(outcomes(rows), CALENDAR)["preliminary"].tolist()


def test_the_as_of_months_periods_are_preliminary_even_when_all_is_decided() -> None:
    rows = [("month", "2025-12", 1000, 0), ("quarter", "2025-Q4", 3000, 0), ("year", "2025", 9000, 0)]
    assert preliminary(rows) == [True, True, True]


def test_a_few_reports_left_undecided_for_long_do_not_keep_an_old_period_preliminary() -> None:
    few = int(LIMIT * 10_000)  # exactly the limit: not more than it
    rows = [
        ("month", "2024-01", 10_000, few),
        ("month", "2024-02", 10_000, few + 1),
        ("month", "2024-03", 10_000, 0),
    ]
    assert preliminary(rows) == [False, True, False]


def test_a_hidden_undecided_count_is_taken_at_its_largest() -> None:
    small = int(HIDDEN_MAX / LIMIT) - 1  # HIDDEN_MAX of it is over the limit
    large = int(HIDDEN_MAX / LIMIT) + 1
    assert preliminary([("year", "2024", small, None), ("year", "2024", large, None)]) == [True, False]


@given(total=st.integers(1, 100_000), undecided=st.integers(0, 100_000))
def test_preliminary_exactly_when_the_share_is_over_the_limit(total: int, undecided: int) -> None:
    undecided = min(undecided, total)
    assert preliminary([("month", "2024-06", total, undecided)]) == [undecided / total > LIMIT]
