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

    from pipelines.core.instance import lock_path
    from pipelines.run import run_months

    with lock_path().open("w") as fh:
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
    import pipelines.cli.load as cli

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


def _deliver(home, months: tuple[str, ...] = ("2025-03",)) -> None:
    import datetime as dt

    from tests.extracts import child, dash12, write_semicolon

    for month in months:
        row = ["0180", f"R{month}", dash12(child(dt.date(2015, 1, 1))), f"{month}-02", "POL", "V1"]
        write_semicolon(home.landing / f"0180_{month}.csv", [[*row, "inleds", f"{month}-04", ""]])


def _key_file(home, name: str, text: str, mode: int = 0o600):
    path = home.home / name
    path.write_text(text, "utf-8")
    path.chmod(mode)
    return path


_HEX = "5c" + "".join(f"{i:02x}" for i in range(1, 32))  # 32 distinct bytes (a test key, not a secret)
_OTHER_HEX = "".join(f"{(i * 7 + 3) % 256:02x}" for i in range(32))


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"OROSTAT_KEY": _HEX[:40]}, "shorter than 32 bytes"),
        ({"OROSTAT_KEY": "not a key, just some words"}, "neither hex nor base64"),
        ({"OROSTAT_KEY": "ab" * 32}, "all bytes identical"),
        ({"OROSTAT_KEY_FILE": ("garbage", "this is my key file, please keep it safe\n")}, "neither hex nor"),
        ({"OROSTAT_KEY_FILE": ("env", f"OROSTAT_KEY={_HEX}\n")}, "neither hex nor base64"),
        ({"OROSTAT_KEY_FILE": ("prefixed", f"0x{_HEX}\n")}, "neither hex nor base64"),
        ({"OROSTAT_KEY_FILE": ("absent", None)}, "does not exist"),
        ({"OROSTAT_KEY": _HEX, "OROSTAT_ARCHIVE_KEY": _OTHER_HEX[:32]}, "not exactly 32 bytes"),
        ({"OROSTAT_KEY": _HEX, "OROSTAT_ARCHIVE_KEY": _HEX}, "is the pseudonymisation key"),
        ({"OROSTAT_KEY": _HEX, "OROSTAT_ARCHIVE_KEY_FILE": ("archive", "passphrase words\n")}, "neither hex"),
    ],
    ids=[
        "short",
        "not_hex",
        "same_bytes",
        "file_garbage",
        "file_env_line",
        "file_0x_prefix",
        "file_absent",
        "archive_16_bytes",
        "archive_equal",
        "archive_file_garbage",
    ],
)
def test_every_refused_key_is_one_line_and_exit_2_before_any_work(
    env: dict, message: str, capsys, home, monkeypatch
) -> None:
    for name in ("OROSTAT_KEY", "OROSTAT_KEY_FILE", "OROSTAT_ARCHIVE_KEY", "OROSTAT_ARCHIVE_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        if isinstance(value, tuple):
            file_name, text = value
            value = str(home.home / file_name if text is None else _key_file(home, file_name, text))
        monkeypatch.setenv(name, value)
    _deliver(home)
    assert main(["load", "--month", "2025-03"]) == 2
    captured = capsys.readouterr()
    assert message in captured.err and "Traceback" not in captured.err
    assert len(captured.err.strip().splitlines()) == 1
    assert _HEX not in captured.err and _HEX[:16] not in captured.err
    assert not home.pseudonymised.exists() and not (home.dagster_home / "history").exists()  # no run


def test_the_demo_refuses_an_unusable_key_in_one_line(capsys, home, monkeypatch) -> None:
    monkeypatch.setenv("OROSTAT_KEY", "00" * 16)
    assert main(["demo", "--scale", "0.001"]) == 2
    err = capsys.readouterr().err
    assert "shorter than 32 bytes" in err and len(err.strip().splitlines()) == 1
    assert not any(home.landing.iterdir())  # nothing generated


def test_a_key_file_readable_by_others_warns_and_can_be_refused(capsys, home, monkeypatch) -> None:
    import pipelines.core.keys as keys

    monkeypatch.delenv("OROSTAT_KEY", raising=False)
    monkeypatch.setenv("OROSTAT_KEY_FILE", str(_key_file(home, "open.key", _HEX + "\n", 0o644)))
    monkeypatch.setattr(keys, "_WARNED", {})
    _deliver(home)
    assert main(["load", "--month", "2025-03"]) == 0  # the default is to warn, as ssh would
    err = capsys.readouterr().err
    assert err.count("UNPROTECTED KEY FILE: permissions 0644") == 1 and _HEX not in err
    assert keys.key_file_warnings()  # what the asset repeats in the run's log
    monkeypatch.setattr(keys, "_WARNED", {})
    monkeypatch.setattr(keys, "_file_permission_policy", lambda: "refuse")
    assert main(["load", "--month", "2025-03"]) == 2
    err = capsys.readouterr().err
    assert "UNPROTECTED KEY FILE: permissions 0644" in err and "chmod 600" in err
    assert len(err.strip().splitlines()) == 1 and _HEX not in err


def test_a_changed_key_is_refused_before_any_work_with_what_to_do(capsys, home, monkeypatch) -> None:
    from pipelines.run import run_months
    from pipelines.stage2_pseudonymise.key_check import key_ids

    monkeypatch.delenv("OROSTAT_KEY_FILE", raising=False)
    monkeypatch.setenv("OROSTAT_KEY", _HEX)
    _deliver(home, ("2025-03", "2025-04"))
    assert main(["load", "--month", "2025-03"]) == 0
    before = key_ids(home)
    months_before = sorted(p.name for p in home.pseudonymised.iterdir())
    capsys.readouterr()

    monkeypatch.setenv("OROSTAT_KEY", _OTHER_HEX)
    assert main(["load", "--month", "2025-04"]) == 2
    err = capsys.readouterr().err
    assert "orostat rotate-key" in err and "old key" in err and len(err.strip().splitlines()) == 1
    # A run the sensor or the UI starts is stopped by the asset itself, before it writes anything.
    outcome = run_months("2025-04")
    assert not outcome.success and any("orostat rotate-key" in e for e in outcome.errors)
    assert key_ids(home) == before
    assert sorted(p.name for p in home.pseudonymised.iterdir()) == months_before
    assert not (home.register / "extract_month=2025-04").exists()


def _subcommands() -> dict[str, object]:
    from pipelines.cli import parser

    (action,) = [a for a in parser()._actions if a.dest == "command"]
    return action.choices


def test_every_subcommand_has_a_description_and_an_example() -> None:
    commands = _subcommands()
    assert {"demo", "load", "backfill", "status", "summary", "release", "query", "validate", "spec"} <= set(
        commands
    )
    for name, sub in commands.items():
        assert sub.description and len(sub.description) > 40, name
        assert "examples:" in sub.epilog and f"orostat {name}" in sub.epilog, name


def test_the_top_help_names_every_command(capsys) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in _subcommands()) and "`" not in out.split("positional")[0].replace(
        "`orostat COMMAND --help`", ""
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["summary", "--as-of", "garbage"], "is not a month"),
        (["summary", "--as-of", "2024-05"], "No statistics as of 2024-05"),
        (["summary", "--kommun", "9999"], "is not a kommunkod"),
        (["summary", "--lan", "02"], "is not a länskod"),
        (["summary", "--lan", "01", "--kommun", "0180"], "not allowed with"),
        (["status", "--kommun", "01"], "is not a kommunkod"),
        (["status", "--month", "2025-3"], "is not a month"),
        (["release", "--as-of", "x"], "is not a month"),
        (["query", "SELECT 1", "--release", "2025"], "is not a month"),
        (["query", "SELECT 1", "--output", "out.txt"], "No published release"),
        (["load", "--month", "2025-03", "--from", "2025-01"], "Give --month"),
        (["validate"], "the following arguments are required"),
        (["spec", "--output", "/nonexistent/folder/spec.md"], "does not exist"),
        (["nosuchcommand"], "invalid choice"),
    ],
)
def test_bad_arguments_get_one_clear_line_and_exit_2(args, message, capsys, home) -> None:
    (home.statistics / "reports" / "as_of_month=2025-03").mkdir(parents=True)
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err, err


def test_validate_writes_feedback_only_where_asked(tmp_path, monkeypatch, capsys) -> None:
    import datetime as dt

    from tests.extracts import child, dash12, write_semicolon

    path = write_semicolon(
        tmp_path / "0180_2025-03.csv",
        [
            [
                "0180",
                "R1",
                dash12(child(dt.date(2015, 1, 1))),
                "2025-03-02",
                "XXX",
                "V1",
                "inleds",
                "2025-03-04",
                "",
            ]
        ],
    )
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    assert main(["validate", str(path)]) == 1  # a row would be quarantined (unknown reporter)
    out = capsys.readouterr().out
    assert list(work.iterdir()) == [] and "--feedback" in out
    # the row's problem names the file's own column, with the contract's field beside it
    assert "fält: Anmälare/Anmälarkategori (reporter)" in out, out
    assert main(["validate", str(path), "--feedback", "rader.csv"]) == 1
    assert [p.name for p in work.iterdir()] == ["rader.csv"]
    assert main(["validate", str(path), "--feedback", "nowhere/rader.csv"]) == 2
    assert "finns inte" in capsys.readouterr().err


def test_a_rejected_file_is_explained_in_swedish_in_the_files_own_column_names(tmp_path, capsys) -> None:
    path = tmp_path / "0180_2025-03.csv"
    # The Swedish export without its municipality column: the closest dialect names what is missing.
    path.write_text(
        "AnmälanID;Personnummer;Inkomstdatum;Anmälare;Orsaker;Beslut;Beslutsdatum\nR1;;2025-03-02;POL;V1;inleds;\n",
        encoding="utf-8-sig",
    )
    assert main(["validate", str(path)]) == 2
    out = capsys.readouterr().out
    assert "AVVISAS" in out and "Kommunkod" in out and "municipality_code" not in out
    assert "närmast är 'semikolon_utf8'" in out and "lacks" not in out
    assert main(["validate", str(path), "--english"]) == 2
    assert "needs the columns: Kommunkod/Kommun (municipality_code)" in capsys.readouterr().out


def test_status_and_summary_for_one_municipality_and_county(capsys, home, key) -> None:
    _deliver(home, ("2025-03",))
    assert main(["load", "--month", "2025-03"]) == 0
    capsys.readouterr()
    assert main(["status", "--kommun", "0180"]) == 0
    out = capsys.readouterr().out
    assert "0180 Stockholm: deliveries per extract month" in out and "2025-03" in out
    assert main(["status", "--kommun", "0114", "--month", "2025-03"]) == 1  # Upplands Väsby delivered nothing
    assert "MISSING" in capsys.readouterr().out
    assert main(["summary", "--kommun", "0180"]) == 0
    out = capsys.readouterr().out
    assert "Stockholm, as of extract 2025-03" in out and "2025-03" in out
    assert main(["summary", "--lan", "01"]) == 0
    assert "Stockholms län, as of extract 2025-03" in capsys.readouterr().out
    assert main(["summary", "--lan", "25"]) == 0  # Norrbotten: no reports, said, not a crash
    assert "no reports from this geography" in capsys.readouterr().out
