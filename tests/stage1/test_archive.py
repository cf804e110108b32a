"""Retained extracts: encrypted with AES-256-GCM under a separate archive key, tamper-evident, read back in
memory only, and enough to rebuild everything with a new pseudonymisation key."""

from __future__ import annotations

import datetime as dt
import os
import secrets
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from pipelines.core import db
from pipelines.core.digest import sha256_of
from pipelines.core.files import LEDGER_FILE, REPORTS_FILE
from pipelines.core.settings import Paths, settings
from pipelines.stage1_landing.archive import (
    ArchiveError,
    ArchiveKey,
    InvalidArchiveKeyError,
    MissingArchiveKeyError,
    archive_key_or_none,
    archive_path,
    archived_extracts,
    decrypt,
    encrypt_file,
    load_archive_key,
    retain_month,
    verify,
)
from pipelines.stage2_pseudonymise.ingest import load_month
from pipelines.stage2_pseudonymise.key_check import key_ids
from pipelines.stage2_pseudonymise.keyed_hash import load_key
from tests.extracts import child, dash10, dash12, write_comma, write_semicolon

MONTH = "2025-03"
KIDS = [child(dt.date(2012 + n, 1 + n, 10 + n), 100 + n) for n in range(4)]


@pytest.fixture
def archive_key(monkeypatch: pytest.MonkeyPatch) -> ArchiveKey:
    monkeypatch.delenv("OROSTAT_ARCHIVE_KEY_FILE", raising=False)
    monkeypatch.setenv("OROSTAT_ARCHIVE_KEY", secrets.token_hex(32))
    return load_archive_key()


def _rows(kids: list[str], month: str = MONTH, prefix: str = "S") -> list[list[str]]:
    return [
        ["0180", f"{prefix}{i}", dash12(pnr), f"{month}-0{i + 1}", "POL", "V1", "inleds", f"{month}-12", ""]
        for i, pnr in enumerate(kids)
    ]


def _deliver(home: Paths) -> list[Path]:
    first = write_semicolon(home.landing / f"0180_{MONTH}.csv", _rows(KIDS[:3]))
    second = write_comma(
        home.landing / f"1480_{MONTH}.csv",
        [["1480", "K1", dash10(KIDS[3]), "06.03.2025", "Skola", "B3", "Pågående", "", ""]],
    )
    return [first, second]


def _table(path: Path) -> list[dict]:
    return db.table(f"SELECT * FROM read_parquet('{path}') ORDER BY ALL").to_pylist()


def _number_forms(pnr: str) -> list[bytes]:
    return [form.encode() for form in (pnr, pnr[2:], dash12(pnr), dash10(pnr))]


def _files_holding_a_number(folder: Path) -> list[Path]:
    """Every file under ``folder`` in which any form of any test personnummer can be read."""
    needles = [form for pnr in KIDS for form in _number_forms(pnr)]
    return [
        path
        for path in folder.rglob("*")
        if path.is_file() and any(needle in path.read_bytes() for needle in needles)
    ]


# --- the format ------------------------------------------------------------------------------------------


@hypothesis_settings(max_examples=40, deadline=None)
@given(content=st.binary(min_size=0, max_size=300), chunk=st.integers(min_value=1, max_value=64))
def test_round_trip_for_any_content_and_chunk_size(content: bytes, chunk: int) -> None:
    key = ArchiveKey(secrets.token_bytes(32))
    with tempfile.TemporaryDirectory() as tmp, pytest.MonkeyPatch.context() as patch:
        patch.setitem(settings()["archive"], "chunk_bytes", chunk)
        source = Path(tmp) / "0180_2025-03.csv"
        source.write_bytes(content)
        sha = sha256_of(source)
        target = Path(tmp) / "archive" / "0180_2025-03.csv.enc"
        encrypt_file(source, target, sha, key)
        assert decrypt(target, key) == content
        verify(target, key, sha)
        # Ciphertext, not plaintext: any 16 bytes of content reappear only by a 2^-128 chance.
        assert len(content) < 16 or content[:16] not in target.read_bytes()


def test_a_file_changed_since_it_was_loaded_is_not_archived(tmp_path: Path) -> None:
    key = ArchiveKey(secrets.token_bytes(32))
    source = write_semicolon(tmp_path / "0180_2025-03.csv", _rows(KIDS[:1]))
    loaded = sha256_of(source)
    write_semicolon(source, _rows(KIDS[:2]))  # re-delivered under the same name after the load
    target = tmp_path / "a" / "0180_2025-03.csv.enc"
    with pytest.raises(ArchiveError, match="no longer the file that was loaded"):
        encrypt_file(source, target, loaded, key)
    assert not target.exists() and not any((tmp_path / "a").iterdir())


@pytest.fixture
def sealed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, ArchiveKey, bytes]:
    """An extract archived in small chunks, so tampering can hit any of several."""
    monkeypatch.setitem(settings()["archive"], "chunk_bytes", 64)
    key = ArchiveKey(secrets.token_bytes(32))
    source = write_semicolon(tmp_path / "0180_2025-03.csv", _rows(KIDS))
    content = source.read_bytes()
    target = tmp_path / "archive" / "0180_2025-03.csv.enc"
    encrypt_file(source, target, sha256_of(source), key)
    return target, key, content


def _assert_safe(err: pytest.ExceptionInfo, content: bytes) -> None:
    """The message names the problem and never quotes the file's content."""
    message = str(err.value)
    assert message and not any(form.decode() in message for pnr in KIDS for form in _number_forms(pnr))
    assert not any(len(line) > 8 and line in message for line in content.decode("utf-8-sig").splitlines())


@pytest.mark.parametrize("where", ["header", "first_chunk", "middle_chunk", "tag"])
def test_a_flipped_byte_is_detected(sealed, where: str) -> None:
    target, key, content = sealed
    data = bytearray(target.read_bytes())
    header_end = data.index(b"}") + 1
    position = {
        "header": data.index(b"sha256") + 12,
        "first_chunk": header_end + 3,
        "middle_chunk": header_end + (len(data) - header_end) // 2,
        "tag": len(data) - 1,
    }[where]
    data[position] ^= 0x01
    target.write_bytes(bytes(data))
    with pytest.raises(ArchiveError) as err:
        decrypt(target, key)
    _assert_safe(err, content)


def test_truncation_and_appended_data_are_detected(sealed) -> None:
    target, key, content = sealed
    whole = target.read_bytes()
    for altered, expected in ((whole[:-20], "truncated"), (whole + b"\x00", "after its end")):
        target.write_bytes(altered)
        with pytest.raises(ArchiveError, match=expected) as err:
            decrypt(target, key)
        _assert_safe(err, content)


def test_a_renamed_or_swapped_file_is_detected(sealed, tmp_path: Path) -> None:
    target, key, content = sealed
    renamed = target.with_name("1480_2025-03.csv.enc")
    target.rename(renamed)
    with pytest.raises(ArchiveError, match="renamed or swapped") as err:
        decrypt(renamed, key)
    _assert_safe(err, content)
    # Even with the name in its header rewritten to match, the name is bound to every chunk.
    data = renamed.read_bytes().replace(b'"name":"0180_', b'"name":"1480_')
    renamed.write_bytes(data)
    with pytest.raises(ArchiveError, match="fails authentication") as err:
        decrypt(renamed, key)
    _assert_safe(err, content)


def test_the_wrong_key_is_detected(sealed) -> None:
    target, _, content = sealed
    other = ArchiveKey(secrets.token_bytes(32))
    with pytest.raises(ArchiveError, match=r"encrypted with archive key a[0-9a-f]{12}") as err:
        decrypt(target, other)
    _assert_safe(err, content)
    # A header claiming the other key's id does not help: the tag still fails.
    forged = target.read_bytes().replace(_key_id_in(target).encode(), other.key_id.encode())
    target.write_bytes(forged)
    with pytest.raises(ArchiveError, match="fails authentication"):
        decrypt(target, other)


def _key_id_in(target: Path) -> str:
    data = target.read_bytes()
    start = data.index(b'"key_id":"') + len(b'"key_id":"')
    return data[start : data.index(b'"', start)].decode()


# --- the archive key --------------------------------------------------------------------------------------


def test_archive_key_is_optional_but_never_the_pseudonymisation_key(monkeypatch, key) -> None:
    monkeypatch.delenv("OROSTAT_ARCHIVE_KEY", raising=False)
    monkeypatch.delenv("OROSTAT_ARCHIVE_KEY_FILE", raising=False)
    assert archive_key_or_none() is None
    with pytest.raises(MissingArchiveKeyError, match="OROSTAT_ARCHIVE_KEY_FILE"):
        load_archive_key()
    monkeypatch.setenv("OROSTAT_ARCHIVE_KEY", os.environ["OROSTAT_KEY"])
    with pytest.raises(InvalidArchiveKeyError, match="separate key") as err:
        archive_key_or_none()
    assert os.environ["OROSTAT_KEY"] not in str(err.value)
    monkeypatch.setenv("OROSTAT_ARCHIVE_KEY", secrets.token_hex(16))
    with pytest.raises(InvalidArchiveKeyError, match="exactly 32 bytes"):
        archive_key_or_none()


def test_archive_key_from_a_file_has_a_stable_id_apart_from_the_secret(tmp_path, monkeypatch) -> None:
    secret = secrets.token_hex(32)
    (tmp_path / "archive.key").write_text(secret + "\n")
    monkeypatch.delenv("OROSTAT_ARCHIVE_KEY", raising=False)
    monkeypatch.setenv("OROSTAT_ARCHIVE_KEY_FILE", str(tmp_path / "archive.key"))
    key = load_archive_key()
    assert key.key_id == ArchiveKey(bytes.fromhex(secret)).key_id and key.key_id.startswith("a")
    assert secret not in repr(key) and key.key_id not in secret
    with pytest.raises(TypeError):
        import pickle

        pickle.dumps(key)


# --- loading from the archive ---------------------------------------------------------------------------


def test_loaded_month_is_archived_and_reloads_identically_from_memory(home: Paths, key, archive_key) -> None:
    files = _deliver(home)
    load_month(MONTH, key, home)
    before = {name: _table(home.extract_month(MONTH) / name) for name in (REPORTS_FILE, LEDGER_FILE)}
    retained = retain_month(home, MONTH, archive_key)
    assert (retained.archived, retained.kept_plaintext) == (2, 0)
    assert not any(path.exists() for path in files)
    assert [a.name for a in archived_extracts(home, MONTH)] == [p.name for p in files]
    assert _files_holding_a_number(home.data) == []  # no plaintext left anywhere on disk

    again = load_month(MONTH, key, home)
    assert again.skipped_unchanged  # same plaintext SHA-256, same key: not redone

    shutil.rmtree(home.extract_month(MONTH))  # force a real reload from the archive
    reloaded = load_month(MONTH, key, home)
    assert not reloaded.skipped_unchanged and reloaded.accepted == 4
    assert {name: _table(home.extract_month(MONTH) / name) for name in before} == before
    assert _files_holding_a_number(home.data) == []  # decrypted in memory, never written out


def test_archived_month_without_the_archive_key_stops_the_load(
    home: Paths, key, archive_key, monkeypatch
) -> None:
    _deliver(home)
    load_month(MONTH, key, home)
    retain_month(home, MONTH, archive_key)
    monkeypatch.delenv("OROSTAT_ARCHIVE_KEY")
    assert load_month(MONTH, key, home).skipped_unchanged  # unchanged: no decryption needed
    other = load_key({"OROSTAT_KEY": secrets.token_hex(32)})
    with pytest.raises(MissingArchiveKeyError, match="No archive key"):
        load_month(MONTH, other, home)  # a new key needs the rows: never silently drop the archive


def test_corrected_redelivery_beside_an_archived_file_wins(home: Paths, key, archive_key) -> None:
    write_semicolon(home.landing / f"0180_{MONTH}.csv", _rows(KIDS[:3]))
    load_month(MONTH, key, home)
    retain_month(home, MONTH, archive_key)
    corrected = write_semicolon(home.landing / f"0180_{MONTH}_rattad.csv", _rows(KIDS[:2], prefix="R"))
    later = archived_extracts(home, MONTH)[0].mtime_ns + 10**9
    os.utime(corrected, ns=(later, later))

    load = load_month(MONTH, key, home)
    assert load.accepted == 2
    assert {r["report_id"] for r in _table(home.extract_month(MONTH) / REPORTS_FILE)} == {"R0", "R1"}
    ledger = {r["source_file"]: r["status"] for r in _table(home.extract_month(MONTH) / LEDGER_FILE)}
    assert ledger == {f"0180_{MONTH}.csv": "ersatt", f"0180_{MONTH}_rattad.csv": "inläst"}

    assert retain_month(home, MONTH, archive_key).archived == 1
    assert load_month(MONTH, key, home).skipped_unchanged  # both now archived: still the same load


def test_redelivery_under_the_same_name_replaces_the_archived_file(home: Paths, key, archive_key) -> None:
    write_semicolon(home.landing / f"0180_{MONTH}.csv", _rows(KIDS[:3]))
    load_month(MONTH, key, home)
    retain_month(home, MONTH, archive_key)
    write_semicolon(home.landing / f"0180_{MONTH}.csv", _rows(KIDS[:1], prefix="N"))
    # Delivered but not loaded yet: the plaintext waits for the load that reads it.
    assert retain_month(home, MONTH, archive_key).kept_plaintext == 1
    assert load_month(MONTH, key, home).accepted == 1
    assert retain_month(home, MONTH, archive_key).archived == 1
    (archived,) = archived_extracts(home, MONTH)
    ledger = _table(home.extract_month(MONTH) / LEDGER_FILE)
    assert [(r["source_file"], r["sha256"]) for r in ledger] == [(archived.name, archived.sha256)]
    assert archive_path(home, archived.name) == archived.path


def test_a_tampered_archive_stops_the_reload(home: Paths, key, archive_key) -> None:
    _deliver(home)
    load_month(MONTH, key, home)
    retain_month(home, MONTH, archive_key)
    target = archive_path(home, f"0180_{MONTH}.csv")
    data = bytearray(target.read_bytes())
    data[-5] ^= 0xFF
    target.write_bytes(bytes(data))
    other = load_key({"OROSTAT_KEY": secrets.token_hex(32)})
    with pytest.raises(ArchiveError, match="fails authentication"):
        load_month(MONTH, other, home)
    assert _table(home.extract_month(MONTH) / REPORTS_FILE)[0]["key_id"] == key.key_id  # old load intact


# --- key rotation through Dagster ------------------------------------------------------------------------


def _statistics(home: Paths) -> list[dict]:
    glob = home.statistics / "reports" / "*" / "data.parquet"
    return db.table(
        f"SELECT * FROM read_parquet('{glob}', hive_partitioning = true) ORDER BY ALL"
    ).to_pylist()


def test_rotation_rebuilds_everything_from_the_archive_with_the_new_key(
    home: Paths, key, archive_key, monkeypatch, capsys
) -> None:
    from pipelines.cli import main

    for month in ("2025-02", MONTH):
        write_semicolon(home.landing / f"0180_{month}.csv", _rows(KIDS[:3], month=month, prefix=month))
    assert main(["load", "--from", "2025-02", "--to", MONTH]) == 0
    assert [p.name for p in home.landing.iterdir() if p.is_file()] == []  # archived by the run
    assert len(archived_extracts(home, "2025-02")) == len(archived_extracts(home, MONTH)) == 1
    statistics = _statistics(home)
    assert statistics and {r["as_of_month"] for r in statistics} == {"2025-02", MONTH}
    assert key_ids(home) == {"pseudonymised": {key.key_id}, "register": {key.key_id}}

    new = secrets.token_hex(32)
    monkeypatch.setenv("OROSTAT_KEY", new)
    new_id = load_key().key_id
    capsys.readouterr()
    assert main(["rotate-key"]) == 0
    out = capsys.readouterr().out
    assert f"{key.key_id} → {new_id}" in out and "2025-02 … 2025-03" in out
    assert key_ids(home) == {"pseudonymised": {new_id}, "register": {new_id}}
    register = db.table(
        f"SELECT key_id FROM read_parquet('{home.register}/extract_month=*/register.parquet')"
    ).column("key_id")
    assert register.null_count == 0 and set(register.to_pylist()) == {new_id}
    assert _statistics(home) == statistics
    assert _files_holding_a_number(home.data) == []

    assert main(["rotate-key"]) == 0  # nothing left to rotate
    assert "already carries" in capsys.readouterr().out


def test_rotation_refuses_when_an_extract_is_not_retained(
    home: Paths, key, archive_key, monkeypatch, capsys
) -> None:
    from pipelines.cli import main

    _deliver(home)
    load_month(MONTH, key, home)
    retain_month(home, MONTH, archive_key)
    archive_path(home, f"1480_{MONTH}.csv").unlink()
    monkeypatch.setenv("OROSTAT_KEY", secrets.token_hex(32))
    assert main(["rotate-key"]) == 2
    err = capsys.readouterr().err
    assert "Not every loaded extract is retained" in err and f"{MONTH} (1 files)" in err
    assert key_ids(home)["pseudonymised"] == {key.key_id}  # nothing was touched


def test_without_an_archive_key_the_plaintext_stays_and_the_run_says_so(
    home: Paths, key, monkeypatch, capfd
) -> None:
    from pipelines.cli import main

    monkeypatch.delenv("OROSTAT_ARCHIVE_KEY", raising=False)
    monkeypatch.delenv("OROSTAT_ARCHIVE_KEY_FILE", raising=False)
    files = _deliver(home)
    assert main(["load", "--month", MONTH]) == 0
    assert all(path.exists() for path in files) and not home.archive.exists()
    captured = capfd.readouterr()
    assert "No archive key (OROSTAT_ARCHIVE_KEY / OROSTAT_ARCHIVE_KEY_FILE)" in captured.out + captured.err
