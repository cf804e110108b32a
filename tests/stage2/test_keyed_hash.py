"""The keyed pseudonym and key handling. Keys here are generated per test, never real keys."""

from __future__ import annotations

import ast
import base64
import copy
import datetime as dt
import os
import pickle
import secrets
import stat
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.stage2_pseudonymise import keyed_hash
from pipelines.stage2_pseudonymise import personnummer as pnr
from pipelines.stage2_pseudonymise.keyed_hash import (
    InvalidKeyError,
    MissingKeyError,
    PseudonymKey,
    load_key,
    new_key_file,
    pseudonymise,
)
from tests.strategies import child_numbers, written_forms

SECRET = secrets.token_bytes(32)
KEY = PseudonymKey(SECRET)


def _no_key_material(message: str, secret: bytes) -> None:
    for encoded in (
        secret.hex(),
        secret.hex().upper(),
        base64.b64encode(secret).decode(),
        base64.urlsafe_b64encode(secret).decode(),
        repr(secret),
    ):
        assert encoded not in message
        assert encoded[:16] not in message


def test_rfc_4231_test_case_2_through_the_context_copy_path() -> None:
    expected = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    # Several messages through one keyed context: each copy must start from the keyed state.
    got = list(keyed_hash._hmac_hex_many(b"Jefe", [b"what do ya want for nothing?"] * 3))
    assert got == [expected] * 3


def test_no_stdlib_hashlib_or_hmac_import() -> None:
    from pipelines.core import keys

    imported: set[str] = set()
    for module in (keyed_hash, keys):  # the pseudonym and the key material
        for node in ast.walk(ast.parse(Path(module.__file__).read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module.split(".")[0])
    assert "cryptography" in imported and not imported & {"hashlib", "hmac"}


@settings(deadline=None)  # the first example warms up the SQL path; speed is measured by benchmarks, not here
@given(child_numbers(), st.data())
def test_every_written_form_gives_the_same_pseudonym(case: tuple[str, dt.date], data: st.DataObject) -> None:
    number, reference = case
    forms = [data.draw(written_forms(number, reference)) for _ in range(3)]
    normalised = [pnr.normalise(form, reference) for form in forms]
    pseudonyms = pseudonymise(normalised, KEY).to_pylist()
    assert len(set(pseudonyms)) == 1
    assert pseudonyms[0] == pseudonymise([number], KEY)[0].as_py()


def test_pseudonymise_shapes_and_nulls() -> None:
    numbers = [pnr.generate(dt.date(2015, 5, 5), n) for n in (1, 2, 3)]
    out = pseudonymise(pa.array([numbers[0], None, numbers[1], numbers[2]]), KEY)
    assert out.type == pa.string()
    values = out.to_pylist()
    assert values[1] is None
    assert len({values[0], values[2], values[3]}) == 3
    assert all(len(v) == 64 and set(v) <= set("0123456789abcdef") for v in values if v is not None)
    assert pseudonymise(pa.chunked_array([numbers[:1], numbers[1:]]), KEY).to_pylist() == [
        values[0],
        values[2],
        values[3],
    ]
    assert len(pseudonymise([], KEY)) == 0


def test_pseudonym_depends_on_the_key() -> None:
    number = pnr.generate(dt.date(2015, 5, 5), 1)
    other = PseudonymKey(secrets.token_bytes(32))
    assert pseudonymise([number], KEY).to_pylist() != pseudonymise([number], other).to_pylist()
    assert KEY.key_id != other.key_id
    assert PseudonymKey(SECRET).key_id == KEY.key_id  # stable


def test_pseudonymise_rejects_unnormalised_values_without_showing_them() -> None:
    number = pnr.generate(dt.date(2015, 5, 5), 1)
    for bad in (number[2:], f"{number[:8]}-{number[8:]}", "１" * 12):
        with pytest.raises(ValueError) as caught:
            pseudonymise([bad], KEY)
        assert number[2:] not in str(caught.value)


def test_key_id_format_and_repr_hide_the_secret() -> None:
    assert KEY.key_id.startswith("k")
    assert len(KEY.key_id) == 13
    for text in (repr(KEY), str(KEY), f"{KEY}", repr([KEY])):
        _no_key_material(text, SECRET)
        assert KEY.key_id in text


def test_key_cannot_be_pickled_or_copied() -> None:
    with pytest.raises(TypeError):
        pickle.dumps(KEY)
    with pytest.raises(TypeError):
        copy.deepcopy(KEY)


def test_load_key_from_hex_and_base64() -> None:
    assert load_key({"OROSTAT_KEY": SECRET.hex()}).secret == SECRET
    assert load_key({"OROSTAT_KEY": SECRET.hex().upper() + "\n"}).secret == SECRET
    assert load_key({"OROSTAT_KEY": base64.b64encode(SECRET).decode()}).secret == SECRET
    assert load_key({"OROSTAT_KEY": base64.urlsafe_b64encode(SECRET).decode().rstrip("=")}).secret == SECRET
    long_secret = secrets.token_bytes(48)
    assert load_key({"OROSTAT_KEY": base64.b64encode(long_secret).decode()}).secret == long_secret


def test_env_variable_wins_over_file(tmp_path: Path) -> None:
    path = tmp_path / "key"
    path.write_text(secrets.token_hex(32))
    assert load_key({"OROSTAT_KEY": SECRET.hex(), "OROSTAT_KEY_FILE": str(path)}).secret == SECRET


def test_load_key_from_files(tmp_path: Path) -> None:
    hex_file = tmp_path / "hex"
    hex_file.write_text(SECRET.hex() + "\n")
    assert load_key({"OROSTAT_KEY_FILE": str(hex_file)}).secret == SECRET
    b64_file = tmp_path / "b64"
    b64_file.write_text(base64.b64encode(SECRET).decode() + "\r\n")
    assert load_key({"OROSTAT_KEY_FILE": str(b64_file)}).secret == SECRET
    raw = b"\xff" + secrets.token_bytes(31) + b"\n"  # not ASCII: raw bytes, final newline kept
    raw_file = tmp_path / "raw"
    raw_file.write_bytes(raw)
    assert load_key({"OROSTAT_KEY_FILE": str(raw_file)}).secret == raw


@pytest.mark.parametrize(
    "value",
    [
        secrets.token_hex(31),  # 31 bytes
        base64.b64encode(secrets.token_bytes(31)).decode(),
        "ab" * 32,  # all bytes identical
        "00" * 64,
        "not a key at all!",
    ],
    # Fixed ids: random values in test ids make pytest-xdist workers collect different test lists.
    ids=["hex_31_bytes", "base64_31_bytes", "identical_bytes", "zero_bytes", "not_a_key"],
)
def test_unusable_keys_are_rejected(value: str) -> None:
    with pytest.raises(InvalidKeyError) as caught:
        load_key({"OROSTAT_KEY": value})
    assert value not in str(caught.value)
    assert value[:16] not in str(caught.value)


def test_short_key_file_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "short"
    secret = secrets.token_bytes(16)
    path.write_bytes(b"\xff" + secret)
    with pytest.raises(InvalidKeyError) as caught:
        load_key({"OROSTAT_KEY_FILE": str(path)})
    _no_key_material(str(caught.value), secret)


def test_missing_key_message_is_actionable() -> None:
    with pytest.raises(MissingKeyError) as caught:
        load_key({"OROSTAT_KEY": "  ", "UNRELATED": SECRET.hex()})
    message = str(caught.value)
    assert "OROSTAT_KEY" in message
    assert "OROSTAT_KEY_FILE" in message
    assert 'python -c "import secrets; print(secrets.token_hex(32))"' in message
    _no_key_material(message, SECRET)
    assert isinstance(caught.value, RuntimeError)


def test_missing_key_file(tmp_path: Path) -> None:
    with pytest.raises(MissingKeyError, match="OROSTAT_KEY_FILE"):
        load_key({"OROSTAT_KEY_FILE": str(tmp_path / "absent")})


def test_load_key_defaults_to_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OROSTAT_KEY", SECRET.hex())
    monkeypatch.delenv("OROSTAT_KEY_FILE", raising=False)
    assert load_key().secret == SECRET


def test_new_key_file(tmp_path: Path) -> None:
    path = tmp_path / "orostat.key"
    key = new_key_file(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    text = path.read_text()
    assert text.endswith("\n")
    assert len(text.strip()) == 64
    assert load_key({"OROSTAT_KEY_FILE": str(path)}) == key
    with pytest.raises(FileExistsError):
        new_key_file(path)
    assert path.read_text() == text  # untouched
    assert new_key_file(tmp_path / "second").key_id != key.key_id


def test_pseudonym_key_validates_directly() -> None:
    with pytest.raises(InvalidKeyError):
        PseudonymKey(b"\x01" * 40)
    with pytest.raises(InvalidKeyError):
        PseudonymKey(b"Jefe")
    with pytest.raises(TypeError):
        PseudonymKey(SECRET.hex())  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "text",
    [
        "correct horse battery staple, my long and memorable passphrase\n",
        f"OROSTAT_KEY={SECRET.hex()}\n",
        f"0x{SECRET.hex()}\n",
        f"{SECRET.hex()[:-1]}\n",  # a digit lost: also valid base64 of other bytes
        f"# orostat key\n{SECRET.hex()}\n",
        "lösenord med åäö som är långt nog för trettiotvå byte\n",
    ],
    ids=["passphrase", "env_line", "0x_prefix", "odd_hex", "comment_line", "utf8_passphrase"],
)
def test_a_key_file_holding_other_text_is_refused_not_taken_as_raw_bytes(tmp_path: Path, text: str) -> None:
    path = tmp_path / "key"
    path.write_text(text, "utf-8")
    path.chmod(0o600)
    with pytest.raises(InvalidKeyError, match="neither hex nor base64") as caught:
        load_key({"OROSTAT_KEY_FILE": str(path)})
    _no_key_material(str(caught.value), SECRET)
    assert "\n" not in str(caught.value)


def test_a_patterned_key_is_refused() -> None:
    with pytest.raises(InvalidKeyError, match="repeated pattern"):
        load_key({"OROSTAT_KEY": "z" * 80})  # valid base64 of 60 bytes with 3 different values
    with pytest.raises(InvalidKeyError, match="repeated pattern"):
        PseudonymKey(bytes(range(4)) * 8)


def test_a_key_file_others_can_read_warns_like_ssh_or_is_refused(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pipelines.core.keys as keys

    path = tmp_path / "key"
    path.write_text(SECRET.hex() + "\n")
    path.chmod(0o600)
    with caplog.at_level("WARNING", logger="orostat.keys"):
        load_key({"OROSTAT_KEY_FILE": str(path)})
    assert not caplog.records
    path.chmod(0o644)
    with caplog.at_level("WARNING", logger="orostat.keys"):
        assert load_key({"OROSTAT_KEY_FILE": str(path)}).secret == SECRET  # default: warn, still used
    (record,) = caplog.records
    assert "UNPROTECTED KEY FILE" in record.getMessage() and "0644" in record.getMessage()
    assert f"chmod 600 {path}" in record.getMessage()
    _no_key_material(record.getMessage(), SECRET)
    monkeypatch.setattr(keys, "_file_permission_policy", lambda: "refuse")
    with pytest.raises(InvalidKeyError, match="too open"):
        load_key({"OROSTAT_KEY_FILE": str(path)})


def test_the_permission_policy_comes_from_settings() -> None:
    from pipelines.core.keys import _file_permission_policy
    from pipelines.core.settings import settings

    assert settings()["keys"]["file_permissions"] == "warn" == _file_permission_policy()
