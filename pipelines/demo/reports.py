"""Children and their reports: arrival dates, reporters, causes, outcomes, decision dates, siblings and movers.

Part of the demo generator; how it works and why: pipelines/demo/generator.py."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipelines.demo import variation
from pipelines.demo.dates import _age, _days, _from_ymd, _ymd
from pipelines.demo.population import _DEFAULT_WEIGHT

REPORTS_PER_CHILD = 1.9


BOYS_SHARE = 0.55


TEEN_WEIGHT = 1.3  # ages 13-17 weighted so that about two thirds of reports concern children 0-12


COORDINATION_SHARE = 0.015


UNIDENTIFIED_SHARE = 0.03


SIBLING_SHARE = 0.12  # share of children whose first report is a sibling report of the previous child


MOVER_SHARE = 0.02  # share of children with 2+ reports whose last report is made in another municipality


DECIDED = ("inleds", "inleds_ej")


REPORTER_WEIGHTS = {
    "POL": 18, "SKO": 28, "FSK": 12, "HSV": 8, "BUP": 4, "BVC": 5, "TAN": 1, "SOC": 10, "MYN": 4,
    "OVA": 1, "PRV": 3, "IDE": 1, "PRI": 12, "BAR": 2, "ANO": 5, "OVR": 3,
}  # fmt: skip


# A code split off an older one (rolls_up_to in codes/reporters.csv: the seven authorities with a duty to
# report from 2026-01-15, split from "other authority") takes this share of the older code's reports once
# it is valid. Drawn apart from the main draw, so that years before the split are generated as before.
ROLLED_UP_SHARE = {"FKA": 0.2, "AFM": 0.15, "SKV": 0.05, "LST": 0.05, "KFM": 0.05, "TUL": 0.02, "KBV": 0.01}


REPORTER_AGES = {"FSK": (1, 6), "SKO": (6, 17), "BVC": (0, 5)}  # who can report a child of which age


# Primary-cause group by age band (0-5, 6-12, 13-17): overall about 20/39/33/8 %.
CAUSE_GROUP_WEIGHTS = {
    "vald": (0.22, 0.22, 0.17),
    "foralder": (0.60, 0.40, 0.20),
    "barnet": (0.08, 0.30, 0.57),
    "ovrigt": (0.10, 0.08, 0.06),
}


EXTRA_CAUSES = (0.75, 0.18, 0.07)  # share of reports with 1, 2, 3 causes


@dataclass
class _Children:
    home: np.ndarray  # municipality index
    birth: np.ndarray  # days since 1970
    boy: np.ndarray
    coordination: np.ndarray
    nnn: np.ndarray  # birth number 1-999, parity = legal sex
    n_reports: np.ndarray


def _children(rng: np.random.Generator, expected_reports: np.ndarray, year: int) -> _Children:
    per_muni = rng.poisson(expected_reports / REPORTS_PER_CHILD)
    home = np.repeat(np.arange(len(expected_reports)), per_muni)
    n = len(home)
    age_weights = np.where(np.arange(18) >= 13, TEEN_WEIGHT, 1.0)
    age = rng.choice(18, size=n, p=age_weights / age_weights.sum())
    # Birth dates so that the age on 1 July is `age`.
    birth = _days(f"{year}-07-01") - np.floor((age + rng.random(n)) * 365.25).astype(np.int64)
    boy = rng.random(n) < BOYS_SHARE
    coordination = rng.random(n) < COORDINATION_SHARE
    n_reports = rng.geometric(1 / REPORTS_PER_CHILD, size=n)
    return _Children(home, birth, boy, coordination, _birth_numbers(rng, birth, boy, coordination), n_reports)


def _birth_numbers(
    rng: np.random.Generator, birth: np.ndarray, boy: np.ndarray, coord: np.ndarray
) -> np.ndarray:
    """Birth numbers unique per (birth date, sex, number kind), so no two children share a number."""
    group = (birth * 2 + boy) * 2 + coord
    order = np.lexsort((rng.random(len(group)), group))
    sorted_group = group[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_group)) + 1]
    rank = np.arange(len(group)) - np.repeat(starts, np.diff(np.r_[starts, len(group)]))
    offset = rng.integers(0, 499, size=len(starts))
    slot = np.empty(len(group), dtype=np.int64)
    slot[order] = (np.repeat(offset, np.diff(np.r_[starts, len(group)])) + rank) % 499
    odd = np.array([1, 3, 5, 7, 9])
    even = np.array([2, 4, 6, 8, 0])
    # Girls: slot 4 would give 000; 499 slots per sex, skipping that one.
    slot = np.where(boy, slot, slot + (slot >= 4))
    return (slot // 5) * 10 + np.where(boy, odd[slot % 5], even[slot % 5])


@dataclass
class _Reports:
    child: np.ndarray
    muni: np.ndarray
    received: np.ndarray  # days since 1970
    reporter: np.ndarray  # index into reporter codes
    causes: np.ndarray  # (n, 3) indices into cause codes, -1 = none
    outcome: np.ndarray  # index into OUTCOME codes (final state)
    decision: np.ndarray  # days since 1970, -1 = none
    unidentified: np.ndarray
    sibling: np.ndarray
    mover: np.ndarray


def _reports(
    rng: np.random.Generator,
    kids: _Children,
    year: int,
    codes: dict[str, list[str]],
    split: np.random.Generator,
    prof: variation.Profile,
) -> _Reports:
    child = np.repeat(np.arange(len(kids.home)), kids.n_reports)
    received = _report_dates(rng, kids, child, year)
    age = _age(kids.birth[child], received)
    n = len(child)
    muni = kids.home[child]
    outcome = _draw_outcomes(rng, prof.investigation_rate[muni], codes["outcome"])
    reports = _Reports(
        child=child,
        muni=muni.copy(),
        received=received,
        reporter=_draw_reporters(rng, age, received, codes, split),
        causes=_draw_causes(rng, age, codes),
        outcome=outcome,
        decision=_decision_dates(rng, received, outcome, codes["outcome"], prof.within_deadline[muni]),
        unidentified=rng.random(n) < UNIDENTIFIED_SHARE,
        sibling=np.zeros(n, dtype=bool),
        mover=np.zeros(n, dtype=bool),
    )
    _plant_siblings(rng, reports, kids)
    _move_some(rng, reports, kids)
    return reports


def _report_dates(rng: np.random.Generator, kids: _Children, child: np.ndarray, year: int) -> np.ndarray:
    """A month by the season (settings.yaml demo.synthetic.seasonality), a day uniform in it; a date
    outside the part of the year when the child is born and not yet 18 is drawn again uniformly in that
    part (newborns and 17-year-olds: a small share). Sorted per child."""
    by, bm, bd = _ymd(kids.birth)
    eighteen = _from_ymd(by + 18, bm, bd)
    lo = np.maximum(kids.birth, _days(f"{year}-01-01"))[child]
    hi = np.minimum(eighteen - 2, _days(f"{year}-12-31"))[child]
    n = len(child)
    month = rng.choice(12, size=n, p=variation.month_weights(year, _school_share())) + 1
    first = _from_ymd(np.full(n, year), month, np.ones(n, dtype=np.int64))
    length = _from_ymd(np.full(n, year + month // 12), month % 12 + 1, np.ones(n, dtype=np.int64)) - first
    dates = first + np.floor(rng.random(n) * length).astype(np.int64)
    uniform = lo + np.floor(rng.random(n) * (hi - lo + 1)).astype(np.int64)
    dates = np.where((dates < lo) | (dates > hi), uniform, dates)
    return dates[np.lexsort((dates, child))]


def _school_share() -> float:
    """The school reporters' share of the reporter weights: how much their summer dip moves the total."""
    school = sum(REPORTER_WEIGHTS.get(c, 0) for c in variation.school_reporters())
    return school / sum(REPORTER_WEIGHTS.values())


def _draw_outcomes(
    rng: np.random.Generator, investigation_rate: np.ndarray, outcome_codes: list[str]
) -> np.ndarray:
    """Final state of each report: a share already under investigation (no decision), the rest opened
    with the municipality's investigation rate, or not opened."""
    u = rng.random(len(investigation_rate))
    pending = variation.synthetic()["pending_share"]
    out = np.full(len(u), outcome_codes.index("inleds_ej"))
    out[u < pending + (1 - pending) * investigation_rate] = outcome_codes.index("inleds")
    out[u < pending] = outcome_codes.index("pagaende")
    return out


def _band(age: np.ndarray) -> np.ndarray:
    return np.searchsorted([6, 13], age, side="right")


def _draw_reporters(
    rng: np.random.Generator,
    age: np.ndarray,
    received: np.ndarray,
    codes: dict[str, list[str]],
    split: np.random.Generator,
) -> np.ndarray:
    reporters = codes["reporter"]
    weights = np.array([REPORTER_WEIGHTS.get(c, _DEFAULT_WEIGHT) for c in reporters], dtype=float)
    weights[[bool(up) for up in codes["reporter_rolls_up_to"]]] = 0.0  # drawn by _split_rolled_up
    valid_from = np.array([_days(v) if v else -(10**9) for v in codes["reporter_valid_from"]])
    valid_to = np.array([_days(v) if v else 10**9 for v in codes["reporter_valid_to"]])
    out = np.empty(len(age), dtype=np.int64)
    # School and preschool report less in the summer holidays: their weight follows the month.
    school = np.isin(reporters, list(variation.school_reporters()))
    _, month, _ = _ymd(received)
    group = age * 12 + (month - 1)
    order = np.argsort(group, kind="stable")
    bounds = np.searchsorted(group[order], np.arange(18 * 12 + 1))
    for g in range(18 * 12):  # one draw per (age, month) group, never per row
        a, m = divmod(g, 12)
        allowed = [lo <= a <= hi for lo, hi in (REPORTER_AGES.get(c, (0, 17)) for c in reporters)]
        w = weights * np.array(allowed) * np.where(school, variation.school_factor()[m], 1.0)
        rows = order[bounds[g] : bounds[g + 1]]
        out[rows] = rng.choice(len(reporters), size=len(rows), p=w / w.sum())
    # A category not yet (or no longer) valid on the report date is redrawn among always-valid ones.
    stale = (received < valid_from[out]) | (received > valid_to[out])
    always = (valid_from < -(10**8)) & (valid_to > 10**8)
    w = weights * always
    out[stale] = rng.choice(len(reporters), size=int(stale.sum()), p=w / w.sum())
    _split_rolled_up(split, out, received, codes)
    return out


def _split_rolled_up(
    rng: np.random.Generator, out: np.ndarray, received: np.ndarray, codes: dict[str, list[str]]
) -> None:
    """Give each code split off an older one its share of the older code's reports from its valid_from."""
    reporters = codes["reporter"]
    for i, (code, up, start) in enumerate(
        zip(reporters, codes["reporter_rolls_up_to"], codes["reporter_valid_from"], strict=True)
    ):
        if not up:
            continue
        candidates = (out == reporters.index(up)) & (received >= (_days(start) if start else -(10**9)))
        chosen = candidates & (rng.random(len(out)) < ROLLED_UP_SHARE.get(code, 0.05))
        out[chosen] = i


def _draw_causes(rng: np.random.Generator, age: np.ndarray, codes: dict[str, list[str]]) -> np.ndarray:
    cause_group = np.array(codes["cause_group"])
    groups = codes["cause_groups"]
    band = _band(age)
    n, k = len(age), len(cause_group)
    first = np.empty(n, dtype=np.int64)
    for b in range(3):
        gw = np.array([CAUSE_GROUP_WEIGHTS.get(g, (_DEFAULT_WEIGHT,) * 3)[b] for g in groups])
        # Equal weight for every sub-cause inside its group.
        per_group = {g: int((cause_group == g).sum()) for g in groups}
        w = np.array([gw[groups.index(g)] / per_group[g] for g in cause_group])
        mask = band == b
        first[mask] = rng.choice(k, size=int(mask.sum()), p=w / w.sum())
    how_many = rng.choice(3, size=n, p=EXTRA_CAUSES) + 1
    second = (first + 1 + rng.integers(0, k - 1, size=n)) % k  # never equal to first
    lo, hi = np.minimum(first, second), np.maximum(first, second)
    third = rng.integers(0, k - 2, size=n)
    third = third + (third >= lo)
    third = third + (third >= hi)  # skips both earlier causes
    causes = np.stack([first, np.where(how_many >= 2, second, -1), np.where(how_many >= 3, third, -1)], 1)
    return causes


def _decision_dates(
    rng: np.random.Generator,
    received: np.ndarray,
    outcome: np.ndarray,
    outcome_codes: list[str],
    within_deadline: np.ndarray,
) -> np.ndarray:
    """0-14 days for the municipality's share decided in time (most in the second week), a tail to ~40."""
    n = len(received)
    quick = rng.choice(15, size=n, p=_quick_delay_weights())
    slow = rng.integers(15, 41, size=n)
    delay = np.where(rng.random(n) < within_deadline, quick, slow)
    decided = np.isin(outcome, [outcome_codes.index(c) for c in DECIDED])
    return np.where(decided, received + delay, -1)


def _quick_delay_weights() -> np.ndarray:
    w = np.array([2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 9, 8, 8, 7, 6], dtype=float)
    return w / w.sum()


def _plant_siblings(rng: np.random.Generator, reports: _Reports, kids: _Children) -> None:
    """Make a child's first report a copy of the previous child's first report: same date, reporter,
    causes and outcome, another child and its own row (the municipality registers per child)."""
    firsts = np.r_[0, np.cumsum(kids.n_reports)[:-1]]
    cand = np.flatnonzero((np.arange(len(firsts)) > 0) & (rng.random(len(firsts)) < SIBLING_SHARE))
    cand = cand[kids.home[cand] == kids.home[cand - 1]]
    target, source = firsts[cand], firsts[cand - 1]
    by, bm, bd = _ymd(kids.birth[cand])
    ok = (reports.received[source] >= kids.birth[cand]) & (
        reports.received[source] < _from_ymd(by + 18, bm, bd) - 1
    )
    # The copied date must not move before the child's next report (dates stay sorted per child).
    nxt = np.minimum(target + 1, len(reports.received) - 1)
    ok &= (kids.n_reports[cand] == 1) | (reports.received[source] <= reports.received[nxt])
    target, source = target[ok], source[ok]
    for name in ("received", "reporter", "outcome", "decision", "unidentified"):
        getattr(reports, name)[target] = getattr(reports, name)[source]
    reports.causes[target] = reports.causes[source]
    reports.sibling[target] = True
    reports.sibling[source] = True


def _move_some(rng: np.random.Generator, reports: _Reports, kids: _Children) -> None:
    """A few children move: their last report of the year is made in another municipality."""
    lasts = np.cumsum(kids.n_reports) - 1
    movers = np.flatnonzero((kids.n_reports >= 2) & (rng.random(len(lasts)) < MOVER_SHARE))
    n_muni = int(kids.home.max()) + 1 if len(kids.home) else 1
    shift = rng.integers(1, max(n_muni, 2), size=len(movers))
    rows = lasts[movers]
    reports.muni[rows] = (reports.muni[rows] + shift) % max(n_muni, 1)
    reports.mover[rows] = reports.muni[rows] != kids.home[movers]
