"""The multi-year demo: deterministic, varying between municipalities, counties, years and months as real
data do, with planted delivery incidents, and a population covering every year."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pytest

from pipelines.demo import dates, population, reference, variation, writers
from pipelines.demo import generator as gen
from pipelines.stage4_statistics.population import read_population

SEED = 20251
YEARS = [2023, 2024, 2025]


@pytest.fixture(scope="module")
def nation() -> dict[str, np.ndarray]:
    """Every municipality's rows for the three years at a fifth of the volume, as generated (no files):
    enough reports per municipality to measure each one's rates."""
    codes = reference._codes()
    muni_codes = [c for c, _ in reference.municipalities()]
    world = gen._world(SEED, muni_codes)
    frames = [gen._year_frame(SEED, y, 0.2, codes, muni_codes, world, np.arange(290)) for y in YEARS]
    frame = gen._concat(frames, first=YEARS[0] * 12, last=YEARS[-1] * 12 + 11)
    frame["outcome_code"] = np.array(codes["outcome"], dtype=object)[frame["outcome"]]
    frame["reporter_code"] = np.array(codes["reporter"], dtype=object)[frame["reporter"]]
    return frame


def _final(frame: dict[str, np.ndarray]) -> np.ndarray:
    """Each report's last row (its final state): the decision month's row when decided later."""
    order = np.lexsort((frame["period"], frame["report"]))
    last = np.r_[frame["report"][order][1:] != frame["report"][order][:-1], True]
    return order[last]


def _arrivals(frame: dict[str, np.ndarray]) -> np.ndarray:
    return np.flatnonzero(~frame["late"])


def test_investigation_rates_span_a_realistic_range(nation) -> None:
    rows = _final(nation)
    opened = nation["outcome_code"][rows] == "inleds"
    decided = opened | (nation["outcome_code"][rows] == "inleds_ej")
    muni = nation["muni"][rows]
    n_decided = np.bincount(muni[decided], minlength=290)
    rate = np.bincount(muni[opened], minlength=290) / np.maximum(n_decided, 1)
    measured = rate[n_decided >= 100]  # municipalities with enough decisions to measure
    p5, p50, p95 = np.percentile(measured, [5, 50, 95])
    assert p95 - p5 >= 0.20
    assert p5 >= 0.15 and p95 <= 0.70 and 0.33 <= p50 <= 0.47  # ≈ 20-65 %, national ≈ 40 %


def test_share_decided_within_14_days_varies_by_municipality(nation) -> None:
    rows = _final(nation)
    decided = nation["decision"][rows] >= 0
    quick = decided & (nation["decision"][rows] - nation["received"][rows] <= 14)
    muni = nation["muni"][rows]
    n = np.bincount(muni[decided], minlength=290)
    share = (np.bincount(muni[quick], minlength=290) / np.maximum(n, 1))[n >= 100]
    p5, p95 = np.percentile(share, [5, 95])
    assert p95 - p5 >= 0.20 and p95 > 0.9


def test_reports_per_1000_children_vary_between_counties_and_municipalities(nation) -> None:
    muni_codes = [c for c, _ in reference.municipalities()]
    county = variation.county_index(muni_codes)
    rows = _arrivals(nation)
    ref = nation["year"][rows] == variation.reference_year()
    reports = np.bincount(nation["muni"][rows][ref], minlength=290) / 0.2  # back to full volume
    children = np.array([population.municipality_sizes(SEED)[c] for c in muni_codes], dtype=float)
    by_county = 1000 * np.bincount(county, weights=reports) / np.bincount(county, weights=children)
    assert by_county.max() / by_county.min() >= 1.25  # counties differ, not all 212-233
    per_1000 = 1000 * reports / children
    p5, p95 = np.percentile(per_1000, [5, 95])
    assert 90 <= p5 <= 170 and 280 <= p95 <= 380  # ≈ 100-350 per 1,000 children
    assert reports.min() < 30  # some small municipalities with very few reports a year


def test_volume_follows_the_child_population_and_grows_by_county(nation) -> None:
    muni_codes = [c for c, _ in reference.municipalities()]
    rows = _arrivals(nation)
    per_year = {y: np.bincount(nation["muni"][rows][nation["year"][rows] == y], minlength=290) for y in YEARS}
    assert per_year[2023].sum() < per_year[2024].sum() < per_year[2025].sum()  # a few % a year
    assert 1.01 < per_year[2025].sum() / per_year[2024].sum() < 1.08
    children = np.array([population.municipality_sizes(SEED)[c] for c in muni_codes], dtype=float)
    assert np.corrcoef(children, per_year[2025])[0, 1] > 0.95
    county = variation.county_index(muni_codes)
    growth = np.bincount(county, weights=per_year[2025]) / np.bincount(county, weights=per_year[2023])
    assert growth.max() - growth.min() > 0.05  # counties grow at different rates


def test_county_seats_are_larger_than_their_rural_neighbours() -> None:
    sizes = population.municipality_sizes(SEED)
    seats = [c for c in sizes if c.endswith("80")]
    larger = [s for s in seats if sizes[s] > np.median([v for c, v in sizes.items() if c[:2] == s[:2]])]
    assert len(larger) >= 0.9 * len(seats)
    assert sizes["2480"] > sizes["2460"]  # Umeå, Vännäs


def test_school_reports_dip_in_july_and_peak_after_school_starts(nation) -> None:
    rows = _arrivals(nation)
    _, month, _ = dates._ymd(nation["received"][rows])
    school = np.isin(nation["reporter_code"][rows], ["SKO", "FSK"])
    by_month = np.bincount(month[school], minlength=13)[1:]
    assert by_month[6] < 0.2 * by_month.mean()  # July
    assert by_month.argmax() in (8, 9)  # September or October
    others = np.bincount(month[~school], minlength=13)[1:]
    assert others[6] > 0.8 * others.mean()  # the dip is the school's, not everyone's
    everyone = by_month + others
    assert everyone[6] == everyone.min()


@pytest.fixture(scope="module")
def planted() -> variation.Deliveries:
    return variation.plan_deliveries(
        SEED, [c for c, _ in reference.municipalities()], YEARS, list(population.BIG_CITIES)
    )


def _subset(planted: variation.Deliveries) -> list[str]:
    """The planted municipalities and Stockholm."""
    return sorted(
        {c for kind in ("missing", "late", "redelivered") for c, _ in getattr(planted, kind)} | {"0180"}
    )


@pytest.fixture(scope="module")
def extracts(tmp_path_factory: pytest.TempPathFactory, planted) -> dict[str, Path]:
    """The subset's files over three years, with and without the delivery incidents."""
    out = {}
    for name, irregular in (("irregular", True), ("regular", False)):
        out[name] = tmp_path_factory.mktemp(name)
        gen.generate_demo(
            out[name], seed=SEED, scale=0.25, municipality_codes=_subset(planted), years=YEARS,
            irregular_deliveries=irregular,
        )  # fmt: skip
    return out


def _stems(folder: Path) -> set[str]:
    return {p.stem for p in folder.iterdir()}


def test_every_kind_of_incident_is_planted_outside_the_big_cities(planted) -> None:
    spec = variation.synthetic()["deliveries"]
    for kind in ("missing", "late", "redelivered"):
        assert len(getattr(planted, kind)) == spec[kind]
        assert all(
            c not in population.BIG_CITIES and m < YEARS[-1] * 12 + 11 for c, m in getattr(planted, kind)
        )


def test_a_missing_delivery_has_no_file(extracts, planted) -> None:
    for stem in planted.names("missing"):
        assert stem in _stems(extracts["regular"]) and stem not in _stems(extracts["irregular"])


def test_a_late_delivery_comes_with_the_next_month(extracts, planted) -> None:
    for (code, month), stem in zip(planted.late, planted.names("late"), strict=True):
        assert stem in _stems(extracts["regular"]) and stem not in _stems(extracts["irregular"])
        nxt = writers._stem(code, month + 1)
        late = _ids(extracts["irregular"], nxt) - _ids(extracts["regular"], nxt)
        assert late and late <= _ids(extracts["regular"], stem)  # the month's reports, delivered late


def _ids(folder: Path, stem: str) -> set[str]:
    """Report ids in a CSV file (the planted municipalities' dialects are read as text)."""
    (path,) = folder.glob(f"{stem}.*")
    if path.suffix == ".xlsx":
        from python_calamine import CalamineWorkbook

        rows = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python()[1:]
        return {str(r[1]) for r in rows if r[1]}
    text = path.read_bytes().decode("utf-8-sig" if path.read_bytes()[:3] == b"\xef\xbb\xbf" else "cp1252")
    sep = ";" if text.split("\n", 1)[0].count(";") else ","
    return {r[1] for r in list(csv.reader(io.StringIO(text), delimiter=sep))[1:] if r[1]}


def test_the_redelivery_is_a_newer_corrected_file(extracts, planted) -> None:
    suffix = variation.synthetic()["deliveries"]["redelivery_suffix"]
    for stem in planted.names("redelivered"):
        (first,) = extracts["irregular"].glob(f"{stem}.*")
        (corrected,) = extracts["irregular"].glob(f"{stem}{suffix}.*")
        assert corrected.stat().st_mtime > first.stat().st_mtime  # the newest file wins
        assert _ids(extracts["irregular"], stem) < _ids(extracts["irregular"], stem + suffix)  # cut short


def test_multi_year_generation_is_deterministic_by_seed(extracts, tmp_path: Path, planted) -> None:
    again = gen.generate_demo(
        tmp_path,
        seed=SEED,
        scale=0.25,
        municipality_codes=_subset(planted),
        years=YEARS,
        irregular_deliveries=True,
    )
    assert again.years == YEARS and again.deliveries == planted
    first = {p.name: p for p in extracts["irregular"].iterdir()}
    assert first.keys() == {p.name for p in tmp_path.iterdir()}
    assert [n for n, p in first.items() if p.read_bytes() != (tmp_path / n).read_bytes()] == []
    for stem in planted.names("redelivered"):  # the delivery times too, which decide which file wins
        for path in tmp_path.glob(f"{stem}*"):
            assert path.stat().st_mtime == first[path.name].stat().st_mtime
    assert {p.stem[5:9] for p in tmp_path.iterdir()} == {str(y) for y in YEARS}


def test_another_seed_plants_elsewhere(planted) -> None:
    other = variation.plan_deliveries(
        SEED + 1, [c for c, _ in reference.municipalities()], YEARS, list(population.BIG_CITIES)
    )
    assert other != planted


def test_the_population_covers_every_year(tmp_path: Path) -> None:
    path = population.generate_population(tmp_path / "population.csv", YEARS, SEED)
    header = path.read_bytes().decode("cp1252").splitlines()[2]
    assert header == '"region","ålder","kön",' + ",".join(f'"{y}"' for y in YEARS)
    sums, synthetic = read_population(path)
    assert synthetic and set(sums.year) == set(YEARS)
    totals = sums.groupby("year").children_0_17.sum()
    assert totals[2025] == sum(population.municipality_sizes(SEED).values())
    assert totals[2023] != totals[2025]
    by_muni = sums[sums.year == 2023].groupby("municipality_code").children_0_17.sum()
    assert by_muni.to_dict() == population.municipality_sizes(SEED, 2023)
