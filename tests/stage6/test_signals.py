"""Early-warning signals (issue 22): the model, the statuses, the labels, the report section, the summary.

Releases here are written by hand (only the tables the signals read), so each test controls every count:
a protected release as of 2025-12 holding 2024-2025, and the December releases before it holding one
earlier year each, as ``History`` reads them.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.stage6_publishing.history import History
from pipelines.stage6_publishing.insight import signal_section, signals
from pipelines.stage6_publishing.release_tables import Release
from pipelines.stage6_publishing.report import _environment

SEASON = np.array([1.0, 1.05, 1.1, 0.95, 1.1, 0.7, 0.1, 0.6, 1.45, 1.3, 1.2, 0.85])


def _series(rng: np.random.Generator, years: list[int], level: float, growth: float = 0.03) -> dict:
    """Poisson counts per month with a season and a yearly growth: {'YYYY-MM': count}."""
    out = {}
    for k, year in enumerate(years):
        for m in range(12):
            out[f"{year}-{m + 1:02d}"] = int(rng.poisson(level * SEASON[m] * (1 + growth) ** k))
    return out


def _rows(counts: dict[str, int], geo: str = "00", group: str = "skola") -> list[dict]:
    level, name = ("riket", "Riket") if geo == "00" else ("lan", f"Län {geo}")
    return [
        {"period_type": "month", "period": p, "geo_level": level, "geo_code": geo, "geo_name": name,
         "reporter_group": group, "value": float(v), "status": "", "preliminary": False}
        for p, v in counts.items()
    ]  # fmt: skip


def _write_releases(root: Path, rows: list[dict], years: list[int]) -> Release:
    """One release per December from the second year on: each holds its year and the year before."""
    frame = pd.DataFrame(rows)
    for last in years[1:]:
        folder = root / f"release={last}-12"
        folder.mkdir(parents=True)
        manifest = {"release": f"{last}-12", "as_of_month": f"{last}-12", "data": "SYNTETISKA DEMODATA"}
        (folder / "manifest.json").write_text(json.dumps(manifest), "utf-8")
        own = frame[frame["period"].str[:4].isin([str(last - 1), str(last)])]
        own.to_parquet(folder / "reporters.parquet")
        outcomes = pd.DataFrame(
            [{"period_type": "year", "period": str(y), "geo_level": "riket", "geo_code": "00",
              "geo_name": "Riket", "outcome": "total", "value": 1000.0, "status": ""}
             for y in (last - 1, last)]
        )  # fmt: skip
        outcomes.to_parquet(folder / "outcomes.parquet")
    return Release(root / f"release={years[-1]}-12")


def _assess(counts: dict[str, int], **override) -> list[dict]:
    frame = pd.DataFrame(_rows(counts))
    for period, changes in override.items():
        for column, value in changes.items():
            frame.loc[frame["period"] == period, column] = value
    return signals.assess(frame.reset_index(drop=True), {"2025"})


def test_a_planted_drop_is_flagged_in_its_first_month():
    rng = np.random.default_rng(1)
    counts = _series(rng, [2023, 2024, 2025], level=100)
    for month in ("2025-04", "2025-05"):
        counts[month] = round(counts[month] * 0.6)
    found = {r["period"]: r for r in _assess(counts)}
    assert found["2025-04"]["signal"] and found["2025-04"]["status"] == "low"
    assert found["2025-05"]["signal"]  # the April drop is left out of May's fit
    assert found["2025-04"]["observed"] < found["2025-04"]["lower"]


@pytest.mark.parametrize("method", ["glm", "ratio"])
def test_stable_poisson_series_are_not_flagged_beyond_the_nominal_rate(method):
    """200 seeded series x 12 tested months: the share flagged stays near 1 - interval level."""
    rng = np.random.default_rng(20251)
    flagged = tested = 0
    for _ in range(200):
        frame = pd.DataFrame(_rows(_series(rng, [2022, 2023, 2024, 2025], level=float(rng.uniform(30, 300)))))
        for row in signals.assess(frame, {"2025"}, method):
            tested += row["status"] in ("low", "high", "normal")
            flagged += row["signal"]
    nominal = 1 - float(signals.spec()["interval_level"])
    assert tested >= 200 * 11  # every month but a small July (below min_expected) is assessed
    assert flagged / tested <= 2.5 * nominal, f"{flagged} of {tested} flagged"


def test_fewer_than_two_earlier_years_is_a_too_short_series():
    counts = _series(np.random.default_rng(2), [2024, 2025], level=200)
    counts["2025-04"] = 10  # a collapse, but there is only one earlier April
    found = _assess(counts)
    assert {r["status"] for r in found} == {"short"}
    assert not any(r["signal"] for r in found)
    assert signals.spec()["status"]["short"] == "För kort tidsserie"


def test_suppressed_and_preliminary_months_are_not_flagged():
    counts = _series(np.random.default_rng(3), [2023, 2024, 2025], level=150)
    counts["2025-04"] = 5
    counts["2025-11"] = 5
    found = {
        r["period"]: r
        for r in _assess(
            counts, **{"2025-04": {"status": "..", "value": None}, "2025-11": {"preliminary": True}}
        )
    }
    assert found["2025-04"]["status"] == "suppressed" and not found["2025-04"]["signal"]
    assert found["2025-11"]["status"] == "preliminary" and not found["2025-11"]["signal"]
    assert found["2025-05"]["status"] == "normal"  # the hidden April does not disturb May


def test_series_labels_are_swedish_display_names():
    assert signals.series_label("reporters", "reporter_group", "skola") == "Anmälare: Skola"
    assert signals.series_label("causes", "cause_group", "vald") == "Orsaksgrupp: Våld i nära relation"


@pytest.fixture
def planted_release(tmp_path: Path) -> Release:
    rng = np.random.default_rng(4)
    years = [2023, 2024, 2025]
    rows = _rows(_series(rng, years, 900))
    county = _series(rng, years, 120)
    for month in ("2025-04", "2025-05"):
        county[month] = round(county[month] * 0.6)
    rows += _rows(county, geo="12")
    rows += _rows(_series(rng, years, 300), group="polis")
    return _write_releases(tmp_path / "5_protected", rows, years)


def test_report_section_lists_the_signal_in_swedish(planted_release: Release, tmp_path: Path):
    history = History(planted_release)
    found = signals.compute(history)
    hit = found[found["signal"]]
    assert ("12", "2025-04") in set(zip(hit["geo_code"], hit["period"], strict=True))
    contexts = signal_section.contexts(history)
    assert set(contexts) >= {"00", "12"}
    template = _environment().get_template("_signals.html")
    html = template.render(signals=contexts, page={"geo": "00"})
    assert 'id="signaler"' in html and "<h2>Signaler</h2>" in html and "<caption>" in html
    assert "apr 2025" in html and "Anmälare: Skola" in html and "skola" not in html.replace("Skola", "")
    assert "<svg" in html and "Lägre än väntat" in html
    assert template.render(signals=contexts, page={"geo": "2480"}).strip() == ""  # no kommun section
    csv = signals.write_csv(history, tmp_path)
    written = pd.read_csv(csv, dtype={"geo_code": str})
    assert len(written) == len(found) and written["signal"].sum() == len(hit)


def test_summary_prints_the_latest_releases_signals(planted_release: Release, tmp_path: Path):
    published = tmp_path / "6_published"
    signals.write_csv(History(planted_release), published / "release=2025-12")
    lines = signals.summary_lines(published)
    assert lines[0].startswith("Signaler i publiceringen 2025-12")
    assert any("2025-04" in line and "Län 12" in line and "Lägre än väntat" in line for line in lines)


def test_orostat_summary_ends_with_the_signals(planted_release: Release, home, monkeypatch, capsys):
    from pipelines.cli import main, read

    (home.statistics / "reports" / "as_of_month=2025-12").mkdir(parents=True)
    monkeypatch.setattr(read, "print_summary", lambda *args: print("(internal summary)"))
    signals.write_csv(History(planted_release), home.published / "release=2025-12")
    assert main(["summary"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("(internal summary)\nSignaler i publiceringen 2025-12")
    assert "Anmälare: Skola" in out and "Lägre än väntat" in out


@settings(max_examples=40, deadline=None)
@given(
    level=st.floats(0.05, 400),
    seed=st.integers(0, 2**32 - 1),
    zero_month=st.sampled_from([None, 7]),
)
def test_any_series_gets_a_sane_expectation_or_none(level: float, seed: int, zero_month: int | None):
    """Small, sparse, suppressed or seasonal-zero series: every expectation is finite and near the counts
    seen (no trend extrapolated to millions), and only an assessed month can be a signal."""
    counts = _series(np.random.default_rng(seed), [2022, 2023, 2024, 2025], level)
    if zero_month:
        counts = {p: 0 if int(p[5:]) == zero_month else v for p, v in counts.items()}
    frame = pd.DataFrame(_rows(counts))
    hidden = frame["value"].between(1, 4)  # as the release hides them
    frame.loc[hidden, ["value", "status"]] = [None, ".."]
    for row in signals.assess(frame, {"2025"}):
        if row["expected"] is not None:
            assert np.isfinite(row["expected"]) and row["expected"] <= 10 * max(counts.values()) + 10
        assert row["signal"] == (row["status"] in ("low", "high"))
        assert row["status"] in signals.spec()["status"]


def test_publishing_writes_the_section_and_signaler_csv_and_a_republish_rewrites_it(published):
    """The small release (Jan–Mar 2025, no earlier year): every month too short a series, said so."""
    from dagster import materialize

    from pipelines.stage6_publishing.assets import published_report
    from pipelines.stage6_publishing.release_tables import published_folder
    from tests.stage6.conftest import RELEASE

    folder = published_folder(published, RELEASE)
    csv = folder / signals.spec()["csv"]
    written = pd.read_csv(csv, dtype={"geo_code": str})
    assert len(written) and set(written["status"]) <= {"short", "suppressed"}
    assert set(written["status_sv"]) <= {"För kort tidsserie", "Visas inte (sekretess eller saknas)"}
    assert not written["signal"].any()
    index = (folder / "rapport" / "index.html").read_text("utf-8")
    assert 'data-testid="signals"' in index and 'data-testid="no-signals"' in index
    assert 'id="signaler"' not in (folder / "rapport" / "lan" / "01.html").read_text("utf-8")
    csv.unlink()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("OROSTAT_HOME", str(published.home))
        assert materialize([published_report], partition_key=RELEASE).success
    assert pd.read_csv(csv, dtype={"geo_code": str}).equals(written)
