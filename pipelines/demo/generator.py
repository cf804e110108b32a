"""Deterministic synthetic monthly extracts ("SYNTETISKA DEMODATA") and a synthetic child population.

Everything here is invented: no row describes a real child and every personnummer is generated (valid
Luhn check digit, birth number 001-999), never copied. Report ids carry the prefix ``SYNT-`` and the
population file's title says it is not SCB's statistics, so the files cannot be mistaken for real data.

How it works, and why it is shaped like this:

* The whole nation is always generated in numpy arrays (children -> reports -> extract rows), then the
  requested municipalities are written. The files of a municipality therefore do not depend on which
  other municipalities were asked for; only the planted invalid rows are chosen among the rows actually
  written, so that even a small subset gets every kind of defect.
* A report decided after the end of its arrival month is written twice: as ``ej_beslutat`` in the
  arrival month and again, decided, in the extract of the decision month (the contract's period rule),
  which for a December report may be the next year's January when that year is generated too.
* Several years are generated year by year with random streams of their own, from municipal profiles
  drawn once per seed (``variation.py``): a municipality keeps its size, reports per child, investigation
  rate and speed of decision across the years, and grows with its county. Children do not recur across
  years (each year's children are drawn afresh).
* Delivery incidents (missing, late, re-delivered months) are planted only when asked
  (``irregular_deliveries``), so that tests of one municipality's files see every month.
* Code lists, dialects and municipalities are read from ``schemas/`` at run time. The weights below are
  tuning data keyed on codes; a code without a weight gets ``_DEFAULT_WEIGHT``.
* Same arguments give byte-identical files: separate seeded random streams per purpose, sorted inputs,
  no wall-clock time (the XLSX creation time is fixed).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import multiprocessing as mp
import os
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from pipelines.demo import variation

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"

SYNTHETIC_TITLE = "SYNTETISKA DEMODATA – inte SCB:s statistik. Folkmängd efter region, ålder, kön och år"
# SCB's Statistikdatabasen (PxWeb) "comma-delimited with heading" export is ANSI, i.e. Windows-1252:
# we write the same so that a reader built for the real file reads this one unchanged.
POPULATION_ENCODING = "cp1252"

# Volumes at scale 1.0 (Socialstyrelsen's mappings: 422,000 reports in 2021, ~514,000 in 2024).
REPORTS_PER_YEAR = 500_000
REPORTS_PER_CHILD = 1.9
NATIONAL_CHILDREN = 2_200_000
BIG_CITIES = {"0180": 0.098, "1480": 0.057, "1280": 0.037}  # share of the nation's children
DISTRICTS = ("Stadsdel Norr", "Stadsdel Söder", "Stadsdel Öster", "Stadsdel Väster", "Stadsdel Centrum")
BOYS_SHARE = 0.55
TEEN_WEIGHT = 1.3  # ages 13-17 weighted so that about two thirds of reports concern children 0-12
COORDINATION_SHARE = 0.015
UNIDENTIFIED_SHARE = 0.03
SIBLING_SHARE = 0.12  # share of children whose first report is a sibling report of the previous child
MOVER_SHARE = 0.02  # share of children with 2+ reports whose last report is made in another municipality
INVALID_SHARE = 0.003
DIALECT_SHARES = {"semikolon_utf8": 0.45, "komma_cp1252": 0.40, "xlsx_export": 0.15}
UNDECIDED = "ej_beslutat"
DECIDED = ("inleds", "inleds_ej")
_DEFAULT_WEIGHT = 1.0
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
# Written forms of the number per dialect: (form, weight). Forms are rendered by ``_pnr_text``.
PNR_FORMS = {
    "semikolon_utf8": (("12-", 0.90), ("12", 0.05), ("10-", 0.03), ("12 spaced", 0.02)),
    "komma_cp1252": (("10-", 0.90), ("10", 0.05), ("12-", 0.03), ("10 spaced", 0.02)),
    "xlsx_export": (("12", 0.92), ("12-", 0.04), ("12 trailing", 0.04)),
}
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
UNKNOWN_CODE = {"reporter": "ZZZ", "cause": "X9", "outcome": "avslutad"}
UNKNOWN_WORD = {"reporter": "Fritidsgård", "outcome": "Avslutad"}  # for dialects that write words
XLSX_WORKERS = 2  # processes writing XLSX files in a full run (this machine has two cores)
EXCEL_EPOCH = np.datetime64("1899-12-30", "D")
FIXED_XLSX_TIME = dt.datetime(2000, 1, 1)


@dataclass
class DemoSummary:
    """Aggregate counts of one generation run (never any identifier)."""

    municipalities: int = 0
    years: list[int] = field(default_factory=list)
    files: int = 0
    rows: int = 0
    reports: int = 0
    distinct_children: int = 0
    late_decision_rows: int = 0
    sibling_rows: int = 0
    mover_rows: int = 0
    unidentified_rows: int = 0
    invalid_rows: dict[str, int] = field(default_factory=dict)
    files_per_dialect: dict[str, int] = field(default_factory=dict)
    # Municipality-months with no file: planted incidents, and months in which a small municipality
    # received no report (a file needs at least one row, so such a month also shows as not delivered).
    deliveries: variation.Deliveries = field(default_factory=variation.Deliveries)
    months_without_reports: int = 0

    def lines(self) -> list[str]:
        out = [f"years: {', '.join(map(str, self.years))}"]
        out += [f"{name}: {getattr(self, name)}" for name in _SCALAR_FIELDS]
        out.append(f"invalid_rows: {sum(self.invalid_rows.values())}")
        out += [f"  {kind}: {n}" for kind, n in self.invalid_rows.items()]
        out += [f"files[{name}]: {n}" for name, n in self.files_per_dialect.items()]
        for kind in ("missing", "late", "redelivered"):
            out.append(f"deliveries[{kind}]: {', '.join(self.deliveries.names(kind)) or '-'}")
        out.append(f"months_without_reports: {self.months_without_reports}")
        return out


_SCALAR_FIELDS = (
    "municipalities", "files", "rows", "reports", "distinct_children", "late_decision_rows",
    "sibling_rows", "mover_rows", "unidentified_rows",
)  # fmt: skip


# --------------------------------------------------------------------------------------------------
# schemas


def _read_csv(relative: str) -> list[dict[str, str]]:
    with (SCHEMAS / relative).open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def load_dialects() -> dict[str, dict[str, Any]]:
    """Every dialect YAML by name, in file-name order (a stable order for the assignment)."""
    found = {}
    for path in sorted((SCHEMAS / "dialects").glob("*.yaml")):
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
        found[spec["dialect"]] = spec
    return found


def contract_fields() -> list[str]:
    spec = yaml.safe_load((SCHEMAS / "extract_contract_v1.yaml").read_text(encoding="utf-8"))
    return list(spec["fields"])


def municipalities() -> list[tuple[str, str]]:
    """(code, short name) of every municipality, sorted by code."""
    rows = _read_csv("reference/municipalities.csv")
    return sorted((r["municipality_code"], r["municipality_name_short"]) for r in rows)


def _rng(seed: int, purpose: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, purpose]))


# --------------------------------------------------------------------------------------------------
# population


def municipality_sizes(seed: int, year: int | None = None) -> dict[str, int]:
    """Children 0-17 per municipality: heavy-tailed, the three big cities largest, ~2.2 million in the
    reference year (settings.yaml demo.synthetic); other years follow their county's population trend."""
    codes = [c for c, _ in municipalities()]
    rng = _rng(seed, 1)
    others = [c for c in codes if c not in BIG_CITIES]
    rest_total = NATIONAL_CHILDREN * (1 - sum(BIG_CITIES.values()))
    # A county seat is larger than its rural neighbours (size factor by SCB code), with wide spread.
    draw = rng.lognormal(mean=0.0, sigma=0.9, size=len(others)) * variation.size_factors(others)
    sizes = np.maximum(draw / draw.sum() * rest_total, variation.synthetic()["min_children"])
    cap = 0.8 * min(BIG_CITIES.values()) * NATIONAL_CHILDREN  # keep the big three on top
    sizes = np.minimum(sizes, cap)
    out = {c: round(s) for c, s in zip(others, sizes, strict=True)}
    jitter = rng.uniform(0.97, 1.03, size=len(BIG_CITIES))
    for (code, share), j in zip(sorted(BIG_CITIES.items()), jitter, strict=True):
        out[code] = round(share * j * NATIONAL_CHILDREN)
    if year is None or year == variation.reference_year():
        return {c: out[c] for c in codes}
    trend = variation.population_trend(seed, codes, year)
    return {c: round(out[c] * t) for c, t in zip(codes, trend.tolist(), strict=True)}


def population_cells(seed: int, year: int | None = None) -> dict[str, np.ndarray]:
    """Per municipality an 18 x 2 array (age 0-17, boys/girls) summing to its size in ``year``."""
    ref = year is None or year == variation.reference_year()
    rng = _rng(seed, 5) if ref else np.random.default_rng(np.random.SeedSequence([seed, 5, year]))
    ages = np.linspace(1.03, 0.97, 18)  # slightly more young children than teenagers
    probs = np.outer(ages / ages.sum(), [0.513, 0.487]).ravel()
    return {
        code: rng.multinomial(size, probs).reshape(18, 2)
        for code, size in municipality_sizes(seed, year).items()
    }


def generate_population(
    out_path: Path, year: int | Sequence[int], seed: int, municipality_codes: Sequence[str] | None = None
) -> Path:
    """Write the synthetic population in the shape of SCB's BE0101A/BefolkningNy CSV export.

    Layout as PxWeb exports it: a quoted title line, an empty line, then the header
    ``"region","ålder","kön","<year>",...`` with one Folkmängd column per year. Windows-1252, CRLF.
    """
    years = sorted({year} if isinstance(year, int) else set(year))
    cells = {y: population_cells(seed, y) for y in years}
    names = dict(municipalities())
    wanted = _select_codes(municipality_codes)
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, quoting=csv.QUOTE_NONNUMERIC, lineterminator="\r\n")
    writer.writerow([SYNTHETIC_TITLE])
    buf.write("\r\n")
    writer.writerow(["region", "ålder", "kön", *map(str, years)])
    for code in wanted:
        for age in range(18):
            for sex_index, sex in enumerate(("män", "kvinnor")):
                values = [int(cells[y][code][age, sex_index]) for y in years]
                writer.writerow([f"{code} {names[code]}", f"{age} år", sex, *values])
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_bytes(buf.getvalue().encode(POPULATION_ENCODING))
    return out_path


def _select_codes(municipality_codes: Sequence[str] | None) -> list[str]:
    known = [c for c, _ in municipalities()]
    if municipality_codes is None:
        return known
    unknown = sorted(set(municipality_codes) - set(known))
    if unknown:
        raise ValueError(f"unknown municipality codes: {', '.join(unknown)}")
    return sorted(set(municipality_codes))


def assign_dialects(seed: int) -> dict[str, str]:
    """One dialect per municipality, by number of municipalities ~45/40/15 %."""
    codes = [c for c, _ in municipalities()]
    names = list(load_dialects())
    shares = np.array([DIALECT_SHARES.get(n, _DEFAULT_WEIGHT / len(names)) for n in names])
    counts = np.floor(shares / shares.sum() * len(codes) + 0.5).astype(int)
    counts[-1] = len(codes) - counts[:-1].sum()
    order = _rng(seed, 2).permutation(len(codes))
    labels = np.repeat(np.arange(len(names)), counts)
    return {codes[i]: names[labels[k]] for k, i in enumerate(order)}


# --------------------------------------------------------------------------------------------------
# dates


def _days(value: str | dt.date) -> int:
    return int(np.datetime64(value, "D").astype(np.int64))


def _ymd(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    d = days.astype("datetime64[D]")
    months = d.astype("datetime64[M]").astype(np.int64)
    year = months // 12 + 1970
    month = months % 12 + 1
    day = (d - d.astype("datetime64[M]").astype("datetime64[D]")).astype(np.int64) + 1
    return year, month, day


def _from_ymd(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Days since 1970 of (year, month, day); day 29 Feb in a common year rolls to 1 March."""
    first = ((year - 1970) * 12 + month - 1).astype("datetime64[M]").astype("datetime64[D]")
    return first.astype(np.int64) + day - 1


def _age(birth: np.ndarray, on: np.ndarray) -> np.ndarray:
    by, bm, bd = _ymd(birth)
    oy, om, od = _ymd(on)
    return oy - by - ((om * 100 + od) < (bm * 100 + bd))


# --------------------------------------------------------------------------------------------------
# children and reports


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


# --------------------------------------------------------------------------------------------------
# extract rows


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


def _absolute_month(days: np.ndarray) -> np.ndarray:
    """year * 12 + month - 1 of each day number: months of several years in one sortable integer."""
    year, month, _ = _ymd(days)
    return year * 12 + month - 1


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


# --------------------------------------------------------------------------------------------------
# personnummer


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


# --------------------------------------------------------------------------------------------------
# invalid rows


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


# --------------------------------------------------------------------------------------------------
# writing


def _date_text(days: np.ndarray, fmt: str) -> np.ndarray:
    """Dates as text in the dialect's format, via a lookup over the distinct days (fast)."""
    unique, inverse = np.unique(days, return_inverse=True)
    table = np.array(
        ["" if d < 0 else (dt.date(1970, 1, 1) + dt.timedelta(days=int(d))).strftime(fmt) for d in unique],
        dtype=object,
    )
    return table[inverse]


def _cause_text(causes: np.ndarray, cause_codes: list[str], sep: str) -> np.ndarray:
    key = (causes[:, 0] + 1) * 10_000 + (causes[:, 1] + 1) * 100 + (causes[:, 2] + 1)
    _unique, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    table = np.array([sep.join(cause_codes[c] for c in causes[i] if c >= 0) for i in first], dtype=object)
    return table[inverse]


def _words(dialect: dict[str, Any], column: str, codes: list[str]) -> list[str]:
    """Code -> what the dialect writes: the word from its value map, else the code itself."""
    inverse = {code: word for word, code in dialect.get("values", {}).get(column, {}).items()}
    return [inverse.get(c, c) for c in codes]


def _write_csv(path: Path, dialect: dict[str, Any], header: list[str], columns: list[list[Any]]) -> None:
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, delimiter=dialect["delimiter"], lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(zip(*columns, strict=True))
    path.write_bytes(buf.getvalue().encode(dialect["encoding"]))


def _write_xlsx(
    path: Path, sheet_name: str, header: list[str], columns: list[list[Any]], date_cols: set[int]
) -> None:
    import xlsxwriter

    book = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    book.set_properties(
        {"title": "SYNTETISKA DEMODATA", "author": "orostat demo", "created": FIXED_XLSX_TIME}
    )
    date_format = book.add_format({"num_format": "yyyy-mm-dd"})
    sheet = book.add_worksheet(sheet_name)
    for c, name in enumerate(header):
        sheet.write_string(0, c, name)
    for r, row in enumerate(zip(*columns, strict=True), start=1):
        for c, value in enumerate(row):
            if c in date_cols:
                if value >= 0:
                    sheet.write_number(r, c, value, date_format)
            elif value:
                sheet.write_string(r, c, value)  # text cells, also for digits (personnummer, kommunkod)
    book.close()


# --------------------------------------------------------------------------------------------------
# main entry


def _frame(
    rows: _Rows,
    reports: _Reports,
    kids: _Children,
    report_ids: np.ndarray,
    order: np.ndarray,
    muni: np.ndarray,
) -> dict[str, np.ndarray]:
    """The written rows (in file order) as plain arrays, with the child's identity still logical."""
    rep = rows.report[order]
    child = reports.child[rep]
    birth = kids.birth[child]
    by, bm, bd = _ymd(birth)
    day = bd + np.where(kids.coordination[child], 60, 0)  # samordningsnummer: day + 60
    return {
        "muni": muni[order],
        "period": rows.period[order],
        "report": rep,
        "child": child,
        "report_id": report_ids[rep].copy(),
        "received": rows.received[order].copy(),
        "decision": rows.decision[order].copy(),
        "outcome": rows.outcome[order],
        "reporter": reports.reporter[rep],
        "causes": reports.causes[rep],
        "unidentified": reports.unidentified[rep],
        "late": rows.late[order],
        "sibling": reports.sibling[rep],
        "mover": reports.mover[rep],
        "district": child % len(DISTRICTS),
        "birth": birth,
        "far_past": rows.received[order] - 6 * 365 - 30,  # about six years before: outside any lookback
        "pnr": _digits(by, bm, day, kids.nnn[child]),
        "pnr_short": np.zeros(len(order), dtype=bool),
    }


def _apply_invalid(
    rng: np.random.Generator, frame: dict[str, np.ndarray], invalid: dict[str, np.ndarray]
) -> None:
    """Plant the logical defects; the ones that are about written text (unknown codes) are applied when
    the dialect's text is made, in ``_dialect_columns``."""
    pnr = frame["pnr"]
    rows = invalid["pnr_check_digit"]
    pnr[rows, 11] = (pnr[rows, 11] + rng.integers(1, 10, size=len(rows))) % 10
    rows = invalid["pnr_impossible_date"]
    pnr[rows, 4], pnr[rows, 5] = 1, 3  # month 13, check digit recomputed so only the date is wrong
    pnr[rows, 11] = _luhn(pnr[rows, 2:11])
    frame["pnr_short"][invalid["pnr_wrong_length"]] = True
    rows = invalid["child_age_18_plus"]
    born = frame["received"][rows] - (18 * 365 + 5) - rng.integers(0, 700, size=len(rows))
    y, m, d = _ymd(born)
    pnr[rows] = _digits(y, m, d, pnr[rows, 8] * 100 + pnr[rows, 9] * 10 + pnr[rows, 10])
    rows = invalid["decision_before_received"]
    frame["decision"][rows] = frame["received"][rows] - rng.integers(1, 11, size=len(rows))
    frame["report_id"][invalid["missing_report_id"]] = ""
    rows = invalid["duplicate_report_id"]
    frame["report_id"][rows] = frame["report_id"][rows - 1]
    rows = invalid["date_received_outside_period"]
    frame["received"][rows] = frame["far_past"][rows]


def _summary(
    frame: dict[str, np.ndarray], invalid: dict[str, np.ndarray], n_municipalities: int
) -> DemoSummary:
    identified = ~frame["unidentified"]
    return DemoSummary(
        municipalities=n_municipalities,
        years=sorted({int(p) // 12 for p in np.unique(frame["period"]).tolist()}),
        rows=len(frame["report"]),
        reports=len(np.unique(frame["report"])),
        distinct_children=len(np.unique(frame["child"][identified])),
        late_decision_rows=int(frame["late"].sum()),
        sibling_rows=int(frame["sibling"].sum()),
        mover_rows=int(frame["mover"].sum()),
        unidentified_rows=int(frame["unidentified"].sum()),
        invalid_rows={kind: len(rows) for kind, rows in invalid.items()},
    )


def _dialect_columns(
    rng: np.random.Generator,
    frame: dict[str, np.ndarray],
    sel: np.ndarray,
    dialect: dict[str, Any],
    invalid: dict[str, np.ndarray],
    codes: dict[str, list[str]],
    muni_codes: list[str],
) -> dict[str, np.ndarray]:
    """The contract fields of rows ``sel`` as the dialect writes them (dates stay day numbers for XLSX)."""
    name = dialect["dialect"]
    forms = PNR_FORMS.get(name, (("12-", 1.0),))
    weights = np.array([w for _, w in forms])
    form = rng.choice(len(forms), size=len(sel), p=weights / weights.sum())
    pnr = np.array(
        _pnr_text(frame["pnr"][sel], form, [f for f, _ in forms], frame["pnr_short"][sel]), dtype=object
    )
    pnr[frame["unidentified"][sel]] = ""
    muni = np.array(muni_codes, dtype=object)[frame["muni"][sel]]
    big = np.isin(muni, list(BIG_CITIES))
    org = np.where(big, np.array(DISTRICTS, dtype=object)[frame["district"][sel]], "")
    cols = {
        "municipality_code": muni,
        "report_id": frame["report_id"][sel],
        "personal_number": pnr,
        "reporter": np.array(_words(dialect, "reporter", codes["reporter"]), dtype=object)[
            frame["reporter"][sel]
        ],
        "causes": _cause_text(frame["causes"][sel], codes["cause"], dialect["list_separator"]),
        "outcome": np.array(_words(dialect, "outcome", codes["outcome"]), dtype=object)[
            frame["outcome"][sel]
        ],
        "org_unit": org.astype(object),
    }
    for column in ("date_received", "decision_date"):
        days = frame["received" if column == "date_received" else "decision"][sel]
        if dialect["format"] == "xlsx":
            cols[column] = np.where(days >= 0, days - EXCEL_EPOCH.astype(np.int64), -1)
        else:
            cols[column] = _date_text(days, dialect["date_formats"][0])
    _text_defects(cols, sel, dialect, invalid)
    return cols


def _text_defects(
    cols: dict[str, np.ndarray], sel: np.ndarray, dialect: dict[str, Any], invalid: dict[str, np.ndarray]
) -> None:
    """Unknown reporter, cause and outcome, written the way the dialect writes that column."""
    for kind, column in (("unknown_reporter", "reporter"), ("unknown_outcome", "outcome")):
        uses_words = bool(dialect.get("values", {}).get(column))
        cols[column][_positions(sel, invalid[kind])] = (
            UNKNOWN_WORD[column] if uses_words else UNKNOWN_CODE[column]
        )
    sep = dialect["list_separator"]
    for i in _positions(sel, invalid["unknown_cause"]).tolist():  # a few rows: the planted ones
        cols["causes"][i] = sep.join([*cols["causes"][i].split(sep)[:-1], UNKNOWN_CODE["cause"]])


def _positions(sel: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Where the rows that ``sel`` (sorted) holds are in it: a lookup by binary search, not a dict per row."""
    at = np.searchsorted(sel, rows)
    found = (at < len(sel)) & (sel[np.minimum(at, len(sel) - 1)] == rows)
    return at[found]


def _write_files(
    out_dir: Path,
    frame: dict[str, np.ndarray],
    invalid: dict[str, np.ndarray],
    codes: dict[str, list[str]],
    muni_codes: list[str],
    dialect_of: dict[str, str],
    seed: int,
    deliveries: variation.Deliveries,
) -> dict[str, int]:
    """One file per municipality and month (two for a re-delivery); returns files per dialect.

    xlsxwriter spends ~40 µs per cell, which makes the XLSX files most of the run time, so they are
    written by worker processes while this process writes the CSV files. Each file is independent, so
    the bytes do not depend on the scheduling.
    """
    dialects = load_dialects()
    fields = contract_fields()
    row_dialect = np.array([dialect_of[c] for c in muni_codes], dtype=object)[frame["muni"]]
    file_key = frame["muni"] * _FILE_KEY + frame["period"]
    redelivered = {muni_codes.index(c) * _FILE_KEY + m for c, m in deliveries.redelivered}
    files = dict.fromkeys(dialects, 0)
    rng = _rng(seed, 7)
    jobs: dict[str, list[tuple]] = {"csv": [], "xlsx": []}
    date_cols = {fields.index("date_received"), fields.index("decision_date")}
    for name, dialect in dialects.items():
        sel = np.flatnonzero(row_dialect == name)
        if not len(sel):
            continue
        cols = _dialect_columns(rng, frame, sel, dialect, invalid, codes, muni_codes)
        header = [dialect["columns"][f][0] for f in fields]
        ordered = [cols[f] for f in fields]
        keys = file_key[sel]
        bounds = np.r_[0, np.flatnonzero(np.diff(keys)) + 1, len(keys)]
        for lo, hi in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
            key = int(keys[lo])
            stem = _stem(muni_codes[key // _FILE_KEY], key % _FILE_KEY)
            part = [c[lo:hi].tolist() for c in ordered]
            versions = _redelivery(stem, part) if key in redelivered else [(stem, part)]
            for version_stem, rows in versions:
                suffix = "xlsx" if dialect["format"] == "xlsx" else "csv"
                path = out_dir / f"{version_stem}.{suffix}"
                if suffix == "xlsx":
                    jobs["xlsx"].append((path, dialect["sheet_names"][0], header, rows, date_cols))
                else:
                    jobs["csv"].append((path, dialect, header, rows))
                files[name] += 1
    _run_jobs(jobs["csv"], jobs["xlsx"])
    _date_redeliveries(out_dir, deliveries)
    return files


_FILE_KEY = 100_000  # file key = municipality index * _FILE_KEY + absolute month


def _stem(code: str, month: int) -> str:
    """``<kommunkod>_<ÅÅÅÅ-MM>`` of an absolute month (year * 12 + month - 1)."""
    return f"{code}_{month // 12}-{month % 12 + 1:02d}"


def _redelivery(stem: str, part: list[list[Any]]) -> list[tuple[str, list[list[Any]]]]:
    """A file first delivered cut short (an export that stopped early), then in full under a newer name."""
    spec = variation.synthetic()["deliveries"]
    n = len(part[0])
    cut = max(1, int(n * spec["cut_short_share"])) if n > 1 else n
    return [(stem, [c[:cut] for c in part]), (stem + spec["redelivery_suffix"], part)]


def _date_redeliveries(out_dir: Path, deliveries: variation.Deliveries) -> None:
    """Give both files of a re-delivery fixed delivery times (the 5th and the 20th of the next month), so
    that the corrected one is the newest by modification time, as the pipeline decides, on any machine."""
    suffix = variation.synthetic()["deliveries"]["redelivery_suffix"]
    for (_code, month), stem in zip(deliveries.redelivered, deliveries.names("redelivered"), strict=True):
        nxt = dt.datetime(month // 12 + (month % 12 == 11), (month + 1) % 12 + 1, 1, 8, tzinfo=dt.UTC)
        for day, name in ((4, stem), (19, stem + suffix)):
            stamp = (nxt + dt.timedelta(days=day)).timestamp()
            for path in out_dir.glob(f"{name}.*"):
                os.utime(path, (stamp, stamp))


def _run_jobs(csv_jobs: list[tuple], xlsx_jobs: list[tuple]) -> None:
    xlsx_cells = sum(len(job[3][0]) for job in xlsx_jobs) * 9
    workers = min(XLSX_WORKERS, os.cpu_count() or 1)
    if workers < 2 or xlsx_cells < 200_000 or "fork" not in mp.get_all_start_methods():
        for job in xlsx_jobs:
            _write_xlsx(*job)
        for job in csv_jobs:
            _write_csv(*job)
        return
    with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("fork")) as pool:
        pending = [pool.submit(_write_xlsx_batch, xlsx_jobs[i::workers]) for i in range(workers)]
        for job in csv_jobs:
            _write_csv(*job)
        for future in pending:
            future.result()


def _write_xlsx_batch(jobs: list[tuple]) -> None:
    for job in jobs:
        _write_xlsx(*job)


def _codes() -> dict[str, list[str]]:
    reporters = _read_csv("codes/reporters.csv")
    causes = _read_csv("codes/causes.csv")
    return {
        "reporter": [r["code"] for r in reporters],
        "reporter_valid_from": [r["valid_from"] for r in reporters],
        "reporter_valid_to": [r["valid_to"] for r in reporters],
        "reporter_rolls_up_to": [r["rolls_up_to"] for r in reporters],
        "cause": [r["code"] for r in causes],
        "cause_group": [r["group"] for r in causes],
        "cause_groups": [r["code"] for r in _read_csv("codes/cause_groups.csv")],
        "outcome": [r["code"] for r in _read_csv("codes/outcomes.csv")],
    }


def generate_demo(
    out_dir: Path,
    year: int = 2025,
    seed: int = 20251,
    scale: float = 1.0,
    municipality_codes: Sequence[str] | None = None,
    population_file: Path | None = None,
    years: Sequence[int] | None = None,
    irregular_deliveries: bool = False,
) -> DemoSummary:
    """Write ``{kommunkod}_{YYYY-MM}.csv|xlsx`` for every month of ``years`` (default: ``year`` alone) and
    municipality. A report decided in the next year's January is in that extract when that year is
    generated too. ``irregular_deliveries``: plant the delivery incidents of settings.yaml
    (demo.synthetic.deliveries): missing and late months, a re-delivery.

    ``population_file``: also write the synthetic population there (SCB's BE0101A CSV format, titled
    SYNTETISKA DEMODATA, one column per year), for every municipality: like SCB's file it is national,
    whatever was delivered.
    """
    years = sorted(set(years)) if years else [year]
    if population_file is not None:
        generate_population(population_file, years, seed)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    codes = _codes()
    muni_codes = [c for c, _ in municipalities()]
    wanted = _select_codes(municipality_codes)
    wanted_index = np.array([muni_codes.index(c) for c in wanted])
    world = _world(seed, muni_codes)
    frames = [_year_frame(seed, y, scale, codes, muni_codes, world, wanted_index) for y in years]
    frame = _concat(frames, first=years[0] * 12, last=years[-1] * 12 + 11)
    deliveries = (
        variation.plan_deliveries(seed, muni_codes, years, exclude=list(BIG_CITIES))
        if irregular_deliveries
        else variation.Deliveries()
    )
    frame = _deliver(frame, deliveries, muni_codes)
    # Order rows by file, then arrival, then report id.
    frame = _take(frame, np.lexsort((frame["report_id"], frame["received"], frame["period"], frame["muni"])))
    file_key = frame["muni"] * _FILE_KEY + frame["period"]
    invalid = _plant_invalid(_rng(seed, 4), frame, file_key)
    _apply_invalid(_rng(seed, 6), frame, invalid)

    summary = _summary(frame, invalid, len(wanted))
    summary.years = years
    summary.deliveries = deliveries
    files = file_key[np.r_[True, file_key[1:] != file_key[:-1]]] if len(file_key) else file_key
    summary.months_without_reports = len(wanted) * 12 * len(years) - len(files) - len(deliveries.missing)
    summary.files_per_dialect = _write_files(
        out_dir, frame, invalid, codes, muni_codes, assign_dialects(seed), seed, deliveries
    )
    summary.files = sum(summary.files_per_dialect.values())
    return summary


@dataclass(frozen=True)
class _World:
    """What stays the same across the years: sizes in the reference year and municipal profiles."""

    sizes: np.ndarray
    profile: variation.Profile


def _world(seed: int, muni_codes: list[str]) -> _World:
    children = municipality_sizes(seed)
    sizes = np.array([children[c] for c in muni_codes], dtype=float)
    per_1000 = 1000 * REPORTS_PER_YEAR / sizes.sum()
    return _World(sizes, variation.profile(seed, muni_codes, sizes, per_1000))


def _expected_reports(seed: int, year: int, scale: float, muni_codes: list[str], world: _World) -> np.ndarray:
    """Reports per municipality in ``year``: its children that year times its own reports per child,
    grown by its county's trend; the nation has REPORTS_PER_YEAR * scale in the reference year."""
    children = world.sizes * variation.population_trend(seed, muni_codes, year)
    per_child = world.profile.report_rate * variation.report_trend(world.profile, year)
    return REPORTS_PER_YEAR * scale * children * per_child / world.sizes.sum()


def _year_frame(
    seed: int,
    year: int,
    scale: float,
    codes: dict[str, list[str]],
    muni_codes: list[str],
    world: _World,
    wanted_index: np.ndarray,
) -> dict[str, np.ndarray]:
    """One year's rows of the wanted municipalities (the whole nation is drawn, so a municipality's rows
    never depend on which others were asked for). Each year has random streams of its own."""
    rng = _year_rng(seed, 3, year)
    kids = _children(rng, _expected_reports(seed, year, scale, muni_codes, world), year)
    reports = _reports(rng, kids, year, codes, _year_rng(seed, 8, year), world.profile)
    report_ids = _report_ids(rng, reports, muni_codes, year)
    rows = _rows(reports, codes)
    muni = reports.muni[rows.report]
    keep = np.flatnonzero(np.isin(muni, wanted_index))
    frame = _frame(rows, reports, kids, report_ids, keep, muni)
    frame["year"] = np.full(len(keep), year)
    return frame


def _year_rng(seed: int, purpose: int, year: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, purpose, year]))


def _take(frame: dict[str, np.ndarray], index: np.ndarray) -> dict[str, np.ndarray]:
    return {name: values[index] for name, values in frame.items()}


def _concat(frames: list[dict[str, np.ndarray]], first: int, last: int) -> dict[str, np.ndarray]:
    """The years' rows together, reports and children numbered apart per year (they are distinct), and
    only the extract months generated (a decision in the month after the last is not delivered)."""
    report_offset = child_offset = 0
    for frame in frames:
        n_reports = int(frame["report"].max()) + 1 if len(frame["report"]) else 0
        n_children = int(frame["child"].max()) + 1 if len(frame["child"]) else 0
        frame["report"] = frame["report"] + report_offset
        frame["child"] = frame["child"] + child_offset
        report_offset += n_reports
        child_offset += n_children
    frame = {name: np.concatenate([f[name] for f in frames]) for name in frames[0]}
    return _take(frame, np.flatnonzero((frame["period"] >= first) & (frame["period"] <= last)))


def _deliver(
    frame: dict[str, np.ndarray], deliveries: variation.Deliveries, muni_codes: list[str]
) -> dict[str, np.ndarray]:
    """Plant the delivery incidents: a missing month's rows go; a late month's rows move to the next
    month's extract, where a report with a row in both months appears once, as the later extract has it."""
    drop = np.zeros(len(frame["muni"]), dtype=bool)
    for code, month in deliveries.missing:
        drop |= (frame["muni"] == muni_codes.index(code)) & (frame["period"] == month)
    for code, month in deliveries.late:
        here = frame["muni"] == muni_codes.index(code)
        moved = here & (frame["period"] == month)
        already_next = here & (frame["period"] == month + 1)
        frame["period"] = np.where(moved, month + 1, frame["period"])
        drop |= moved & np.isin(frame["report"], frame["report"][already_next])
    return _take(frame, np.flatnonzero(~drop))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write synthetic monthly extracts (SYNTETISKA DEMODATA).")
    parser.add_argument("--out", type=Path, required=True, help="directory for the landing files")
    parser.add_argument("--year", type=int, default=2025)
    parser.add_argument("--years", default=None, help="a range of years, e.g. 2023-2025 (instead of --year)")
    parser.add_argument(
        "--irregular-deliveries", action="store_true", help="plant missing, late, re-delivered"
    )
    parser.add_argument("--seed", type=int, default=20251)
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies report volumes")
    parser.add_argument("--municipalities", default=None, help="comma-separated codes, e.g. 0180,1480")
    parser.add_argument("--population", type=Path, default=None, help="also write the population CSV here")
    args = parser.parse_args(argv)
    codes = [c.strip() for c in args.municipalities.split(",") if c.strip()] if args.municipalities else None
    years = _year_range(args.years) if args.years else [args.year]
    started = time.perf_counter()
    summary = generate_demo(
        args.out,
        args.year,
        args.seed,
        args.scale,
        codes,
        years=years,
        irregular_deliveries=args.irregular_deliveries,
    )
    if args.population is not None:
        generate_population(args.population, years, args.seed, codes)
    print("\n".join(summary.lines()))
    print(f"seconds: {time.perf_counter() - started:.1f}")
    return 0


def _year_range(text: str) -> list[int]:
    """``2023-2025`` (or ``2025``) as the list of years."""
    first, _, last = text.partition("-")
    return list(range(int(first), int(last or first) + 1))


if __name__ == "__main__":
    sys.exit(main())
