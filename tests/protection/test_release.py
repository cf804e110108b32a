"""Releases built from real pipeline output (a small synthetic demo), checked from what they publish."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from pipelines.core.settings import Paths
from pipelines.stage5_protection.release import build_release, release_folder
from pipelines.stage5_protection.release_files import MANIFEST_FILE
from tests.releases import small_release_home

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def released(tmp_path_factory: pytest.TempPathFactory) -> Paths:
    mp = pytest.MonkeyPatch()
    yield small_release_home(mp, tmp_path_factory.mktemp("release"), seed=7)
    mp.undo()


def _table(home: Paths, release: str, name: str) -> pd.DataFrame:
    return pd.read_parquet(release_folder(home, release) / f"{name}.parquet")


@pytest.fixture(scope="module")
def suppressed(released: Paths, tmp_path_factory: pytest.TempPathFactory) -> Paths:
    """The same data released by the other method of release.yaml, suppression, as of March."""
    import shutil

    from pipelines.stage5_protection import release

    root = tmp_path_factory.mktemp("suppressed")
    shutil.copytree(released.data, root / "data", ignore=shutil.ignore_patterns("5_protected", "6_published"))
    mp = pytest.MonkeyPatch()
    mp.setattr(release, "method", lambda: "suppression")
    assert build_release(Paths(root), "2025-03").passes
    yield Paths(root)
    mp.undo()


def test_suppression_publishes_the_statistics_and_hides_cells_as_null(suppressed: Paths) -> None:
    released = suppressed
    outcomes = _table(released, "2025-03", "outcomes")
    total = outcomes.loc[outcomes["outcome"].eq("total") & outcomes["period_type"].eq("month")]
    stats = pd.read_parquet(released.statistics / "reports" / "as_of_month=2025-03" / "data.parquet")
    stats = stats.loc[stats["period_type"].eq("month")].set_index(["geo_code", "period"])["reports"]
    shown = total.loc[total["status"].eq("")].set_index(["geo_code", "period"])["value"]
    assert len(shown) > 10
    assert (shown == stats.reindex(shown.index).fillna(0)).all()
    hidden = outcomes.loc[outcomes["status"].eq("..")]
    assert len(hidden) > 0 and hidden["value"].isna().all()
    assert not outcomes.loc[outcomes["status"].eq(""), "value"].isna().any()


@pytest.mark.parametrize("method", ["cell_key", "suppression"])
def test_no_published_count_is_between_one_and_the_threshold(
    released: Paths, suppressed: Paths, method: str
) -> None:
    released = released if method == "cell_key" else suppressed
    for name in ["outcomes", "decision_time", "identification", "reporters", "causes", "age_sex", "children"]:
        table = _table(released, "2025-03", name)
        assert not table["value"].between(1, 4).any(), name


def test_rates_are_hidden_with_their_parts_and_csv_uses_kolada_symbols(released: Paths) -> None:
    folder = release_folder(released, "2025-03")
    rates = pd.read_parquet(folder / "rates.parquet")
    outcomes = _table(released, "2025-03", "outcomes")
    opened = outcomes.loc[outcomes["outcome"].eq("opened")].set_index(["geo_code", "period"])["status"]
    inv = rates.loc[rates["rate"].eq("investigation_rate")].set_index(["geo_code", "period"])
    assert inv.loc[opened[opened.eq("..")].index, "status"].eq("..").all()
    csv = pd.read_csv(
        folder / "outcomes.csv", sep=";", dtype=str, encoding="utf-8-sig", keep_default_na=False
    )
    assert set(csv.loc[csv["status"].eq(".."), "value"]) == {".."}
    assert csv.loc[csv["status"].eq(""), "value"].str.fullmatch(r"\d+").all()


def test_manifest_and_audit_say_what_was_done_without_values(released: Paths) -> None:
    folder = release_folder(released, "2025-03")
    manifest = json.loads((folder / MANIFEST_FILE).read_text("utf-8"))
    assert manifest["previous_release"] is None and manifest["audit"]["passes"]
    assert manifest["rules"]["threshold"] == 4 and manifest["data"].startswith("SYNTETISKA")
    audit = pd.read_parquet(folder / "audit.parquet")
    assert "value" not in audit.columns and "reason" not in " ".join(audit.columns)
    assert audit["passes"].all() and (audit["width"] >= 4).all()
    hidden = sum(t["suppressed_total"] for t in manifest["tables"].values())
    assert len(audit) == hidden
    assert manifest["disclosure_method"] == "cell_key" and manifest["cell_key"]["max_noise"] > 0
    assert set(audit["basis"]) <= {"certificate", "lp"}


def test_a_release_without_its_statistics_is_refused(released: Paths, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="load that month first"):
        build_release(Paths(tmp_path), "2025-03")


def test_the_release_runs_through_dagster_and_a_failed_audit_blocks_it(released: Paths, monkeypatch) -> None:
    from pipelines.run import run_release
    from pipelines.stage5_protection import release

    outcome = run_release("2025-03")
    assert outcome.success, outcome.errors
    real = release.build_release

    def failing(home: Paths, month: str):
        result = real(home, month)
        result.passes = False
        return result

    monkeypatch.setattr(release, "build_release", failing)  # the asset imports it when it runs
    outcome = run_release("2025-03")
    assert not outcome.success
    assert any("audit_passes" in message for message in outcome.errors)


@pytest.fixture(scope="module")
def chained(released: Paths, tmp_path_factory: pytest.TempPathFactory) -> Paths:
    """The same data, released by suppression as of February and then as of March (protected against
    February)."""
    import shutil

    from pipelines.stage5_protection import release

    root = tmp_path_factory.mktemp("chain")
    shutil.copytree(released.data, root / "data", ignore=shutil.ignore_patterns("5_protected"))
    home = Paths(root)
    mp = pytest.MonkeyPatch()
    mp.setattr(release, "method", lambda: "suppression")
    assert build_release(home, "2025-02").passes
    second = build_release(home, "2025-03")
    assert second.passes and second.previous == "2025-02"
    yield home
    mp.undo()


def test_successive_releases_keep_hidden_cells_hidden(chained: Paths) -> None:
    first = pd.read_parquet(release_folder(chained, "2025-02") / "cells.parquet")
    second = pd.read_parquet(release_folder(chained, "2025-03") / "cells.parquet")
    key = ["table", "key_text"]
    first["key_text"], second["key_text"] = (
        first["key"].map(tuple).map(str),
        second["key"].map(tuple).map(str),
    )
    both = first.merge(second, on=key, suffixes=("_before", "_now"))
    assert len(both) > 100 and both["suppressed_before"].any()
    assert both.loc[both["suppressed_before"], "suppressed_now"].all()
    manifest = json.loads((release_folder(chained, "2025-03") / MANIFEST_FILE).read_text("utf-8"))
    assert manifest["previous_release"] == "2025-02" and manifest["audit"]["passes"]


@pytest.mark.parametrize(
    ("name", "dim", "code"), [("outcomes", "outcome", "total"), ("reporters", None, None)]
)
def test_a_municipality_month_cannot_be_differenced_from_two_releases(
    chained: Paths, name: str, dim: str | None, code: str | None
) -> None:
    """Year to date as of March minus year to date as of February (counts that are never revised: all
    reports, reports per reporter) is the municipality's March; it must never be 1..4 where both show."""
    rows = []
    for release in ("2025-02", "2025-03"):
        table = _table(chained, release, name)
        table = table.loc[table["geo_level"].eq("kommun") & table["period"].eq("2025")]
        if dim is not None:
            table = table.loc[table[dim].eq(code)]
        rows.append(table.drop(columns=["release", "as_of_month", "period_type"]))
    dims = [c for c in rows[0].columns if c not in ("value", "status") and not c.endswith("_sv")]
    both = rows[0].merge(rows[1], on=dims, suffixes=("_feb", "_mar"))
    shown = both.loc[both["status_feb"].eq("") & both["status_mar"].eq("")]
    assert len(shown) > 5
    difference = shown["value_mar"] - shown["value_feb"]
    assert not difference.between(1, 4).any()


def test_without_a_population_file_rates_per_1000_are_omitted(released: Paths) -> None:
    folder = release_folder(released, "2025-03")
    assert not (folder / "population_rates.parquet").exists()
    assert not (folder / "population_rates.csv").exists()


def test_rates_per_1000_children_hide_with_their_count(released: Paths, tmp_path: Path, monkeypatch) -> None:
    from pipelines.demo.population import generate_population
    from pipelines.stage4_statistics.population import build_population
    from pipelines.stage5_protection.derived import population_rates

    csv = generate_population(tmp_path / "population.csv", 2025, seed=3)
    monkeypatch.setenv("OROSTAT_POPULATION_FILE", str(csv))
    home = Paths(tmp_path / "home")
    assert build_population(home) > 0
    outcomes = _table(released, "2025-03", "outcomes")
    rates = population_rates(home, {"outcomes": outcomes}, threshold=4)
    counts = outcomes.loc[
        outcomes["outcome"].eq("total") & outcomes["period_type"].isin(["year", "year_to_date"])
    ]
    assert set(rates["period_type"]) <= {"year", "year_to_date"} and len(rates) == len(counts)
    both = rates.merge(counts, on=["period_type", "period", "geo_code"], suffixes=("", "_count"))
    shown = both.loc[both["status"].eq("")]
    assert len(shown) > 3
    expected = (shown["value_count"] * 1000 / shown["population"]).astype(float).round(1)
    assert (shown["value"].astype(float) - expected).abs().max() < 1e-9
    hidden = both.loc[both["status_count"].eq("..") | both["value_count"].between(1, 4)]
    assert hidden["status"].eq("..").all() and hidden["value"].isna().all()
    # 2024 is not in the file and no earlier year is: missing, not invented
    assert rates.loc[rates["period"].eq("2024"), "status"].eq("-").all()


def test_percentiles_hide_where_their_group_is_small(released: Paths) -> None:
    from pipelines.stage5_protection import cells as c
    from pipelines.stage5_protection.derived import percentiles

    calendar = c.Calendar("2025-03")
    published = pd.read_parquet(release_folder(released, "2025-03") / "percentiles.parquet")
    assert set(published["status"]) <= {"", "..", "."} and published["value"].notna().any()
    strict = percentiles(released, calendar, threshold=30)  # a high threshold hides some groups
    stats = pd.concat(
        c.read_statistic(released, "decision_times", "2025-03", kind) for kind in ("month", "year")
    )
    both = strict.merge(stats[["period", "geo_code", "decided"]], on=["period", "geo_code"])
    assert len(both) == len(strict)
    small = both["decided"].between(1, 30)
    assert small.any() and (~small).any()
    assert both.loc[small, "status"].eq("..").all() and both.loc[small, "value"].isna().all()
    assert both.loc[both["decided"].eq(0), "status"].eq(".").all()
    assert both.loc[both["decided"].gt(30), "value"].notna().all()
    assert not strict["geo_level"].eq("kommun").loc[strict["period_type"].eq("month")].any()


def test_a_release_clears_the_temporaries_a_killed_release_left(released: Paths) -> None:
    """kill -9 during `orostat release` leaves write-aside folders and files; the next release (not only
    the next load) removes them, and puts back a version moved aside just before its swap."""
    from pipelines.run import run_release

    protected, published = released.protected, released.published / "release=2025-03"
    leftovers = [
        protected / ".tmp-release=2025-03-0badcafe" / "outcomes.parquet",
        published / ".tmp-rapport-0badcafe" / "index.html",
        published / ".tmp-1234abcd-orostat_2025-03.xlsx",
        published / "tabeller" / ".tmp-deadbeef-outcomes.csv",
    ]
    for path in leftovers:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("half written")
    outcome = run_release("2025-03")
    assert outcome.success, outcome.errors
    hidden = [
        p for folder in (protected, published) for p in folder.rglob(".*") if p.name[:5] in (".tmp-", ".old-")
    ]
    assert hidden == []
    assert (release_folder(released, "2025-03") / MANIFEST_FILE).exists()
    assert (published / "rapport" / "index.html").read_text("utf-8") != "half written"


@pytest.mark.parametrize("method", ["cell_key", "suppression"])
def test_a_period_with_nothing_loaded_is_missing_never_zero(
    released: Paths, suppressed: Paths, method: str
) -> None:
    """Only January–March 2025 were loaded: every figure of 2024 (months, quarters, the year) is `-`
    with no value, in every table, rate and percentile; 2025's are figures."""
    home = released if method == "cell_key" else suppressed
    folder = release_folder(home, "2025-03")
    names = ["outcomes", "decision_time", "identification", "reporters", "causes", "age_sex", "children"]
    for name in [*names, "rereported", "rates", "percentiles"]:
        table = pd.read_parquet(folder / f"{name}.parquet")
        last_year = table.loc[table["period"].str.startswith("2024")]
        # stage 4 has no percentile for a period without reports: absent there, which reads as `-`
        assert len(last_year) > 0 or name == "percentiles", name
        assert last_year["status"].eq("-").all() and last_year["value"].isna().all(), name
        this_year = table.loc[table["period"].str.startswith("2025") & table["geo_level"].eq("riket")]
        assert this_year["status"].ne("-").all(), name
    csv = pd.read_csv(
        folder / "outcomes.csv", sep=";", dtype=str, encoding="utf-8-sig", keep_default_na=False
    )
    assert set(csv.loc[csv["period"].str.startswith("2024"), "value"]) == {"-"}
