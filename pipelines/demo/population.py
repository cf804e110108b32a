"""The synthetic child population (sizes, age/sex cells, the SCB-shaped CSV) and each municipality's dialect.

Part of the demo generator; how it works and why: pipelines/demo/generator.py."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from pipelines.core.schemas import dialects
from pipelines.demo import variation
from pipelines.demo.reference import _rng, municipalities

SYNTHETIC_TITLE = "SYNTETISKA DEMODATA – inte SCB:s statistik. Folkmängd efter region, ålder, kön och år"


# SCB's Statistikdatabasen (PxWeb) "comma-delimited with heading" export is ANSI, i.e. Windows-1252:
# we write the same so that a reader built for the real file reads this one unchanged.
POPULATION_ENCODING = "cp1252"


NATIONAL_CHILDREN = 2_200_000


BIG_CITIES = {"0180": 0.098, "1480": 0.057, "1280": 0.037}  # share of the nation's children


DIALECT_SHARES = {"semikolon_utf8": 0.45, "komma_cp1252": 0.40, "xlsx_export": 0.15}


_DEFAULT_WEIGHT = 1.0


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
    names = list(dialects())
    shares = np.array([DIALECT_SHARES.get(n, _DEFAULT_WEIGHT / len(names)) for n in names])
    counts = np.floor(shares / shares.sum() * len(codes) + 0.5).astype(int)
    counts[-1] = len(codes) - counts[:-1].sum()
    order = _rng(seed, 2).permutation(len(codes))
    labels = np.repeat(np.arange(len(names)), counts)
    return {codes[i]: names[labels[k]] for k, i in enumerate(order)}
