"""From the internal statistics (stage 4) to the cells of a release, as ``schemas/release.yaml`` declares.

Every count table becomes one long table of cells ``(geo, period, <dimension codes>) -> value`` with its
margins as rows, in the form the engine (``model.py``) takes. Periods get codes that say what they cover,
so that a cell id means the same quantity in every release: ``2025-03`` (a month), ``2025-Q1`` (a complete
quarter), ``2025-YTD11`` (January to November: the year to date of release 2025-11; a full year is
``YTD12``). Counts are added up from months, so every margin is exactly the sum of its parts.

A municipality's months are never published, but two successive year-to-date figures would give its
latest month. Each additive table therefore gets an *increment* table for the kommun level: year to date
now = year to date in the previous release + this month, with the month as a structural (never published)
cell, linked to the län months that are published. Protecting the increment protects the month.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import pandas as pd

from pipelines.core import db
from pipelines.core.files import STATISTICS_FILE
from pipelines.core.schemas import code_table, release_spec
from pipelines.core.settings import Paths
from pipelines.stage2_pseudonymise.ingest import LEDGER_FILE, LOADED
from pipelines.stage5_protection.model import Hierarchy, Link, TableSpec

GEO, PERIOD, VALUE = "geo", "period", "value"
KEY = "key_sum"  # sum of the cell's record keys (cell-key method); 0 where the source has none
KEY_SUFFIX = "_key"  # a count measure's key-sum twin in stage 4 (statistics.yaml ``key_sum``)
RIKET = "00"
INCREMENT = "__increment"  # suffix of a main table's increment table (engine only, never published)


def ytd(year: int, month: int) -> str:
    return f"{year}-YTD{month:02d}"


def quarter_of(month: str) -> str:
    return f"{month[:4]}-Q{(int(month[5:]) - 1) // 3 + 1}"


@dataclass(frozen=True)
class Calendar:
    """The periods of a release as of ``as_of`` (YYYY-MM): the current year to date and the last full year."""

    as_of: str

    @property
    def year(self) -> int:
        return int(self.as_of[:4])

    @property
    def month(self) -> int:
        return int(self.as_of[5:])

    def months(self) -> list[str]:
        last = [f"{self.year - 1}-{m:02d}" for m in range(1, 13)]
        return last + [f"{self.year}-{m:02d}" for m in range(1, self.month + 1)]

    def quarters(self) -> dict[str, list[str]]:
        """Complete quarters -> their months."""
        out: dict[str, list[str]] = {}
        for month in self.months():
            out.setdefault(quarter_of(month), []).append(month)
        return {q: ms for q, ms in out.items() if len(ms) == 3}

    def years(self) -> dict[str, list[str]]:
        """Year-to-date codes -> their months (the last full year and the current year to date)."""
        ms = self.months()
        return {
            ytd(self.year - 1, 12): ms[:12],
            ytd(self.year, self.month): ms[12:],
        }

    def hierarchy(self) -> Hierarchy:
        """Year (to date) -> complete quarters and the months after them; quarter -> months."""
        quarters = self.quarters()
        children: dict[str, list[str]] = {}
        for code, months in self.years().items():
            whole = [q for q in dict.fromkeys(quarter_of(m) for m in months) if q in quarters]
            rest = [m for m in months if quarter_of(m) not in quarters]
            children[code] = whole + rest
        return Hierarchy(children | quarters)

    def period_months(self) -> dict[str, list[str]]:
        """Every period code of the release -> its months of arrival."""
        return {m: [m] for m in self.months()} | self.quarters() | self.years()

    def period_type(self, code: str) -> str:
        if "-Q" in code:
            return "quarter"
        if "-YTD" in code:
            return "year" if code.endswith("YTD12") else "year_to_date"
        return "month"

    def previous(self) -> Calendar:
        y, m = (self.year, self.month - 1) if self.month > 1 else (self.year - 1, 12)
        return Calendar(f"{y:04d}-{m:02d}")


def tables() -> dict[str, dict[str, Any]]:
    return release_spec()["tables"]


def dims_of(name: str) -> list[str]:
    return list(tables()[name]["dimensions"])


def additive(name: str) -> bool:
    return bool(tables()[name].get("additive", True))


def geographies() -> tuple[dict[str, list[str]], dict[str, str]]:
    """(län -> kommuner, geo code -> level) from the reference tables."""
    kommuner = code_table("municipalities").to_pandas()
    lan = code_table("counties").to_pandas()["county_code"].tolist()
    children = {c: kommuner.loc[kommuner["county_code"] == c, "municipality_code"].tolist() for c in lan}
    level = (
        {RIKET: "riket"} | dict.fromkeys(lan, "lan") | dict.fromkeys(kommuner["municipality_code"], "kommun")
    )
    return children, level


def _categories(dim: dict[str, Any]) -> list[str]:
    if "categories" in dim:
        return list(dim["categories"])
    return (["total"] if dim.get("total") else []) + dimension_codes(dim)


def dimension_codes(dim: dict[str, Any]) -> list[str]:
    """A long dimension's codes: its code list, only the rows matching ``codes_where`` (column: value)."""
    where = dim.get("codes_where") or {}
    rows = code_table(dim["codes"]).to_pylist()
    return [r["code"] for r in rows if all(r[col] == value for col, value in where.items())]


def dimension_hierarchy(dim: dict[str, Any], is_additive: bool) -> Hierarchy | None:
    if "categories" in dim:
        return Hierarchy(dim["hierarchy"], is_additive) if dim.get("hierarchy") else None
    return Hierarchy.flat("total", dimension_codes(dim), is_additive) if dim.get("total") else None


def covered_months(home: Paths, as_of: str) -> set[str]:
    """Months of arrival with data: extract months up to ``as_of`` whose ledger (stage 2) has at least one
    loaded file. A month's reports arrive in its own extract, so a month whose extract was never loaded,
    or loaded nothing, has no figures, not zeros."""
    ledgers = sorted(home.pseudonymised.glob(f"extract_month=*/{LEDGER_FILE}"))
    months = [p.parent.name.split("=", 1)[1] for p in ledgers]
    wanted = [p for p, m in zip(ledgers, months, strict=True) if m <= as_of]
    if not wanted:
        return set()
    files = ", ".join(f"'{p}'" for p in wanted)
    rows = db.table(
        f"""SELECT DISTINCT regexp_extract(filename, 'extract_month=([0-9-]+)', 1) AS month
        FROM read_parquet([{files}], filename = true, union_by_name = true) WHERE status = '{LOADED}'"""
    )
    return set(rows.column("month").to_pylist())


def missing_periods(calendar: Calendar, covered: set[str]) -> set[str]:
    """Period codes of the release with a month that has no data: published as missing (-), never as
    a sum that silently leaves months out."""
    return {code for code, months in calendar.period_months().items() if not set(months) <= covered}


def read_statistic(home: Paths, statistic: str, as_of: str, period_type: str) -> pd.DataFrame:
    """One period type of a stage-4 statistic as of an extract month."""
    path = home.statistics / statistic / f"as_of_month={as_of}" / STATISTICS_FILE
    if not path.exists():
        raise FileNotFoundError(f"no statistics '{statistic}' as of {as_of}: load that month first ({path})")
    return db.table(
        f"SELECT * FROM read_parquet('{path}', hive_partitioning = false) WHERE period_type = '{period_type}'"
    ).to_pandas()


def source_cells(home: Paths, name: str, as_of: str, period_type: str) -> pd.DataFrame:
    """The table's cells for one period type of its source statistic: geo, period, dims..., value."""
    spec = tables()[name]
    src = read_statistic(home, spec["source"], as_of, period_type)
    src = src.rename(columns={"geo_code": GEO, "period": PERIOD})
    dims = spec["dimensions"]
    (first, first_dim), *_ = dims.items()
    keys = _key_sums(src)
    if "categories" in first_dim:  # a wide source: one category per expression over its columns
        # Further dimensions are columns of the source (long), with their totals added below. A value
        # the source leaves unknown (NULL: not reported) counts nothing; the release marks such cells
        # missing (module not_reported).
        long = {d: spec for d, spec in dims.items() if d != first}
        parts = [
            src[[GEO, PERIOD, *long]].assign(
                **{
                    first: code,
                    VALUE: src.eval(cat["value"]).fillna(0),
                    KEY: _eval_or_zero(keys, cat["value"]),
                }
            )
            for code, cat in first_dim["categories"].items()
        ]
        return _with_totals(pd.concat(parts, ignore_index=True), long, [first])
    base = src[[GEO, PERIOD, *dims]].assign(**{VALUE: src["reports"], KEY: _eval_or_zero(keys, "reports")})
    return _with_totals(base, dims, [])


def _with_totals(base: pd.DataFrame, dims: dict[str, Any], fixed: list[str]) -> pd.DataFrame:
    """``base`` plus totals over every combination of ``dims`` that have one (``fixed``: dimensions
    kept in every total)."""
    parts = [base]
    for subset in _total_subsets(dims):
        keep = [*fixed, *(d for d in dims if d not in subset)]
        summed = base.groupby([GEO, PERIOD, *keep], as_index=False)[[VALUE, KEY]].sum()
        parts.append(summed.assign(**dict.fromkeys(subset, "total")))
    return pd.concat(parts, ignore_index=True)


def _key_sums(src: pd.DataFrame) -> pd.DataFrame:
    """The source's key sums under the names of the counts they shadow (``decided_key`` -> ``decided``)."""
    twins = [c for c in src.columns if c.endswith(KEY_SUFFIX) and c.removesuffix(KEY_SUFFIX) in src.columns]
    return src[twins].rename(columns=lambda c: c.removesuffix(KEY_SUFFIX)).astype("int64")


def _eval_or_zero(keys: pd.DataFrame, expression: str) -> pd.Series | int:
    """A category's key sum: its expression over the key sums (sets add and subtract like counts), or 0
    where the source has no key sums (statistics counted without record keys: not perturbed)."""
    try:
        return keys.eval(expression)
    except (pd.errors.UndefinedVariableError, KeyError, ValueError):
        return 0


def _total_subsets(dims: dict[str, Any]) -> list[tuple[str, ...]]:
    with_total = [d for d, spec in dims.items() if spec.get("total")]
    return [s for n in range(1, len(with_total) + 1) for s in itertools.combinations(with_total, n)]


def complete(cells: pd.DataFrame, name: str, geos: list[str], periods: list[str]) -> pd.DataFrame:
    """Every geo × period × category combination; an absent one is a 0 (a zero is published as 0)."""
    spec = tables()[name]
    axes = [geos, periods] + [_categories(d) for d in spec["dimensions"].values()]
    keys = [GEO, PERIOD, *spec["dimensions"]]
    grid = pd.MultiIndex.from_product(axes, names=keys)
    columns = [VALUE, KEY] if KEY in cells.columns else [VALUE]
    out = cells.groupby(keys)[columns].sum().reindex(grid, fill_value=0).reset_index()
    out[columns] = out[columns].astype("int64")
    return out


def aggregate(months: pd.DataFrame, periods: dict[str, list[str]], name: str) -> pd.DataFrame:
    """Cells of the given period codes as sums of their months (counts are additive in time)."""
    mapping = pd.DataFrame([(code, m) for code, ms in periods.items() for m in ms], columns=["_code", PERIOD])
    joined = months.merge(mapping, on=PERIOD)
    keys = [GEO, "_code", *dims_of(name)]
    columns = [VALUE, KEY] if KEY in months.columns else [VALUE]
    out = joined.groupby(keys, as_index=False, sort=False)[columns].sum()
    return out.rename(columns={"_code": PERIOD})


@dataclass
class ReleaseCells:
    """The engine's input for one release: tables, specs and links (increment tables included)."""

    tables: dict[str, pd.DataFrame]
    specs: list[TableSpec]
    links: list[Link]


def month_cells(home: Paths, name: str, calendar: Calendar) -> pd.DataFrame:
    """The complete month grid of a table at every geography, as of the release's extract month."""
    _, level = geographies()
    wanted = _levels(name)
    geos = [g for g, lv in level.items() if lv in wanted]
    return complete(source_cells(home, name, calendar.as_of, "month"), name, geos, calendar.months())


def _levels(name: str) -> list[str]:
    return list(tables()[name].get("geographies") or release_spec()["geographies"])


def published_cells(home: Paths, name: str, calendar: Calendar, months: pd.DataFrame) -> pd.DataFrame:
    """The cells a release publishes for a table (all marked published), per the spec's geographies."""
    _, level = geographies()
    spec = tables()[name]
    by_level = release_spec()["geographies"]
    allowed = set(spec.get("periods") or ["month", "quarter", "year"])
    if not additive(name):  # not additive: months and years straight from the statistic
        years = source_cells(home, name, calendar.as_of, "year")
        years[PERIOD] = (
            years[PERIOD]
            .map({str(calendar.year - 1): ytd(calendar.year - 1, 12)})
            .fillna(ytd(calendar.year, calendar.month))
        )
        geos = [g for g, lv in level.items() if lv in _levels(name)]
        years = complete(years, name, geos, list(calendar.years()))
        parts = {"month": months, "year": years}
    else:
        parts = {
            "month": months,
            "quarter": aggregate(months, calendar.quarters(), name),
            "year": aggregate(months, calendar.years(), name),
        }
    frames = []
    for kind, frame in parts.items():
        if kind not in allowed:
            continue
        levels = [lv for lv, kinds in by_level.items() if kind in kinds and lv in _levels(name)]
        frames.append(frame.loc[frame[GEO].map(level).isin(levels)])
    return pd.concat(frames, ignore_index=True).assign(published=True)


def table_spec(name: str, calendar: Calendar, with_geo: bool = True) -> TableSpec:
    lan, _ = geographies()
    spec = tables()[name]
    is_additive = additive(name)
    hier: dict[str, Hierarchy | None] = {
        GEO: Hierarchy({RIKET: list(lan)} | lan) if is_additive and with_geo else None,
        PERIOD: calendar.hierarchy() if is_additive else None,
    }
    for dim, dspec in spec["dimensions"].items():
        hier[dim] = dimension_hierarchy(dspec, is_additive)
    return TableSpec(name, [GEO, PERIOD, *spec["dimensions"]], hier)


def links() -> list[Link]:
    out = []
    for name, spec in tables().items():
        if "link" in spec:
            lk = spec["link"]
            out.append(Link(name, lk["table"], left_where=lk["this"], right_where=lk["that"]))
    return out


def increment(name: str, calendar: Calendar, months: pd.DataFrame) -> tuple[pd.DataFrame, TableSpec]:
    """Kommun year to date = previous year to date + this month (both structural), län month published."""
    lan, level = geographies()
    y, m = calendar.year, calendar.month
    this = f"{y}-{m:02d}"
    before = ytd(y, m - 1)
    geo_level = months[GEO].map(level)
    kommun = months.loc[geo_level.eq("kommun")]
    sums = aggregate(
        kommun, {ytd(y, m): calendar.years()[ytd(y, m)], before: calendar.years()[ytd(y, m)][:-1]}, name
    )
    parts = [
        sums.assign(published=sums[PERIOD].eq(ytd(y, m))),
        kommun.loc[kommun[PERIOD].eq(this)].assign(published=False),
        months.loc[geo_level.eq("lan") & months[PERIOD].eq(this)].assign(published=True),
    ]
    base = table_spec(name, calendar)
    hier = dict(base.hierarchies) | {
        GEO: Hierarchy(lan),
        PERIOD: Hierarchy({ytd(y, m): [before, this]}),
    }
    inc = name + INCREMENT
    return pd.concat(parts, ignore_index=True), TableSpec(inc, base.dimensions, hier)


def needs_increment(name: str, calendar: Calendar, has_previous: bool) -> bool:
    kinds = release_spec()["geographies"].get("kommun", [])
    return (
        has_previous
        and calendar.month > 1
        and additive(name)
        and "kommun" in _levels(name)
        and "year" in kinds
        and "month" not in kinds
    )


def release_cells(
    home: Paths, calendar: Calendar, has_previous: bool
) -> tuple[ReleaseCells, dict[str, pd.DataFrame]]:
    """Engine input for the release as of ``calendar.as_of``, and each table's month grid (for reuse)."""
    out = ReleaseCells({}, [], links())
    months_by = {}
    for name in tables():
        months = month_cells(home, name, calendar)
        months_by[name] = months
        out.tables[name] = published_cells(home, name, calendar, months)
        out.specs.append(table_spec(name, calendar))
        if needs_increment(name, calendar, has_previous):
            frame, spec = increment(name, calendar, months)
            out.tables[spec.name] = frame
            out.specs.append(spec)
            out.links.append(Link(spec.name, name))
    return out, months_by


def geo_names() -> dict[str, str]:
    """Code → name of riket, every län and every kommun (short names, as published)."""
    kommuner = code_table("municipalities").to_pandas()
    lan = code_table("counties").to_pandas()
    return (
        {RIKET: "Riket"}
        | dict(zip(lan["county_code"], lan["county_name"], strict=True))
        | dict(zip(kommuner["municipality_code"], kommuner["municipality_name_short"], strict=True))
    )
