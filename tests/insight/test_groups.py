"""Comparison groups: the child-population bands, and the operator's CSV with its one-line refusals."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.core.schemas import insight_spec
from pipelines.core.settings import Paths
from pipelines.stage6_publishing.insight import groups
from pipelines.stage6_publishing.insight.groups import GroupFileError, read_group_file
from tests.insight.published import children_by_code, codes, write_population

BANDS = insight_spec()["groups"]["bands"]


def test_bands_are_ordered_named_once_and_the_last_is_open():
    bounds = [b["below"] for b in BANDS[:-1]]
    assert bounds == sorted(bounds) and len(set(bounds)) == len(bounds)
    assert BANDS[-1]["below"] is None
    assert 6 <= len(BANDS) <= 9
    assert len({b["code"] for b in BANDS}) == len({b["sv"] for b in BANDS}) == len(BANDS)


@settings(deadline=None)
@given(st.integers(min_value=0, max_value=1_000_000))
def test_every_population_falls_in_exactly_the_band_whose_bounds_hold_it(children: int):
    found = groups.band(children)
    index = BANDS.index(found)
    lower = BANDS[index - 1]["below"] if index else 0
    assert lower <= children
    assert found["below"] is None or children < found["below"]


def test_band_edges():
    first = BANDS[0]["below"]
    assert groups.band(first - 1)["code"] == BANDS[0]["code"]
    assert groups.band(first)["code"] == BANDS[1]["code"]
    assert groups.band(10**7)["code"] == BANDS[-1]["code"]


def test_grouping_from_the_population_output_uses_the_latest_year_not_after_the_release(home: Paths):
    children = children_by_code()
    write_population(home, children, year=2024)
    found = groups.grouping(home, 2025)
    assert found is not None and "2024" in found.source
    assert set(found.group_of) == set(codes())
    for code in ("0180", "2401", "0114"):
        assert found.group_of[code] == groups.band(children[code])["code"]
    assert sum(len(found.members(g)) for g in found.names) == 290


def test_no_population_and_no_file_means_no_groups(home: Paths):
    assert groups.grouping(home, 2025) is None


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _valid_lines() -> list[str]:
    return ["kommunkod;grupp;gruppnamn"] + [
        f"{c};{'A' if c < '1000' else 'B'};{'Norr' if c < '1000' else 'Söder'}" for c in codes()
    ]


def test_the_operator_file_is_read(tmp_path: Path):
    found = read_group_file(_write(tmp_path / "g.csv", _valid_lines()))
    assert found.names == {"A": "Norr", "B": "Söder"}
    assert found.group_of["0180"] == "A" and found.group_of["2401"] == "B"


def test_the_operator_file_setting_is_relative_to_home(home: Paths, monkeypatch: pytest.MonkeyPatch):
    home.home.mkdir(parents=True, exist_ok=True)
    _write(home.home / "grupper.csv", _valid_lines())
    monkeypatch.setattr(groups, "settings", lambda: {"insight": {"comparison_groups_file": "grupper.csv"}})
    write_population(home, children_by_code())  # the operator's file wins over the bands
    found = groups.grouping(home, 2025)
    assert found is not None and set(found.names) == {"A", "B"}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda lines: ["kommun;grupp;namn", *lines[1:]], "the header must be kommunkod;grupp;gruppnamn"),
        (lambda lines: ["kommunkod,grupp,gruppnamn", *lines[1:]], "the header must be"),
        (lambda lines: [*lines, "9999;A;Norr"], "unknown municipality codes: 9999"),
        (
            lambda lines: [ln for ln in lines if not ln.startswith("2401;")],
            "municipalities without a group: 2401",
        ),
        (lambda lines: [*lines, "0180;A;Norr"], "listed more than once: 0180"),
        (lambda lines: [*lines[:-1], lines[-1].replace("Söder", "")], "the group or its name is empty"),
        (lambda lines: [*lines, "0180;A"], "2 fields, not 3"),
        (lambda lines: [*lines[:2], lines[2].replace("Norr", "Annat")], "is named both"),
        (lambda lines: [], "(empty file)"),
    ],
)
def test_a_bad_operator_file_is_one_clear_line(tmp_path: Path, change, message: str):
    path = _write(tmp_path / "g.csv", change(_valid_lines()))
    with pytest.raises(GroupFileError) as err:
        read_group_file(path)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_a_missing_operator_file_is_refused(tmp_path: Path):
    with pytest.raises(GroupFileError, match="does not exist"):
        read_group_file(tmp_path / "none.csv")
