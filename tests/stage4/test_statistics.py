"""Stage 4: the generated SQL agrees with an independent pandas computation on random registers."""

from __future__ import annotations

import random

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.core.schemas import codes, statistics_spec
from pipelines.core.settings import Paths, paths
from pipelines.stage3_register.register import REGISTER_FILE
from pipelines.stage4_statistics.compute import STATISTICS_FILE, build_statistics, table_names

MUNICIPALITIES = ["0114", "0180", "0380", "1280", "1281", "2584"]


def _random_register(seed: int, n: int) -> pd.DataFrame:
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
                "reporter_group": rng.choice(codes("reporter_groups")),
                "cause_groups": sorted(rng.sample(groups, rng.randint(1, 3))),
                "outcome": outcome,
                "decided": decided,
                "days_to_decision": rng.randint(0, 30) if decided else None,
            }
        )
    return pd.DataFrame(rows)


def _write(home: Paths, register: pd.DataFrame) -> None:
    """As register entries of one extract month (2025-03), so the state as of 2025-03 is exactly them."""
    folder = home.register / "extract_month=2025-03"
    folder.mkdir(parents=True, exist_ok=True)
    entries = register.assign(valid_from="2025-03")
    pq.write_table(pa.Table.from_pandas(entries, preserve_index=False), folder / REGISTER_FILE)


def _read(home: Paths, name: str) -> pd.DataFrame:
    path = home.statistics / name / "as_of_month=2025-03" / STATISTICS_FILE
    return duckdb.sql(f"SELECT * FROM read_parquet('{path}')").df()


def _level(df: pd.DataFrame, level: str, period_type: str = "month") -> pd.DataFrame:
    return df[(df.geo_level == level) & (df.period_type == period_type)]


def _with_period(register: pd.DataFrame) -> pd.DataFrame:
    return register.assign(period=[m.strftime("%Y-%m") for m in register.month_received])


@pytest.fixture
def statistics_home(tmp_path, monkeypatch) -> Paths:
    monkeypatch.setenv("OROSTAT_HOME", str(tmp_path))
    return paths()


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10_000), n=st.integers(1, 400))
def test_reports_table_matches_pandas(statistics_home: Paths, seed: int, n: int) -> None:
    register = _random_register(seed, n)
    _write(statistics_home, register)
    register = _with_period(register)
    build_statistics(statistics_home, ["2025-03"], ["reports"])
    stats = _read(statistics_home, "reports")
    for level, key in [("kommun", "municipality_code"), ("lan", "county_code")]:
        got = _level(stats, level).set_index(["period", "geo_code"]).sort_index()
        grouped = register.groupby(["period", key])
        assert got["reports"].tolist() == grouped.size().sort_index().tolist()
        assert got["distinct_children"].tolist() == grouped["child_pseudonym"].nunique().sort_index().tolist()
        assert (
            got["opened"].tolist()
            == grouped["outcome"].apply(lambda s: (s == "inleds").sum()).sort_index().tolist()
        )
    national = _level(stats, "riket").set_index("period").sort_index()
    by_month = register.groupby("period")
    decided = by_month["decided"].sum()
    opened = by_month["outcome"].apply(lambda s: (s == "inleds").sum())
    expected_rate = (opened / decided.where(decided > 0)).round(4)
    assert national["investigation_rate"].fillna(-1).tolist() == expected_rate.fillna(-1).tolist()
    within = register[register.decided & (register.days_to_decision <= 14)].groupby("period").size()
    expected_within = [int(within.get(month, 0)) for month in national.index]
    assert national["decided_within_deadline"].tolist() == expected_within
    # Distinct children nationally count a child reported in two municipalities once.
    assert national["distinct_children"].tolist() == by_month["child_pseudonym"].nunique().tolist()
    # The year is computed from the register: a child reported in two months is one child in the year.
    (year,) = _level(stats, "riket", "year").itertuples()
    assert (year.period, year.reports) == ("2025", n)
    assert year.distinct_children == register.child_pseudonym.nunique()


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10_000))
def test_category_tables_are_complete_grids_and_count_each_cause(statistics_home: Paths, seed: int) -> None:
    register = _random_register(seed, 200)
    _write(statistics_home, register)
    build_statistics(statistics_home, ["2025-03"])
    causes = _read(statistics_home, "reports_by_cause")
    national = _level(causes, "riket").groupby("cause_group")["reports"].sum()
    expected = register.explode("cause_groups").groupby("cause_groups").size()
    assert national.to_dict() == expected.reindex(national.index, fill_value=0).to_dict()
    cells_per_geo = causes.groupby(["period_type", "period", "geo_level", "geo_code"]).size()
    assert set(cells_per_geo) == {len(codes("cause_groups"))}
    reporters = _read(statistics_home, "reports_by_reporter")
    reports = _read(statistics_home, "reports")
    merged = reporters.groupby(["period_type", "period", "geo_level", "geo_code"])["reports"].sum()
    assert (
        merged.to_dict()
        == reports.set_index(["period_type", "period", "geo_level", "geo_code"])["reports"].to_dict()
    )
    age_sex = _read(statistics_home, "reports_by_age_sex")
    assert set(age_sex.geo_level) == {"riket"}
    assert age_sex[age_sex.period_type == "month"].reports.sum() == register.child_identified.sum()


def test_written_schema_matches_the_output_contract(statistics_home: Paths) -> None:
    _write(statistics_home, _random_register(1, 50))
    spec = statistics_spec()
    build_statistics(statistics_home, ["2025-03"])
    for name in table_names():
        path = statistics_home.statistics / name / "as_of_month=2025-03" / STATISTICS_FILE
        schema = duckdb.sql(f"DESCRIBE SELECT * FROM read_parquet('{path}')").fetchall()
        got = {column: dtype for column, dtype, *_ in schema}
        table = spec["tables"][name]
        expected = {c: s["type"] for c, s in spec["columns"].items()}
        expected |= {d: s["type"] for d, s in (table.get("dimensions") or {}).items()}
        expected |= {m: s["type"] for m, s in table["measures"].items()}
        assert got == expected, name
        metadata = pq.ParquetFile(path).schema_arrow.metadata
        assert metadata[b"statistic"] == name.encode() and metadata[b"as_of_month"] == b"2025-03"
        assert metadata[b"data"] == b"real"
