"""Random register histories for the stage-4 tests, written as stage 3 writes them."""

from __future__ import annotations

import random
from collections.abc import Sequence

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.core.digest import sha256_of
from pipelines.core.schemas import code_table, codes
from pipelines.core.settings import Paths
from pipelines.stage3_register.register import DIGEST_FILE, REGISTER_FILE

MUNICIPALITIES = ["0114", "0180", "0380", "1280", "1281", "2584"]
# Municipalities whose extracts lack contract v2's feedback column (their feedback is unknown).
NOT_REPORTING_FEEDBACK = {"1281", "2584"}


def professional_groups() -> set[str]:
    return {g["code"] for g in code_table("reporter_groups").to_pylist() if g["professional"] == "true"}


def random_register(seed: int, n: int) -> pd.DataFrame:
    rng = random.Random(seed)
    groups = codes("cause_groups")
    rows = []
    for i in range(n):
        identified = rng.random() > 0.1
        outcome = rng.choice(["inleds", "inleds_ej", "pagaende", "ej_beslutat"])
        decided = outcome in ("inleds", "inleds_ej")
        municipality = rng.choice(MUNICIPALITIES)
        rows.append(
            {
                "municipality_code": municipality,
                "county_code": municipality[:2],
                "report_id": f"R{i}",
                "child_pseudonym": f"p{rng.randrange(n // 2 + 1)}" if identified else None,
                "child_identified": identified,
                "age_band": rng.choice(codes("age_bands")) if identified else None,
                "legal_sex": rng.choice(["1", "2"]) if identified else None,
                "month_received": pd.Timestamp(2025, rng.randint(1, 3), 1).date(),
                "date_received": None,  # set below from month_received
                "reporter_group": rng.choice(codes("reporter_groups")),
                "cause_groups": sorted(rng.sample(groups, rng.randint(1, 3))),
                "outcome": outcome,
                "decided": decided,
                "days_to_decision": rng.randint(0, 30) if decided else None,
            }
        )
        rows[-1]["date_received"] = rows[-1]["month_received"] + pd.Timedelta(days=rng.randint(0, 27))
    return _with_feedback(pd.DataFrame(rows), random.Random(seed + 1))


def _with_feedback(register: pd.DataFrame, rng: random.Random) -> pd.DataFrame:
    """Contract v2's feedback columns, drawn from a stream of their own (the other columns stay as they were)."""
    delivered = ~register.municipality_code.isin(NOT_REPORTING_FEEDBACK)
    days = [
        rng.randint(0, 20) if ok and decided and rng.random() < 0.7 else None
        for ok, decided in zip(delivered, register.decided, strict=True)
    ]
    feedback = [
        None if d is None else received + pd.Timedelta(days=int(t) + d)
        for d, received, t in zip(days, register.date_received, register.days_to_decision, strict=True)
    ]
    return register.assign(
        professional_reporter=register.reporter_group.isin(professional_groups()),
        feedback_delivered=delivered,
        feedback_date=pd.array(feedback, dtype="object"),
        days_decision_to_feedback=pd.array(days, dtype="Int64"),
    )


ACROSS_YEARS = ("2024-10", "2024-11", "2024-12", "2025-01", "2025-02")


def history_across_years(seed: int, n: int, months: Sequence[str] = ACROSS_YEARS) -> pd.DataFrame:
    """Reports received in ``months`` (October 2024 – February 2025 unless given), each in the extract of
    its month and perhaps again in a later one (decision arrived; sometimes a corrected reporter group
    or age band)."""
    rng = random.Random(seed)
    entries = []
    for report in random_register(seed, n).to_dict("records"):
        first = rng.randrange(len(months))
        year, month = map(int, months[first].split("-"))
        received = pd.Timestamp(year, month, 1).date()
        report |= {
            "month_received": received,
            "date_received": received + pd.Timedelta(days=rng.randint(0, 27)),
        }
        if first + 1 < len(months) and rng.random() < 0.15:
            first += 1  # registered late: first in the next month's extract
        entries.append({**report, "valid_from": months[first], "outcome": "ej_beslutat", "decided": False})
        if first + 1 < len(months) and rng.random() < 0.7:
            later = {**report, "valid_from": months[rng.randint(first + 1, min(first + 3, len(months) - 1))]}
            if rng.random() < 0.1:
                later["reporter_group"] = rng.choice(codes("reporter_groups"))
            entries.append(later)
    return pd.DataFrame(entries)


def write_partitions(home: Paths, entries: pd.DataFrame) -> None:
    """One register partition per extract month, each with its digest as stage 3 writes it."""
    for month, part in entries.groupby("valid_from"):
        folder = home.register / f"extract_month={month}"
        folder.mkdir(parents=True, exist_ok=True)
        pq.write_table(register_table(part), folder / REGISTER_FILE)
        (folder / DIGEST_FILE).write_text(sha256_of(folder / REGISTER_FILE))


def register_table(frame: pd.DataFrame) -> pa.Table:
    """Register entries as Arrow, with the types stage 3 writes where a column may be all empty (a month
    without any feedback date would otherwise be of Arrow's null type, which other months cannot join)."""
    if "feedback_delivered" not in frame:  # a register from before contract v2: feedback unknown
        frame = frame.assign(
            professional_reporter=frame.reporter_group.isin(professional_groups()),
            feedback_delivered=False,
            feedback_date=None,
            days_decision_to_feedback=pd.array([None] * len(frame), dtype="Int64"),
        )
    table = pa.Table.from_pandas(frame, preserve_index=False)
    if "feedback_date" in table.column_names:
        at = table.column_names.index("feedback_date")
        table = table.set_column(at, "feedback_date", table.column(at).cast(pa.date32()))
    return table
