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
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pipelines.demo import planted, variation
from pipelines.demo.feedback import add_feedback
from pipelines.demo.population import (
    BIG_CITIES,
    _select_codes,
    assign_dialects,
    generate_population,
    municipality_sizes,
)
from pipelines.demo.reference import _codes, _rng, municipalities
from pipelines.demo.reports import _children, _reports
from pipelines.demo.rows import _plant_invalid, _report_ids, _rows
from pipelines.demo.writers import _FILE_KEY, _apply_invalid, _frame, _write_files

# Volumes at scale 1.0 (Socialstyrelsen's mappings: 422,000 reports in 2021, ~514,000 in 2024).
REPORTS_PER_YEAR = 500_000


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
    add_feedback(seed, frame, muni_codes, codes, invalid)

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
    stays = planted.kept(
        seed, year, reports.muni, reports.reporter, reports.received, muni_codes, codes["reporter"]
    )
    keep = np.flatnonzero(np.isin(muni, wanted_index) & stays[rows.report])
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
