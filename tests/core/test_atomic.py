"""Write-then-rename: a failure leaves the previous version whole, and recovery keeps the last good state."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pipelines.core import atomic
from pipelines.core.atomic import atomic_dir, remove_stale_temporaries


def _write(target: Path, text: str) -> None:
    with atomic_dir(target) as tmp:
        (tmp / "data.txt").write_text(text)


def test_replaces_whole_folder(tmp_path: Path) -> None:
    target = tmp_path / "extract_month=2025-03"
    _write(target, "v1")
    _write(target, "v2")
    assert (target / "data.txt").read_text() == "v2"
    assert [p.name for p in tmp_path.iterdir()] == [target.name]


def test_failure_while_writing_keeps_previous_version(tmp_path: Path) -> None:
    target = tmp_path / "m"
    _write(target, "good")
    with pytest.raises(RuntimeError), atomic_dir(target) as tmp:
        (tmp / "data.txt").write_text("half")
        raise RuntimeError("crash")
    assert (target / "data.txt").read_text() == "good"
    assert [p.name for p in tmp_path.iterdir()] == ["m"]


def test_crash_between_the_two_renames_is_recovered(tmp_path: Path, monkeypatch) -> None:
    target = tmp_path / "m"
    _write(target, "good")
    real_replace = os.replace
    calls = []

    def dies_on_second(src, dst):
        calls.append(dst)
        if len(calls) == 2:  # old moved aside, new not yet in place
            raise SystemExit("killed")
        real_replace(src, dst)

    monkeypatch.setattr(atomic.os, "replace", dies_on_second)
    with pytest.raises(SystemExit):
        _write(target, "new")
    monkeypatch.setattr(atomic.os, "replace", real_replace)
    assert not target.exists()
    assert remove_stale_temporaries(tmp_path) >= 1
    assert (target / "data.txt").read_text() == "good"
    assert [p.name for p in tmp_path.iterdir()] == ["m"]


def test_leftovers_are_found_at_any_depth_and_only_they_are_touched(tmp_path: Path) -> None:
    """The clean-up before a load walks the whole data folder once: leftovers of a folder swap deep in
    the statistics, of a file write in the archive, and an old version whose swap never happened."""
    deep = tmp_path / "4_statistics" / "reports"
    (deep / "as_of_month=2025-03").mkdir(parents=True)
    (deep / "as_of_month=2025-03" / "data.parquet").write_text("current")
    (deep / ".tmp-as_of_month=2025-04-0badc0de").mkdir()
    (deep / ".tmp-as_of_month=2025-04-0badc0de" / "data.parquet").write_text("half")
    archive = tmp_path / "1_archive" / "extract_month=2025-04"
    archive.mkdir(parents=True)
    (archive / ".tmp-1234abcd-0180_2025-04.csv.enc").write_text("half")
    (archive / "0114_2025-04.csv.enc").write_text("whole")
    register = tmp_path / "3_register"
    (register / ".old-extract_month=2025-02-feedbeef").mkdir(parents=True)
    (register / ".old-extract_month=2025-02-feedbeef" / "register.parquet").write_text("last good")
    assert remove_stale_temporaries(tmp_path) == 3
    assert [p.name for p in deep.iterdir()] == ["as_of_month=2025-03"]
    assert [p.name for p in archive.iterdir()] == ["0114_2025-04.csv.enc"]
    assert (register / "extract_month=2025-02" / "register.parquet").read_text() == "last good"
    assert remove_stale_temporaries(tmp_path) == 0
