"""The operator's command line fails clearly, with exit status 2, on bad arguments and without a key."""

from __future__ import annotations

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
