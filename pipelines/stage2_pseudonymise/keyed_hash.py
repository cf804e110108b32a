"""The keyed pseudonym: HMAC-SHA256 (RFC 2104) of the normalised 12-digit personnummer.

An unkeyed hash of a personnummer protects nothing (all children's numbers hash in about a second), so
the key is everything: at least 32 random bytes, kept apart from the data, never logged, and identified
by a ``key_id`` derived from the key so that pseudonyms from different keys are never mixed up.

Only ``cryptography`` is used (no stdlib ``hashlib``/``hmac``). Key material never appears in a repr,
an exception message or a pickle: ``PseudonymKey`` refuses to be pickled, because orchestrators store
pickled return values.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import secrets
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

import pyarrow as pa
from cryptography.hazmat.primitives import hashes, hmac

__all__ = [
    "KEY_ENV",
    "KEY_FILE_ENV",
    "MIN_KEY_BYTES",
    "InvalidKeyError",
    "MissingKeyError",
    "PseudonymKey",
    "load_key",
    "new_key_file",
    "pseudonymise",
]

KEY_ENV = "OROSTAT_KEY"
KEY_FILE_ENV = "OROSTAT_KEY_FILE"
MIN_KEY_BYTES = 32
_KEY_ID_MESSAGE = b"orostat key id v1"
_HEX_RE = re.compile(r"(?:[0-9a-fA-F]{2})+")
_BASE64_RE = re.compile(r"[A-Za-z0-9+/\-_]+={0,2}")
_HOW_TO = (
    f"Set {KEY_ENV} to a secret of at least {MIN_KEY_BYTES} random bytes written as hex or base64, or set "
    f"{KEY_FILE_ENV} to the path of a file holding one (mode 0600, stored apart from the data). "
    'Make one with: python -c "import secrets; print(secrets.token_hex(32))"'
)


class MissingKeyError(RuntimeError):
    """No pseudonymisation key is configured."""


class InvalidKeyError(ValueError):
    """A key is configured but unusable (too short, not hex/base64, all bytes identical)."""


def _hmac_context(secret: bytes) -> hmac.HMAC:
    return hmac.HMAC(secret, hashes.SHA256())


def _hmac_hex_many(secret: bytes, messages: Iterable[bytes]) -> Iterator[str]:
    """HMAC-SHA256 hex of each message: the key is set up once and the context copied per value.

    Copying a keyed context skips the two key-pad compressions per value, which is the fast path the
    ``cryptography`` documentation describes for many messages under one key.
    """
    keyed = _hmac_context(secret)
    for message in messages:
        context = keyed.copy()
        context.update(message)
        yield context.finalize().hex()


def _derive_key_id(secret: bytes) -> str:
    context = _hmac_context(secret)
    context.update(_KEY_ID_MESSAGE)
    return "k" + context.finalize().hex()[:12]


def _check_secret(secret: bytes) -> None:
    if len(secret) < MIN_KEY_BYTES:
        raise InvalidKeyError(f"The pseudonymisation key is shorter than {MIN_KEY_BYTES} bytes. " + _HOW_TO)
    if len(set(secret)) == 1:
        raise InvalidKeyError(f"The pseudonymisation key has all bytes identical. {_HOW_TO}")


@dataclass(frozen=True)
class PseudonymKey:
    """A validated HMAC key. ``key_id`` is derived from the secret and reveals nothing about it."""

    secret: bytes = field(repr=False)
    key_id: str = field(init=False)

    def __post_init__(self) -> None:
        if not isinstance(self.secret, bytes):
            raise TypeError("PseudonymKey.secret must be bytes")
        _check_secret(self.secret)
        object.__setattr__(self, "key_id", _derive_key_id(self.secret))

    def __reduce__(self) -> NoReturn:
        # Orchestrators pickle return values into run storage; a key must never end up there.
        raise TypeError("PseudonymKey must not be pickled or copied; pass the key_id and load the key again")


def _decode_text_key(text: str) -> bytes | None:
    """Bytes of a hex or (standard or URL-safe) base64 key, or None if the text is neither."""
    if _HEX_RE.fullmatch(text):
        return bytes.fromhex(text)  # hex wins: a hex string is also valid base64 of other bytes
    if not _BASE64_RE.fullmatch(text):
        return None
    standard = text.replace("-", "+").replace("_", "/").rstrip("=")
    try:
        return base64.b64decode(standard + "=" * (-len(standard) % 4), validate=True)
    except binascii.Error:
        return None


def _key_from_env_value(text: str) -> PseudonymKey:
    secret = _decode_text_key(text.strip())
    if secret is None:
        raise InvalidKeyError(f"{KEY_ENV} is neither hex nor base64. " + _HOW_TO)
    return PseudonymKey(secret)


def _key_from_file(path: Path) -> PseudonymKey:
    """Hex/base64 text (trailing newline ignored) if the file holds such text, else the raw bytes."""
    try:
        content = path.read_bytes()
    except FileNotFoundError:
        raise MissingKeyError(f"{KEY_FILE_ENV} names a file that does not exist. " + _HOW_TO) from None
    except OSError as error:
        raise MissingKeyError(
            f"{KEY_FILE_ENV} names a file that cannot be read ({type(error).__name__}). " + _HOW_TO
        ) from None
    text = content.removesuffix(b"\n").removesuffix(b"\r")
    secret = _decode_text_key(text.decode("ascii")) if text.isascii() else None
    # Raw bytes are used verbatim: stripping a final 0x0a from a binary key would change the key.
    return PseudonymKey(secret if secret is not None else content)


def load_key(env: Mapping[str, str] = os.environ) -> PseudonymKey:
    """The key from ``OROSTAT_KEY`` (hex/base64) or else the file named by ``OROSTAT_KEY_FILE``.

    Raises MissingKeyError when neither is set (an empty value counts as unset) and InvalidKeyError
    when the key is unusable. No message ever contains key material.
    """
    value = env.get(KEY_ENV, "")
    if value.strip():
        return _key_from_env_value(value)
    path = env.get(KEY_FILE_ENV, "")
    if path.strip():
        return _key_from_file(Path(path))
    raise MissingKeyError(f"No pseudonymisation key: neither {KEY_ENV} nor {KEY_FILE_ENV} is set. " + _HOW_TO)


def new_key_file(path: str | os.PathLike[str]) -> PseudonymKey:
    """Write a fresh 32-byte random key as hex text to a new file with mode 0600; never overwrite."""
    secret_hex = secrets.token_hex(MIN_KEY_BYTES)
    # O_EXCL makes creation atomic: an existing file (or symlink) is never overwritten or followed.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(descriptor, 0o600)  # the umask can only remove bits, but be explicit
        os.write(descriptor, (secret_hex + "\n").encode("ascii"))
    finally:
        os.close(descriptor)
    return PseudonymKey(bytes.fromhex(secret_hex))


def _encode_normalised(values: Iterable[str | None]) -> Iterator[bytes | None]:
    for value in values:
        if value is None:
            yield None
        elif len(value) == 12 and value.isascii() and value.isdigit():
            yield value.encode("ascii")
        else:
            # Hashing a 10-digit or separated form would silently give a different pseudonym.
            raise ValueError("pseudonymise expects normalised 12-digit personnummer (value not shown)")


def pseudonymise(numbers: pa.Array | pa.ChunkedArray | Sequence[str | None], key: PseudonymKey) -> pa.Array:
    """HMAC-SHA256 hex (64 lowercase characters) of each normalised number; nulls stay null.

    The caller passes distinct values; the result is a pyarrow string array in the same order.
    """
    values = numbers.to_pylist() if isinstance(numbers, pa.Array | pa.ChunkedArray) else numbers
    encoded = list(_encode_normalised(values))
    present = [message for message in encoded if message is not None]
    hashed = iter(_hmac_hex_many(key.secret, present))
    return pa.array([None if message is None else next(hashed) for message in encoded], type=pa.string())
