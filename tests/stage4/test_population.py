"""Population denominators from SCB's BE0101A CSV export: its variations read, bad files rejected clearly."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.core import db
from pipelines.core.schemas import code_table
from pipelines.core.settings import Paths
from pipelines.demo import generator as gen
from pipelines.demo import population
from pipelines.stage4_statistics.population import (
    POPULATION_DATA,
    PopulationFileError,
    build_population,
    denominators,
    output_folder,
    population_file,
    read_population,
    spec,
)

MUNICIPALITIES = code_table("municipalities")
CODES = MUNICIPALITIES.column("municipality_code").to_pylist()
NAMES = dict(zip(CODES, MUNICIPALITIES.column("municipality_name_short").to_pylist(), strict=True))
COUNTY = dict(zip(CODES, MUNICIPALITIES.column("county_code").to_pylist(), strict=True))
SEXES = {"1": "män", "2": "kvinnor"}


def _cells(seed: int, years: list[int]) -> dict[int, np.ndarray]:
    """Per year: municipalities × ages 0..20 × sex (män, kvinnor), random sizes."""
    rng = np.random.default_rng(seed)
    return {year: rng.integers(0, 900, size=(len(CODES), 21, 2)) for year in years}


def _expected(cells: dict[int, np.ndarray]) -> dict[tuple[int, str, str], int]:
    """Children 0-17 per (year, municipality, legal sex)."""
    return {
        (year, code, sex): int(grid[i, :18, s].sum())
        for year, grid in cells.items()
        for i, code in enumerate(CODES)
        for s, sex in enumerate(SEXES)
    }


def _scb_file(
    path: Path,
    cells: dict[int, np.ndarray],
    encoding: str = "cp1252",
    delimiter: str = ",",
    title: str | None = "Folkmängd efter region, ålder, kön och år",
    year_heading: str = "{year}",
    extra_rows: bool = True,
) -> Path:
    """A wide export as PxWeb writes it: an optional title line and empty line, header, rows, footnote."""
    years = sorted(cells)
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, delimiter=delimiter, quoting=csv.QUOTE_NONNUMERIC, lineterminator="\r\n")
    if title:
        writer.writerow([title])
        buf.write("\r\n")
    writer.writerow(["region", "ålder", "kön", *(year_heading.format(year=y) for y in years)])
    if extra_rows:  # aggregates PxWeb can include: ignored, the sums are computed from municipalities
        writer.writerow(["00 Riket", "0 år", "män", *([1] * len(years))])
        writer.writerow(["01 Stockholms län", "0 år", "män", *([1] * len(years))])
    for i, code in enumerate(CODES):
        ages = [f"{a} år" for a in range(21)] + (["totalt ålder"] if extra_rows else [])
        for a, age in enumerate(ages):
            for s, sex in enumerate(SEXES.values()):
                values = [int(cells[y][i, min(a, 20), s]) * (9 if a == 21 else 1) for y in years]
                writer.writerow([f"{code} {NAMES[code]}", age, sex, *values])
    buf.write("\r\nFotnot: Folkmängden avser den 31 december.\r\n")
    path.write_bytes(buf.getvalue().encode(encoding))
    return path


def _as_dict(sums) -> dict[tuple[int, str, str], int]:
    return {
        (int(r.year), r.municipality_code, r.legal_sex): int(r.children_0_17)
        for r in sums.itertuples(index=False)
    }


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    seed=st.integers(0, 1000),
    encoding=st.sampled_from(["cp1252", "utf-8", "utf-8-sig"]),
    delimiter=st.sampled_from([",", ";", "\t"]),
    years=st.sampled_from([[2024], [2023, 2024]]),
    title=st.sampled_from([None, "Folkmängd efter region, ålder, kön och år"]),
    year_heading=st.sampled_from(["{year}", "Folkmängd {year}"]),
)
def test_scb_exports_are_read_and_ages_0_17_summed(
    tmp_path: Path,
    seed: int,
    encoding: str,
    delimiter: str,
    years: list[int],
    title: str | None,
    year_heading: str,
) -> None:
    cells = _cells(seed, years)
    path = _scb_file(tmp_path / "pop.csv", cells, encoding, delimiter, title, year_heading)
    sums, synthetic = read_population(path)
    assert not synthetic
    # ages 18+ and "totalt ålder" are left out; riket/län rows are ignored
    assert _as_dict(sums) == _expected(cells)


def test_long_layout_with_a_year_column(tmp_path: Path) -> None:
    cells = _cells(3, [2024])
    lines = ["region;ålder;kön;år;Folkmängd"]
    for i, code in enumerate(CODES):
        for a in range(21):
            lines += [
                f"{code} {NAMES[code]};{a} år;{sex};2024;{cells[2024][i, a, s]}"
                for s, sex in enumerate(SEXES.values())
            ]
    path = tmp_path / "long.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    sums, _ = read_population(path)
    assert _as_dict(sums) == _expected(cells)


def test_demo_population_is_read_labelled_synthetic_with_the_generators_sizes(tmp_path: Path) -> None:
    path = population.generate_population(tmp_path / "pop.csv", 2025, 7)
    sums, synthetic = read_population(path)
    assert synthetic
    by_municipality = sums.groupby("municipality_code").children_0_17.sum()
    assert by_municipality.to_dict() == population.municipality_sizes(7)


def _home_with_file(home: Paths, cells: dict[int, np.ndarray]) -> Path:
    target = population_file(home)
    target.parent.mkdir(parents=True, exist_ok=True)
    return _scb_file(target, cells)


def test_denominators_have_county_and_national_sums_by_sex_and_in_total(home: Paths) -> None:
    cells = _cells(11, [2024, 2025])
    _home_with_file(home, cells)
    table = denominators(home, [2025]).to_pandas()
    assert set(table.year) == {2025}
    expected = _expected({2025: cells[2025]})
    kommun = table[table.geo_level == "kommun"]
    assert {
        (r.geo_code, r.legal_sex): r.children_0_17 for r in kommun.itertuples() if r.legal_sex != "total"
    } == {(code, sex): n for (_, code, sex), n in expected.items()}
    stockholm = table[(table.geo_level == "lan") & (table.geo_code == "01") & (table.legal_sex == "2")]
    assert stockholm.children_0_17.tolist() == [
        sum(n for (_, c, s), n in expected.items() if COUNTY[c] == "01" and s == "2")
    ]
    riket = table[table.geo_level == "riket"].set_index("legal_sex").children_0_17
    assert riket["total"] == riket["1"] + riket["2"] == sum(expected.values())
    assert set(kommun.geo_name) == set(NAMES.values())


def test_without_a_file_nothing_is_written_and_no_denominators(home: Paths) -> None:
    assert denominators(home) is None
    assert build_population(home) is None
    assert not output_folder(home).exists()


def test_written_table_matches_its_contract_and_goes_when_the_file_goes(home: Paths) -> None:
    source = _home_with_file(home, _cells(5, [2025]))
    rows = build_population(home)
    path = output_folder(home) / POPULATION_DATA
    assert rows == db.one(f"SELECT count(*) FROM read_parquet('{path}')")[0] == 1 * (1 + 21 + 290) * 3
    got = {c: t for c, t, *_ in db.rows(f"DESCRIBE SELECT * FROM read_parquet('{path}')")}
    assert got == {c: s["type"] for c, s in spec()["output"].items()}
    assert pq.ParquetFile(path).schema_arrow.metadata[b"data"] == b"real"
    source.unlink()
    assert build_population(home) is None and not path.exists()  # no rate from a file no longer supplied


def test_env_variable_names_the_file_and_demo_file_is_labelled(home: Paths, tmp_path, monkeypatch) -> None:
    elsewhere = population.generate_population(tmp_path / "befolkning.csv", 2025, 3)
    monkeypatch.setenv(spec()["location"]["env"], str(elsewhere))
    assert population_file(home) == elsewhere
    build_population(home)
    metadata = pq.ParquetFile(output_folder(home) / POPULATION_DATA).schema_arrow.metadata
    assert b"SYNTETISKA DEMODATA" in metadata[b"data"]


def test_generate_demo_writes_the_population_when_asked(tmp_path: Path) -> None:
    target = tmp_path / "0_reference" / "population.csv"
    gen.generate_demo(tmp_path / "landing", 2025, 5, 0.002, ["0180"], population_file=target)
    sums, synthetic = read_population(target)
    assert synthetic and set(sums.municipality_code) == set(CODES) and set(sums.year) == {2025}


def _rewrite(path: Path, old: str, new: str, count: int = 1) -> Path:
    text = path.read_bytes().decode("cp1252")
    assert old in text
    path.write_bytes(text.replace(old, new, count).encode("cp1252"))
    return path


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("0114 Upplands Väsby", "0199 Påhittad"), "unknown municipality codes: '0199'"),
        (('"0 år"', '"noll år"'), "age values not understood: 'noll år'"),
        (('"kvinnor"', '"okänt"'), "kön values not understood: 'okänt'"),
        (('"region"', '"område"'), "not SCB's BE0101A/BefolkningNy export"),
        (('"kön",', '"kon x",'), "no kön column: the table is needed by sex"),
        (('"2024"', '"antal barn"'), "column 'antal barn' is neither region, ålder, kön nor a year"),
    ],
)
def test_bad_files_are_rejected_with_a_clear_message(
    tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    path = _rewrite(_scb_file(tmp_path / "pop.csv", _cells(1, [2024]), extra_rows=False), *change)
    with pytest.raises(PopulationFileError, match=message):
        read_population(path)


def test_missing_cells_ages_and_municipalities_are_rejected(tmp_path: Path) -> None:
    cells = _cells(2, [2024])
    base = _scb_file(tmp_path / "pop.csv", cells, extra_rows=False)
    text = base.read_bytes().decode("cp1252")
    value = int(cells[2024][CODES.index("0180"), 7, 1])
    cases = {
        "missing or not a number": text.replace(
            f'"0180 Stockholm","7 år","kvinnor",{value}', '"0180 Stockholm","7 år","kvinnor",".."'
        ),
        "0180, 2024, kön 2: 17 of the ages": text.replace(
            f'"0180 Stockholm","7 år","kvinnor",{value}\r\n', ""
        ),
        "1 municipalities missing, e.g. 2584": "".join(
            line for line in text.splitlines(keepends=True) if not line.startswith('"2584 ')
        ),
        "a data line does not have the header's 4 columns": text.replace(
            '"0180 Stockholm","7 år"', '"0180 Stockholm","7 år","x"'
        ),
    }
    for message, content in cases.items():
        assert content != text, message
        path = tmp_path / "bad.csv"
        path.write_bytes(content.encode("cp1252"))
        with pytest.raises(PopulationFileError, match=message):
            read_population(path)


def test_a_landing_extract_is_not_a_population_file(tmp_path: Path) -> None:
    path = tmp_path / "0180_2025-03.csv"
    path.write_text("Anmälan-ID;Personnummer;Inkomstdatum\nSYNT-1;;2025-03-01\n", encoding="utf-8")
    with pytest.raises(PopulationFileError, match="no header line with a region and an age column"):
        read_population(path)


def test_a_year_not_in_the_file_is_an_error_naming_the_years_it_has(home: Paths) -> None:
    _home_with_file(home, _cells(4, [2023, 2024]))
    with pytest.raises(PopulationFileError, match=r"no population for 2025 \(the file has 2023, 2024\)"):
        denominators(home, [2024, 2025])
