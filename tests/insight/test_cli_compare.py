"""`orostat compare` on the command line: output, chart, and exit status 2 with one line when refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.cli import main
from pipelines.core.settings import Paths
from tests.insight.published import write_monthly_releases


@pytest.fixture
def published(home: Paths) -> Paths:
    write_monthly_releases(home, effect=1.0, treated="2401", start="2024-09")
    return home


def _one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    """The message: argparse's usage then one line for a bad argument, one line alone for a refusal."""
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 or lines[0].startswith("usage:"), err
    return lines[-1]


def test_compare_prints_the_estimate_and_writes_the_chart(published: Paths, tmp_path: Path, capsys):
    chart = tmp_path / "nordmaling.svg"
    assert main(["compare", "--kommun", "2401", "--from", "2024-09", "--chart", str(chart)]) == 0
    out = capsys.readouterr().out
    assert "Nordmaling (2401)" in out and "Skattning (skillnad i skillnader)" in out
    assert "95\u00a0% konfidensintervall" in out and "Att tänka på" in out
    assert chart.read_text("utf-8").startswith("<svg")


def test_another_indicator_and_release(published: Paths, capsys):
    args = [
        "compare",
        "--kommun",
        "0180",
        "--from",
        "2025-01",
        "--indicator",
        "reports",
        "--release",
        "2025-10",
    ]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "Stockholm (0180)" in out and "– 2025-10" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--kommun", "9999", "--from", "2024-09"], "is not a kommunkod"),
        (["--kommun", "2401", "--from", "2024-13"], "is not a month"),
        (["--kommun", "2401", "--from", "2024-09", "--indicator", "nope"], "invalid choice"),
        (["--kommun", "2401"], "required"),
        (["--kommun", "2401", "--from", "2027-01"], "utanför de publicerade månaderna"),
        (["--kommun", "2401", "--from", "2024-03"], "För få månader"),
        (["--kommun", "2401", "--from", "2025-11"], "För få månader"),
        (["--kommun", "2401", "--from", "2024-09", "--release", "2023-05"], "No published release 2023-05"),
        (["--kommun", "2401", "--from", "2024-09", "--chart", "/nonexistent/x.svg"], "--chart"),
        (["--kommun", "2401", "--from", "2024-09", "--chart", "x.png"], "--chart"),
    ],
)
def test_bad_arguments_and_refusals_exit_2_with_one_line(published: Paths, capsys, args, message):
    assert main(["compare", *args]) == 2
    assert message in _one_line_error(capsys)


def test_too_many_hidden_months_is_refused(home: Paths, capsys):
    hidden = [f"2024-{m:02d}" for m in range(1, 9)]
    write_monthly_releases(home, hidden={"2401": hidden})
    assert main(["compare", "--kommun", "2401", "--from", "2024-09"]) == 2
    assert "saknar publicerat värde" in _one_line_error(capsys)


def test_nothing_published_is_refused(home: Paths, capsys):
    assert main(["compare", "--kommun", "2401", "--from", "2024-09"]) == 2
    assert "No published release" in _one_line_error(capsys)


def test_a_bad_group_file_is_one_line(published: Paths, capsys, monkeypatch: pytest.MonkeyPatch):
    from pipelines.stage6_publishing.insight import groups

    (published.home / "g.csv").write_text("kommun;grupp\n", "utf-8")
    monkeypatch.setattr(groups, "settings", lambda: {"insight": {"comparison_groups_file": "g.csv"}})
    assert main(["compare", "--kommun", "2401", "--from", "2024-09"]) == 2
    assert "the header must be kommunkod;grupp;gruppnamn" in _one_line_error(capsys)
