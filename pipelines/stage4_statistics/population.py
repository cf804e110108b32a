"""Population denominators: children 0–17 per year, municipality and legal sex, from SCB's BE0101A.

The user supplies SCB's own CSV export of BE0101A/BefolkningNy (Statistikdatabasen, PxWeb); the demo
writes a synthetic one in the same format. Everything about the format (header names, value patterns,
encodings, separators, where the file is) is declared in ``schemas/population_scb.yaml``. Ages 0–17 are
summed per year, municipality and legal sex; county and national sums are computed from the
municipalities. Without a file there are no denominators, and rates per 1,000 children are omitted:
:func:`denominators` returns ``None``, and ``4_statistics/population/`` is not written.

The file is public aggregate statistics (no personal data), so error messages may quote its values.
"""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import yaml

from pipelines.core import db
from pipelines.core.atomic import atomic_dir
from pipelines.core.schemas import code_table, fold
from pipelines.core.settings import SCHEMAS, Paths, settings

POPULATION_FOLDER = "population"
POPULATION_DATA = "data.parquet"
TOTAL_SEX = "total"


class PopulationFileError(ValueError):
    """The population file cannot be read as SCB's BE0101A export; the message says why."""


@cache
def spec() -> dict[str, Any]:
    return yaml.safe_load((SCHEMAS / "population_scb.yaml").read_text(encoding="utf-8"))


def population_file(paths: Paths) -> Path:
    """Where the population file is looked for: the env variable, else ``data/0_reference/population.csv``."""
    location = spec()["location"]
    override = os.environ.get(location["env"])
    return Path(override) if override else paths.data / location["folder"] / location["file"]


def output_folder(paths: Paths) -> Path:
    return paths.statistics / POPULATION_FOLDER


# --------------------------------------------------------------------------------------------------
# reading the file


def _decode(path: Path) -> str:
    size = path.stat().st_size
    if size > spec()["max_file_bytes"]:
        raise PopulationFileError(f"{path.name}: {size} bytes, more than a population file can be")
    raw = path.read_bytes()
    for encoding in spec()["encodings"]:
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise PopulationFileError(f"{path.name}: not text in any of {', '.join(spec()['encodings'])}")


def _headers(kind: str) -> set[str]:
    return {fold(h) for h in spec()["columns"][kind]["headers"]}


def _find_header(lines: list[str], name: str) -> tuple[int, str, list[str]]:
    """(line index, delimiter, header cells) of the first line naming a region and an age column."""
    region, age = _headers("region"), _headers("age")
    for index, line in enumerate(lines[:50]):  # the header follows at most a title and a few notes
        for delimiter in spec()["delimiters"]:
            cells = next(csv.reader([line], delimiter=delimiter), [])
            folded = {fold(c) for c in cells}
            if len(cells) > 2 and folded & region and folded & age:
                return index, delimiter, [c.strip() for c in cells]
    raise PopulationFileError(
        f"{name}: not SCB's {spec()['table']} export: no header line with a region and an age column "
        f'(expected e.g. "region","ålder","kön","2024")'
    )


def _body(lines: list[str], header_index: int, delimiter: str, width: int, name: str) -> pd.DataFrame:
    """The data lines after the header, up to the first empty line (footnotes follow it)."""
    rest = lines[header_index + 1 :]
    end = next((i for i, line in enumerate(rest) if not line.strip()), len(rest))
    try:
        frame = pd.read_csv(
            io.StringIO("\n".join(rest[:end])),
            sep=delimiter,
            header=None,
            dtype=str,
            keep_default_na=False,
            names=range(width),
            engine="python",
            on_bad_lines="error",
        )
    except (pd.errors.ParserError, ValueError) as err:
        raise PopulationFileError(f"{name}: a data line does not have the header's {width} columns") from err
    if frame.empty:
        raise PopulationFileError(f"{name}: the header is followed by no data")
    return frame.apply(lambda column: column.str.strip())


def _column(header: list[str], kind: str) -> int | None:
    names = _headers(kind)
    found = [i for i, h in enumerate(header) if fold(h) in names]
    return found[0] if found else None


def _long(frame: pd.DataFrame, header: list[str], keys: dict[str, int], name: str) -> pd.DataFrame:
    """Rows (region, age, sex, year, value), whichever layout the export has."""
    year, value = _column(header, "year"), _column(header, "value")
    base = frame[[keys["region"], keys["age"], keys["sex"]]].set_axis(["region", "age", "sex"], axis=1)
    if year is not None and value is not None:
        return base.assign(year=frame[year], value=frame[value])
    pattern = re.compile(spec()["year_header"], re.IGNORECASE)
    years = {}
    for i, h in enumerate(header):
        if i in keys.values():
            continue
        match = pattern.match(h)
        if not match:
            raise PopulationFileError(
                f'{name}: column {h!r} is neither region, ålder, kön nor a year (expected e.g. "2024")'
            )
        years[i] = match["year"]
    if not years:
        raise PopulationFileError(f'{name}: no year column (expected e.g. "2024" after region, ålder, kön)')
    parts = [base.assign(year=y, value=frame[i]) for i, y in years.items()]
    return pd.concat(parts, ignore_index=True)


def _examples(values: pd.Series) -> str:
    unique = sorted(set(values.astype(str)))
    return ", ".join(repr(v) for v in unique[:5]) + (" …" if len(unique) > 5 else "")


def _regions(rows: pd.DataFrame, name: str) -> pd.DataFrame:
    """Municipality codes; aggregate rows (riket, counties) dropped; unknown codes rejected."""
    column = spec()["columns"]["region"]
    code = rows["region"].str.extract(column["pattern"])["code"]
    if code.isna().any():
        raise PopulationFileError(
            f"{name}: region values without a code: {_examples(rows.region[code.isna()])}"
        )
    rows = rows.assign(municipality_code=code)[code.str.len() != column["aggregate_code_digits"]]
    known = set(code_table("municipalities").column("municipality_code").to_pylist())
    unknown = rows.municipality_code[~rows.municipality_code.isin(known)]
    if len(unknown):
        raise PopulationFileError(f"{name}: unknown municipality codes: {_examples(unknown)}")
    return rows


def _ages(rows: pd.DataFrame, name: str) -> pd.DataFrame:
    """Single years of age 0–17 kept (older ages and totals dropped); other values rejected."""
    column = spec()["columns"]["age"]
    ignored = rows.age.map(fold).isin({fold(v) for v in column["ignore"]})
    rows = rows[~ignored]
    age = pd.to_numeric(rows.age.str.extract(column["pattern"])["age"], errors="coerce")
    if age.isna().any():
        raise PopulationFileError(f"{name}: age values not understood: {_examples(rows.age[age.isna()])}")
    children = settings()["children"]
    keep = age.between(children["min_age"], children["max_age"])
    return rows.assign(age=age.astype("int64"))[keep]


def _sexes(rows: pd.DataFrame, name: str) -> pd.DataFrame:
    column = spec()["columns"]["sex"]
    rows = rows[~rows.sex.map(fold).isin({fold(v) for v in column["ignore"]})]
    sex = rows.sex.map(fold).map({fold(k): v for k, v in column["values"].items()})
    if sex.isna().any():
        raise PopulationFileError(f"{name}: kön values not understood: {_examples(rows.sex[sex.isna()])}")
    return rows.assign(legal_sex=sex)


def _values(rows: pd.DataFrame, name: str) -> pd.DataFrame:
    year = pd.to_numeric(rows.year.str.extract(r"^(\d{4})$")[0], errors="coerce")
    if year.isna().any():
        raise PopulationFileError(f"{name}: year values not understood: {_examples(rows.year[year.isna()])}")
    # thousands may be grouped with spaces (also non-breaking) in a re-saved file
    digits = rows.value.str.replace(r"[\s\u00a0]", "", regex=True)
    missing = ~digits.str.fullmatch(r"\d+")
    if missing.any():
        where = rows[missing].head(3)
        cells = "; ".join(f"{r.region} {r.age} {r.sex} {r.year}: {r.value!r}" for r in where.itertuples())
        raise PopulationFileError(
            f"{name}: {int(missing.sum())} population cells missing or not a number ({cells})"
        )
    return rows.assign(year=year.astype("int64"), value=digits.astype("int64"))


def _check_complete(rows: pd.DataFrame, name: str) -> None:
    """Each year × municipality × sex has every age exactly once; every municipality and sex is there."""
    children = settings()["children"]
    ages = children["max_age"] - children["min_age"] + 1
    cells = rows.groupby(["year", "municipality_code", "legal_sex"]).age.agg(["size", "nunique"])
    if (cells["size"] != cells["nunique"]).any():
        bad = cells[cells["size"] != cells["nunique"]].index[0]
        raise PopulationFileError(f"{name}: an age is given twice for {bad[1]}, {bad[0]}, kön {bad[2]}")
    short = cells[cells["nunique"] != ages]
    if len(short):
        year, code, sex = short.index[0]
        raise PopulationFileError(
            f"{name}: {code}, {year}, kön {sex}: {short.iloc[0]['nunique']} of the ages "
            f"{children['min_age']}–{children['max_age']} (all are needed for children 0–17)"
        )
    expected = set(code_table("municipalities").column("municipality_code").to_pylist())
    for year, group in rows.groupby("year"):
        if set(group.legal_sex) != {"1", "2"}:
            raise PopulationFileError(
                f"{name}: {year}: both män and kvinnor are needed, found {set(group.sex)}"
            )
        absent = expected - set(group.municipality_code)
        if spec()["require_all_municipalities"] and absent:
            raise PopulationFileError(
                f"{name}: {year}: {len(absent)} municipalities missing, e.g. {', '.join(sorted(absent)[:5])}"
                " (the county and national sums need all of them)"
            )


def read_population(path: Path) -> tuple[pd.DataFrame, bool]:
    """Children 0–17 per (year, municipality_code, legal_sex) from the file, and whether it is synthetic."""
    name = Path(path).name
    lines = _decode(Path(path)).splitlines()
    index, delimiter, header = _find_header(lines, name)
    keys = {kind: _column(header, kind) for kind in ("region", "age", "sex")}
    if keys["sex"] is None:
        raise PopulationFileError(f"{name}: no kön column: the table is needed by sex (män, kvinnor)")
    rows = _long(_body(lines, index, delimiter, len(header), name), header, keys, name)
    rows = _values(_sexes(_ages(_regions(rows, name), name), name), name)
    if rows.empty:
        raise PopulationFileError(f"{name}: no municipality rows with ages 0–17 by sex")
    _check_complete(rows, name)
    sums = (
        rows.groupby(["year", "municipality_code", "legal_sex"], as_index=False)["value"]
        .sum()
        .rename(columns={"value": "children_0_17"})
    )
    synthetic = any(spec()["synthetic_marker"] in line for line in lines[:index])
    return sums, synthetic


# --------------------------------------------------------------------------------------------------
# the denominators table


def _with_geographies(sums: pd.DataFrame) -> pa.Table:
    """Municipality rows plus county and national sums, each by legal sex and in total."""
    con = db.connect()
    try:
        con.register("sums", sums)
        con.register("ref_municipalities", code_table("municipalities"))
        con.register("ref_counties", code_table("counties"))
        columns = ", ".join(f"{c}::{s['type']} AS {c}" for c, s in spec()["output"].items())
        return con.sql(
            f"""
            WITH grouped AS (
              SELECT year, m.county_code, s.municipality_code, coalesce(legal_sex, '{TOTAL_SEX}') AS legal_sex,
                     CASE WHEN grouping(s.municipality_code) = 0 THEN 'kommun'
                          WHEN grouping(m.county_code) = 0 THEN 'lan' ELSE 'riket' END AS geo_level,
                     sum(children_0_17) AS children_0_17
              FROM sums s JOIN ref_municipalities m USING (municipality_code)
              GROUP BY GROUPING SETS ((year, legal_sex), (year), (year, m.county_code, legal_sex),
                                      (year, m.county_code), (year, s.municipality_code, legal_sex),
                                      (year, s.municipality_code)))
            SELECT {columns} FROM (
              SELECT g.*, CASE geo_level WHEN 'kommun' THEN g.municipality_code WHEN 'lan' THEN g.county_code
                                         ELSE '00' END AS geo_code,
                     coalesce(m.municipality_name_short, c.county_name, 'Riket') AS geo_name
              FROM grouped g
              LEFT JOIN ref_municipalities m ON g.geo_level = 'kommun' AND m.municipality_code = g.municipality_code
              LEFT JOIN ref_counties c ON g.geo_level = 'lan' AND c.county_code = g.county_code)
            ORDER BY year, CASE geo_level WHEN 'riket' THEN 0 WHEN 'lan' THEN 1 ELSE 2 END, geo_code, legal_sex
            """
        ).to_arrow_table()
    finally:
        con.close()


def denominators(paths: Paths, years: list[int] | None = None) -> pa.Table | None:
    """Children 0–17 per year × riket/län/kommun × legal sex ('1', '2', 'total'), or None without a file.

    ``years``: the years the caller needs; one the file does not have is an error naming those it has.
    """
    path = population_file(paths)
    if not path.is_file():
        return None
    sums, _ = read_population(path)
    missing = sorted(set(years or []) - set(sums.year))
    if missing:
        raise PopulationFileError(
            f"{path.name}: no population for {', '.join(map(str, missing))} "
            f"(the file has {', '.join(map(str, sorted(set(sums.year))))})"
        )
    table = _with_geographies(sums)
    return table if years is None else table.filter(pc.is_in(table["year"], pa.array(years, pa.int32())))


def build_population(paths: Paths) -> int | None:
    """Write ``4_statistics/population/data.parquet`` from the population file; rows written, or None.

    Without a file nothing is written, and an output left from an earlier file is removed, so that no
    rate is ever computed from a file that is no longer supplied.
    """
    path = population_file(paths)
    if not path.is_file():
        shutil.rmtree(output_folder(paths), ignore_errors=True)
        return None
    sums, synthetic = read_population(path)
    table = _with_geographies(sums)
    label = settings()["demo"]["label"] if synthetic else "real"
    metadata = {"statistic": "population", "source": f"SCB {spec()['table']}", "data": label}
    con = db.connect()
    try:
        con.register("population", table)
        kv = ", ".join(f"{k}: '{v.replace(chr(39), chr(39) * 2)}'" for k, v in metadata.items())
        with atomic_dir(output_folder(paths)) as out:
            con.execute(f"COPY population TO '{out / POPULATION_DATA}' ({db.PARQUET}, KV_METADATA {{{kv}}})")
    finally:
        con.close()
    return table.num_rows
