"""The operator's command line fails clearly, with exit status 2, on bad arguments and without a key."""

from __future__ import annotations

import re

import pytest

from pipelines.cli import main


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["load", "--month", "2025-13"], "is not a month"),
        (["load", "--month", "1999-01"], "outside the loadable months"),
        (["load", "--from", "2025-05", "--to", "2025-03"], "is after"),
        (["load"], "Give --month"),
    ],
)
def test_bad_months_are_refused(args: list[str], message: str, capsys, home) -> None:
    assert main(args) == 2
    assert message in capsys.readouterr().err


def test_load_without_key_says_how_to_make_one(capsys, home, monkeypatch) -> None:
    monkeypatch.delenv("OROSTAT_KEY", raising=False)
    monkeypatch.delenv("OROSTAT_KEY_FILE", raising=False)
    assert main(["load", "--month", "2025-03"]) == 2
    err = capsys.readouterr().err
    assert "OROSTAT_KEY_FILE" in err and "secrets.token_hex" in err


def test_summary_before_any_load(capsys, home) -> None:
    assert main(["summary"]) == 1
    assert "No statistics yet" in capsys.readouterr().err


def test_a_second_concurrent_load_is_refused(home) -> None:
    import fcntl

    from pipelines.core.run import _lock_path, run_months

    with _lock_path().open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        outcome = run_months("2025-03")
    assert not outcome.success and "Another load is running" in outcome.errors[0]


def test_backfill_refuses_reversed_malformed_and_overlong_ranges(capsys, home) -> None:
    assert main(["backfill", "--from", "2025-06", "--to", "2025-01"]) == 2
    assert "after" in capsys.readouterr().err
    assert main(["backfill", "--from", "2025-13", "--to", "2025-12"]) == 2
    assert "not a month" in capsys.readouterr().err
    import pipelines.core.settings as settings_module

    limits = dict(settings_module.settings()["operations"], max_backfill_years=1)
    patched = dict(settings_module.settings(), operations=limits)
    import pipelines.cli as cli

    cli.settings = lambda: patched  # type: ignore[assignment]
    try:
        assert main(["backfill", "--from", "2024-01", "--to", "2025-06"]) == 2
        assert "more than 12" in capsys.readouterr().err
    finally:
        cli.settings = settings_module.settings  # type: ignore[assignment]


def test_backfill_loads_the_range_in_one_run(capsys, home, key) -> None:
    import datetime as dt

    from tests.extracts import child, dash12, write_semicolon

    for month in ("2025-03", "2025-04"):
        write_semicolon(
            home.landing / f"0180_{month}.csv",
            [
                [
                    "0180",
                    f"R{month}",
                    dash12(child(dt.date(2015, 1, 1))),
                    f"{month}-02",
                    "POL",
                    "V1",
                    "inleds",
                    f"{month}-04",
                    "",
                ]
            ],
        )
    assert main(["backfill", "--from", "2025-03", "--to", "2025-04"]) == 0
    out = capsys.readouterr().out
    assert "2 extract months" in out
    assert len(re.findall(r"Dagster run [0-9a-f-]{36}: success", out)) == 1
    assert (home.statistics / "reports" / "as_of_month=2025-04").exists()


def test_output_into_a_closed_pipe_ends_quietly(tmp_path) -> None:
    """`orostat validate FILE | head` where the reader has gone: exit 1, no traceback on stderr."""
    import subprocess
    import sys

    path = tmp_path / "0180_2025-03.csv"
    path.write_text("a;b;c\n1;2;3\n", encoding="utf-8")  # rejected: no known dialect, a few lines of output
    child = subprocess.Popen(
        [sys.executable, "-m", "pipelines.cli", "validate", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    child.stdout.close()  # the reader is gone before the first line is written
    errors = child.stderr.read().decode()
    assert child.wait(timeout=60) == 1
    assert "Traceback" not in errors and "BrokenPipeError" not in errors, errors
