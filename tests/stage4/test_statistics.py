"""Stage 4: the generated SQL agrees with an independent pandas computation on random registers."""

from __future__ import annotations

import random
import shutil
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.core import db
from pipelines.core.files import STATISTICS_FILE
from pipelines.core.schemas import codes, statistics_spec
from pipelines.core.settings import Paths, paths
from pipelines.core.settings import settings as settings_yaml
from pipelines.stage3_register.register import REGISTER_FILE
from pipelines.stage4_statistics import compute, inputs, sql
from pipelines.stage4_statistics.compute import build_statistics
from pipelines.stage4_statistics.sql import table_names
from tests.registers import history_across_years, random_register, register_table, write_partitions


def _write(home: Paths, register: pd.DataFrame) -> None:
    """As register entries of one extract month (2025-03), so the state as of 2025-03 is exactly them."""
    folder = home.register / "extract_month=2025-03"
    folder.mkdir(parents=True, exist_ok=True)
    entries = register.assign(valid_from="2025-03")
    pq.write_table(register_table(entries), folder / REGISTER_FILE)


def _read(home: Paths, name: str) -> pd.DataFrame:
    path = home.statistics / name / "as_of_month=2025-03" / STATISTICS_FILE
    return db.table(f"SELECT * FROM read_parquet('{path}')").to_pandas()


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
    register = random_register(seed, n)
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
    # The investigation rate is taken over the decided reports whose 14 days are over (as of 2025-03).
    due = register.assign(due=_due(register, "2025-03")).groupby("period")["due"]
    decided = register.assign(d=_due(register, "2025-03") & register.decided).groupby("period")["d"].sum()
    opened = (
        register.assign(o=_due(register, "2025-03") & register.outcome.eq("inleds"))
        .groupby("period")["o"]
        .sum()
    )
    assert national["due"].tolist() == due.sum().tolist()
    # Shares are rounded half away from zero (0.53125 -> 0.5313), as published statistics are.
    expected_rate = np.floor(opened / decided.where(decided > 0) * 10_000 + 0.5) / 10_000
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
    register = random_register(seed, 200)
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


def test_an_undecided_report_past_its_deadline_counts_against_the_14_day_share(
    statistics_home: Paths,
) -> None:
    """Four reports of March 2025, as of March: one decided in 3 days, one undecided since 1 March
    (deadline passed), one decided in 20 days, and one received on 30 March, decided the next day (its 14
    days are not over: outside the basis). Dropping the undecided one would give 1/2, not 1/3."""
    base = random_register(7, 4).assign(
        municipality_code="0180", county_code="01", month_received=pd.Timestamp(2025, 3, 1).date()
    )
    days = [(1, "inleds", 3), (1, "ej_beslutat", None), (2, "inleds_ej", 20), (30, "inleds", 1)]
    base = base.assign(
        date_received=[pd.Timestamp(2025, 3, d).date() for d, _, _ in days],
        outcome=[o for _, o, _ in days],
        decided=[o in ("inleds", "inleds_ej") for _, o, _ in days],
        days_to_decision=[t for _, _, t in days],
    )
    _write(statistics_home, base)
    build_statistics(statistics_home, ["2025-03"], ["reports"])
    row = _level(_read(statistics_home, "reports"), "riket").set_index("period").loc["2025-03"]
    assert (row.due, row.due_within_deadline, row.due_decided, row.due_opened) == (3, 1, 2, 1)
    assert row.share_decided_within_deadline == round(1 / 3, 4)
    # the old basis (decided only) would have flattered: 2 of 3 decided were within 14 days
    assert row.decided_within_deadline / row.decided > row.share_decided_within_deadline
    assert row.investigation_rate == 0.5


def test_written_schema_matches_the_output_contract(statistics_home: Paths) -> None:
    _write(statistics_home, random_register(1, 50))
    spec = statistics_spec()
    build_statistics(statistics_home, ["2025-03"])
    for name in table_names():
        path = statistics_home.statistics / name / "as_of_month=2025-03" / STATISTICS_FILE
        schema = db.rows(f"DESCRIBE SELECT * FROM read_parquet('{path}')")
        got = {column: dtype for column, dtype, *_ in schema}
        table = spec["tables"][name]
        expected = {c: s["type"] for c, s in spec["columns"].items()}
        expected |= {d: s["type"] for d, s in (table.get("dimensions") or {}).items()}
        expected |= {m: s["type"] for m, s in table["measures"].items()}
        assert got == expected, name
        metadata = pq.ParquetFile(path).schema_arrow.metadata
        assert metadata[b"statistic"] == name.encode() and metadata[b"as_of_month"] == b"2025-03"
        assert metadata[b"data"] == b"real"


def _history(seed: int, n: int) -> pd.DataFrame:
    """Register entries over three extract months: each report first appears in its month of arrival
    and may reappear in a later extract with its decision (the state changes, the grouping does not)."""
    rng = random.Random(seed)
    base = random_register(seed, n)
    entries = []
    for report in base.to_dict("records"):
        first = report["month_received"].month  # 1..3
        entries.append(
            {**report, "valid_from": f"2025-{first:02d}", "outcome": "ej_beslutat", "decided": False}
        )
        if first < 3 and rng.random() < 0.6:
            later = rng.randint(first + 1, 3)
            entries.append({**report, "valid_from": f"2025-{later:02d}"})
        elif first == 3 or rng.random() < 0.5:
            entries[-1] = {**report, "valid_from": f"2025-{first:02d}"}
    return pd.DataFrame(entries)


def _due(state: pd.DataFrame, month: str) -> pd.Series:
    """Reports needing a decision (decided or undecided) whose 14 days are over at ``month``'s end."""
    last_day = pd.Period(month, "M").end_time.normalize()
    received = pd.to_datetime(state["date_received"])
    needs = state["decided"].astype(bool) | state["outcome"].eq("ej_beslutat")
    return needs & (received + pd.Timedelta(days=14) <= last_day)


def _naive_as_of(entries: pd.DataFrame, month: str) -> pd.DataFrame:
    current = entries[entries.valid_from <= month].sort_values("valid_from")
    return current.groupby(["municipality_code", "report_id"]).tail(1)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10_000), n=st.integers(1, 300))
def test_every_as_of_month_matches_the_naive_definition(statistics_home: Paths, seed: int, n: int) -> None:
    entries = _history(seed, n)
    # Hypothesis reuses the fixture across examples: start each example from an empty home.
    shutil.rmtree(statistics_home.data, ignore_errors=True)
    for month, part in entries.groupby("valid_from"):
        folder = statistics_home.register / f"extract_month={month}"
        folder.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pandas(part, preserve_index=False), folder / REGISTER_FILE)
    months = ["2025-01", "2025-02", "2025-03"]
    build_statistics(statistics_home, months, ["reports"])
    for month in months:
        path = statistics_home.statistics / "reports" / f"as_of_month={month}" / STATISTICS_FILE
        got = db.table(f"SELECT * FROM read_parquet('{path}')").to_pandas()
        state = _with_period(_naive_as_of(entries, month))
        for level, key in [("kommun", "municipality_code"), ("riket", None)]:
            grouped = state.groupby(["period", key] if key else ["period"])
            rows = got[(got.geo_level == level) & (got.period_type == "month")]
            rows = rows.set_index(["period", "geo_code"] if key else ["period"]).sort_index()
            assert rows["reports"].tolist() == grouped.size().sort_index().tolist(), (month, level)
            assert (
                rows["undecided"].tolist()
                == grouped["outcome"].apply(lambda s: (s == "ej_beslutat").sum()).sort_index().tolist()
            )
            assert rows["decided"].tolist() == grouped["decided"].sum().sort_index().tolist()
            # The honest basis of the 14-day share: every report needing a decision whose deadline has
            # passed by the month's end, an undecided one included (counted as not within).
            due = _due(state, month)
            by_group = state.assign(due=due, quick=due & state.decided & (state.days_to_decision <= 14))
            by_group = by_group.groupby(["period", key] if key else ["period"])
            assert rows["due"].tolist() == by_group["due"].sum().sort_index().tolist(), (month, level)
            assert rows["due_within_deadline"].tolist() == by_group["quick"].sum().sort_index().tolist()
            assert (
                rows["distinct_children"].tolist()
                == grouped["child_pseudonym"].nunique().sort_index().tolist()
            )
        year = got[(got.geo_level == "riket") & (got.period_type == "year")]
        # A period without reports as of the month has no row at all.
        assert year.reports.tolist() == ([len(state)] if len(state) else [])
        assert year.distinct_children.tolist() == ([state.child_pseudonym.nunique()] if len(state) else [])


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10_000), n=st.integers(1, 200))
def test_a_run_over_many_months_equals_each_month_on_its_own(
    statistics_home: Paths, seed: int, n: int
) -> None:
    """A backfill (months across a year boundary in one run: one query per year, superseded entries
    as ±1 events) writes exactly what loading each month alone writes (only current entries).

    Up to May: from April on a month's extracts hold only reports received in 2025, so a month continuing
    from the state leaves the children's 2024 entries unread (they cannot change a part)."""
    shutil.rmtree(statistics_home.data, ignore_errors=True)
    months = ["2024-10", "2024-11", "2024-12", "2025-01", "2025-02", "2025-03", "2025-04", "2025-05"]
    write_partitions(statistics_home, history_across_years(seed, n, months))

    def written() -> dict[tuple[str, str], pa.Table]:
        return {
            (name, month): pq.read_table(
                statistics_home.statistics / name / f"as_of_month={month}" / STATISTICS_FILE
            )
            for name in table_names()
            for month in months
        }

    build_statistics(statistics_home, months, carry=False)
    together = written()
    shutil.rmtree(statistics_home.statistics_state)
    for month in months:
        build_statistics(statistics_home, [month], carry=False)
    alone = written()
    # Month by month as loads run, each continuing from the state the previous one kept.
    for before, month in zip(["2024-09", *months], months, strict=False):
        built = build_statistics(statistics_home, [month])
        assert built.continued_from == ([before] if month != months[0] else [])
    continued = written()
    # Month by month leaves the year end and the two latest states, not one per month.
    for name in table_names():
        kept = sorted(p.name for p in (statistics_home.statistics_state / name).iterdir())
        assert kept == ["as_of_month=2024-12", "as_of_month=2025-04", "as_of_month=2025-05"], name
    # One run continuing from the state as of 2024-11 (written again here: a run keeps what it writes;
    # the December one is recomputed: its year, 2025, continues from it in turn).
    build_statistics(statistics_home, ["2024-11"])
    shutil.rmtree(statistics_home.statistics_state / "reports" / "as_of_month=2024-12")
    assert build_statistics(statistics_home, months[2:]).continued_from == ["2024-11", "2024-12"]
    resumed = written()
    assert sum(t.num_rows for t in together.values()) > 0
    for key, table in together.items():
        for other in (alone, continued, resumed):
            # values and types (a column's Parquet nullability may differ with the data; it is not contract)
            assert table.to_pylist() == other[key].to_pylist(), key
            assert [(f.name, f.type) for f in table.schema] == [(f.name, f.type) for f in other[key].schema]


def test_a_state_is_not_carried_from_a_register_that_has_changed(statistics_home: Paths) -> None:
    """A re-delivered month (its partition written again) makes every later state stale: the next
    month's statistics are computed from the register, not continued from the stale state."""
    shutil.rmtree(statistics_home.data, ignore_errors=True)
    entries = history_across_years(7, 200)
    write_partitions(statistics_home, entries)
    months = ["2024-10", "2024-11", "2024-12"]
    for month in months:
        build_statistics(statistics_home, [month], ["reports"])
    assert (statistics_home.statistics_state / "reports" / "as_of_month=2024-11").exists()
    # 2024-11 delivered again, without half of its reports
    redelivered = entries[(entries.valid_from != "2024-11") | (entries.index % 2 == 0)]
    write_partitions(statistics_home, redelivered[redelivered.valid_from == "2024-11"])
    path = statistics_home.statistics / "reports" / "as_of_month=2024-12" / STATISTICS_FILE
    build_statistics(statistics_home, ["2024-12"], ["reports"])
    after = pq.read_table(path).to_pylist()
    build_statistics(statistics_home, ["2024-12"], ["reports"], carry=False)
    assert after == pq.read_table(path).to_pylist()
    shutil.rmtree(statistics_home.register / "extract_month=2024-11")
    write_partitions(statistics_home, entries[entries.valid_from == "2024-11"])
    build_statistics(statistics_home, ["2024-12"], ["reports"], carry=False)
    assert pq.read_table(path).to_pylist() != after, "the re-delivery changed nothing: a vacuous test"


def test_synthetic_data_stay_labelled_when_a_month_continues_from_the_state_with_nothing_new(
    statistics_home: Paths,
) -> None:
    """The label (real or synthetic) goes into every file's metadata and on to the release: a month that
    delivered nothing (no entries read when continuing from the state) must not turn synthetic data real."""
    shutil.rmtree(statistics_home.data, ignore_errors=True)
    demo = settings_yaml()["demo"]
    entries = history_across_years(11, 120)
    entries["report_id"] = demo["report_id_prefix"] + entries["report_id"]
    write_partitions(statistics_home, entries)
    for month in ["2024-10", "2024-11", "2024-12", "2025-01", "2025-02", "2025-03"]:
        build_statistics(statistics_home, [month], ["reports"])
        path = statistics_home.statistics / "reports" / f"as_of_month={month}" / STATISTICS_FILE
        assert pq.read_metadata(path).metadata[b"data"] == demo["label"].encode(), month
    assert not (statistics_home.register / "extract_month=2025-03").exists()


def test_a_damaged_state_is_computed_around_not_an_error(statistics_home: Paths) -> None:
    shutil.rmtree(statistics_home.data, ignore_errors=True)
    write_partitions(statistics_home, history_across_years(5, 150))
    for month in ["2024-10", "2024-11"]:
        build_statistics(statistics_home, [month], ["reports"])
    assert build_statistics(statistics_home, ["2024-12"], ["reports"]).continued_from == ["2024-11"]
    path = statistics_home.statistics / "reports" / "as_of_month=2024-12" / STATISTICS_FILE
    carried = pq.read_table(path).to_pylist()
    damaged = statistics_home.statistics_state / "reports" / "as_of_month=2024-11" / "counted.parquet"
    damaged.write_bytes(damaged.read_bytes()[:100])  # a truncated file: no footer
    assert build_statistics(statistics_home, ["2024-12"], ["reports"]).continued_from == []
    assert pq.read_table(path).to_pylist() == carried


def test_each_year_starts_the_statistics_that_took_longest_the_year_before(
    statistics_home: Paths, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two statistics run at once: the longest go first, so that the year does not end with one core
    idle. The first year has no timings and goes by number of parts; each later year by the seconds
    each statistic took in the year before."""
    write_partitions(statistics_home, history_across_years(7, 60))
    given_timings: list[dict[str, float]] = []
    measured: list[dict[str, float]] = []
    build_year = compute._build_year

    def recorded(*args: Any) -> tuple[dict[str, int], dict[str, float]]:
        given_timings.append(dict(args[5]))
        rows, seconds = build_year(*args)
        measured.append(seconds)
        return rows, seconds

    monkeypatch.setattr(compute, "_build_year", recorded)
    build_statistics(statistics_home, ["2024-11", "2024-12", "2025-01", "2025-02"])
    assert given_timings == [{}, measured[0]]  # one run per calendar year, the second told the first's
    assert set(measured[0]) == set(table_names()) and all(s > 0 for s in measured[0].values())

    by_parts = sorted(table_names(), key=lambda name: (-len(sql.part_names(name)), name))
    assert compute._longest_first(table_names(), {}) == by_parts
    # Timings that contradict the parts' order win over it.
    reversed_timings = {name: float(rank) for rank, name in enumerate(by_parts)}
    assert compute._longest_first(table_names(), reversed_timings) == by_parts[::-1]


def test_a_lookup_is_joined_only_to_the_parts_that_read_it() -> None:
    """Joining the lookup to every event of a count that never reads it cost ≈ 40 % of that part."""
    parts = sql.parts_sql("rereported_children")
    joined = {part for part, sql in parts.items() if "lookup_earlier_report_from" in sql}
    assert joined == {"children_reported_again_values"}


def test_the_statistics_connection_keeps_the_configured_block_memory() -> None:
    """settings.yaml's statistics.block_allocator_memory reaches DuckDB (fewer page faults a year)."""
    query = "SELECT value FROM duckdb_settings() WHERE name = 'block_allocator_memory'"
    plain, statistics = db.connect(), inputs.connect()
    default = db.scalar(plain, query)
    plain.execute(f"SET block_allocator_memory = '{settings_yaml()['statistics']['block_allocator_memory']}'")
    assert db.scalar(statistics, query) == db.scalar(plain, query) != default
