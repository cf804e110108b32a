"""`orostat demo`: which years it runs, and that it builds the releases in month order and stops at the
first one whose audit fails (the whole run is what `make demo` measures; here the parts, quickly)."""

from __future__ import annotations

import argparse
from types import SimpleNamespace

import pytest

from pipelines.cli import demo as cli
from pipelines.cli import main
from pipelines.core.settings import settings


def _args(years: str | None = None, year: int | None = None) -> argparse.Namespace:
    return argparse.Namespace(years=years, year=year)


def test_years_from_the_settings_the_range_or_one_year() -> None:
    configured = settings()["demo"]["years"]
    assert cli._demo_years(_args()) == list(range(configured["first"], configured["last"] + 1))
    assert len(cli._demo_years(_args())) >= 3
    assert cli._demo_years(_args("2023-2025")) == [2023, 2024, 2025]
    assert cli._demo_years(_args("2024")) == [2024]
    assert cli._demo_years(_args(year=2025)) == [2025]


@pytest.mark.parametrize("text", ["2025-2023", "23-25", "2023..2025", "2000-2030"])
def test_bad_years_are_a_message(text: str) -> None:
    assert isinstance(cli._demo_years(_args(text)), str)


def test_year_and_years_together_are_refused(capsys) -> None:
    assert main(["demo", "--year", "2025", "--years", "2023-2025"]) == 2  # argparse's message, no traceback
    assert "not allowed with" in capsys.readouterr().err


def test_bad_years_exit_2_before_any_work(capsys, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("OROSTAT_HOME", str(tmp_path))
    assert main(["demo", "--years", "2025-2023"]) == 2
    assert "2025-2023" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())  # no key, nothing generated


def test_releases_in_month_order_stop_at_a_failing_audit(capsys, tmp_path, monkeypatch) -> None:
    import pipelines.stage5_protection.release as release

    monkeypatch.setenv("OROSTAT_HOME", str(tmp_path))
    built: list[str] = []

    def fake_build(home, month: str) -> SimpleNamespace:
        built.append(month)
        return SimpleNamespace(passes=month != "2023-03")

    monkeypatch.setattr(release, "build_release", fake_build)
    assert cli._demo_releases(["2023-01", "2023-02", "2023-03", "2023-04"]) is False
    assert built == ["2023-01", "2023-02", "2023-03"]  # in order, and none after the failure
    out, err = capsys.readouterr()
    assert "2023-02: audit passes" in out and "2023-03: audit FAILS" in out
    assert "2023-03 fails its audit" in err and "must not be published" in err
