"""Extract rows: report ids, written personnummer (generated, valid Luhn digit) and the planted invalid rows.

Part of the demo generator; how it works and why: pipelines/demo/generator.py."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipelines.demo.dates import _absolute_month
from pipelines.demo.reports import _Reports

INVALID_SHARE = 0.003


UNDECIDED = "ej_beslutat"


INVALID_KINDS = (
    "pnr_check_digit",
    "pnr_impossible_date",
    "pnr_wrong_length",
    "child_age_18_plus",
    "unknown_reporter",
    "unknown_cause",
    "unknown_outcome",
    "decision_before_received",
    "missing_report_id",
    "duplicate_report_id",
    "date_received_outside_period",
)


@dataclass
class _Rows:
    report: np.ndarray  # index into reports
    period: np.ndarray  # extract month, absolute: year * 12 + month - 1
    outcome: np.ndarray  # index into outcome codes, as written in that extract
    decision: np.ndarray  # days, -1 = empty
    received: np.ndarray
    late: np.ndarray  # the second row of a report decided after its arrival month


def _rows(reports: _Reports, codes: dict[str, list[str]]) -> _Rows:
    """The arrival-month row of every report, plus a second row in the decision month if later (which
    may be in the next year: the caller keeps the months it writes)."""
    outcome_codes = codes["outcome"]
    undecided = outcome_codes.index(UNDECIDED)
    arrival = _absolute_month(reports.received)
    decided = reports.decision >= 0
    dec_month = _absolute_month(np.where(decided, reports.decision, reports.received))
    later = decided & (dec_month > arrival)
    first_outcome = np.where(later, undecided, reports.outcome)
    first_decision = np.where(later, -1, reports.decision)
    second = np.flatnonzero(later)
    idx = np.arange(len(arrival))
    return _Rows(
        report=np.r_[idx, second],
        period=np.r_[arrival, dec_month[second]],
        outcome=np.r_[first_outcome, reports.outcome[second]],
        decision=np.r_[first_decision, reports.decision[second]],
        received=np.r_[reports.received, reports.received[second]],
        late=np.r_[np.zeros(len(idx), dtype=bool), np.ones(len(second), dtype=bool)],
    )


def _report_ids(rng: np.random.Generator, reports: _Reports, muni_codes: list[str], year: int) -> np.ndarray:
    """SYNT-<kommun>-<år>-<löpnummer>, numbered per municipality and year in order of arrival, as case
    systems number them: the years of a multi-year demo or benchmark never share a report id (a shared id
    would make a later year's report supersede an earlier one in the register)."""
    order = np.lexsort((rng.random(len(reports.muni)), reports.received, reports.muni))
    m = reports.muni[order]
    starts = np.r_[0, np.flatnonzero(np.diff(m)) + 1]
    seq = np.arange(len(m)) - np.repeat(starts, np.diff(np.r_[starts, len(m)])) + 1
    ids = np.empty(len(m), dtype=object)
    ids[order] = [
        f"SYNT-{muni_codes[a]}-{year}-{b:06d}" for a, b in zip(m.tolist(), seq.tolist(), strict=True)
    ]
    return ids


def _luhn(nine: np.ndarray) -> np.ndarray:
    """Luhn check digit over an (n, 9) digit array, weights 2,1,2,1,... from the left."""
    product = nine * np.array([2, 1, 2, 1, 2, 1, 2, 1, 2])
    return (10 - (product // 10 + product % 10).sum(axis=1) % 10) % 10


def _digits(year: np.ndarray, month: np.ndarray, day: np.ndarray, nnn: np.ndarray) -> np.ndarray:
    """The (n, 12) digits YYYYMMDDNNNC with a correct check digit."""
    cols = [year // 1000, year // 100 % 10, year // 10 % 10, year % 10, month // 10, month % 10]
    cols += [day // 10, day % 10, nnn // 100, nnn // 10 % 10, nnn % 10]
    digits = np.stack(cols, axis=1)
    return np.concatenate([digits, _luhn(digits[:, 2:11])[:, None]], axis=1)


def _pnr_text(digits: np.ndarray, forms: np.ndarray, form_names: list[str], drop: np.ndarray) -> list[str]:
    """Render each row's digits in its written form; ``drop`` removes one digit (wrong length)."""
    as_text = ["".join(map(str, d)) for d in digits.tolist()]
    out = []
    for text, form, short in zip(as_text, forms.tolist(), drop.tolist(), strict=True):
        name = form_names[form]
        body = text if name.startswith("12") else text[2:]
        if short:
            body = body[:-2] + body[-1]
        head, tail = body[:-4], body[-4:]
        if name.endswith("-"):
            out.append(f"{head}-{tail}")
        elif name.endswith("spaced"):
            out.append(f" {head} - {tail} ")
        elif name.endswith("trailing"):
            out.append(f"{body} ")
        else:
            out.append(body)
    return out


def _plant_invalid(
    rng: np.random.Generator, frame: dict[str, np.ndarray], file_key: np.ndarray
) -> dict[str, np.ndarray]:
    """Pick disjoint rows for each kind of defect (at least one of each, so that even a tiny demo has
    every kind); returns kind -> row indices into ``frame``."""
    n = len(file_key)
    per_kind = max(1, round(INVALID_SHARE * n / len(INVALID_KINDS)))
    used = np.zeros(n, dtype=bool)
    identified = ~frame["unidentified"]
    decided = frame["decision"] >= 0
    same_file_as_previous = np.r_[False, file_key[1:] == file_key[:-1]]
    # A duplicated id is one defect only when neither report has a row in another extract as well.
    single = np.bincount(frame["report"])[frame["report"]] == 1 if n else np.zeros(0, dtype=bool)
    pools = {
        "pnr_check_digit": identified,
        "pnr_impossible_date": identified,
        "pnr_wrong_length": identified,
        "child_age_18_plus": identified,
        "decision_before_received": decided,
        "duplicate_report_id": same_file_as_previous & single & np.r_[False, single[:-1]],
        # A date far in the past must not also make the child unborn (one defect per row).
        "date_received_outside_period": frame["unidentified"] | (frame["birth"] < frame["far_past"]),
    }
    chosen: dict[str, np.ndarray] = {}
    for kind in INVALID_KINDS:
        pool = pools.get(kind, np.ones(n, dtype=bool)) & ~used
        if kind == "duplicate_report_id":
            pool = pool & ~np.r_[used[1:], False] & ~np.r_[False, used[:-1]]  # the donor row stays clean
        candidates = np.flatnonzero(pool)
        picked = np.sort(rng.choice(candidates, size=min(per_kind, len(candidates)), replace=False))
        if kind == "duplicate_report_id":
            picked = picked[~np.isin(picked - 1, picked)]  # a donor must keep its own id
        used[picked] = True
        if kind == "duplicate_report_id":
            used[picked - 1] = True
        chosen[kind] = picked
    return chosen
