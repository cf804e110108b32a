"""Key material, shared by every stage that holds a key: the pseudonymisation key (HMAC, stage 2) and the
archive key (AES-GCM, stage 1) are read, checked and identified here.

A key is at least 32 random bytes, kept apart from the data, never logged, and identified by a ``key_id``
derived from it (so that pseudonyms from different keys are never mixed up). Key material never appears in a
repr, an exception message or a pickle: ``PseudonymKey`` refuses to be pickled, because orchestrators store
pickled return values. Only ``cryptography`` is used (no stdlib ``hashlib``/``hmac``).
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

from cryptography.hazmat.primitives import hashes, hmac

KEY_ENV = "OROSTAT_KEY"
KEY_FILE_ENV = "OROSTAT_KEY_FILE"
MIN_KEY_BYTES = 32
MIN_DISTINCT_BYTES = 8  # fewer among 32 random bytes: odds below 1e-20
_KEY_ID_MESSAGE = b"orostat key id v1"
_HEX_RE = re.compile(r"(?:[0-9a-fA-F]{2})+")
_BASE64_RE = re.compile(r"[A-Za-z0-9+/\-_]+={0,2}")
_HOW_TO = (
    f"Set {KEY_ENV} to a secret of at least {MIN_KEY_BYTES} random bytes written as hex or base64, or set "
    f"{KEY_FILE_ENV} to the path of a file holding one (mode 0600, stored apart from the data). "
    'Make one with: python -c "import secrets; print(secrets.token_hex(32))"'
)


class KeyConfigurationError(Exception):
    """A key is missing, unusable or not the one the loaded data were made with. The command line turns
    every such refusal into one line on stderr and exit status 2; the message never holds key material."""


class MissingKeyError(KeyConfigurationError, RuntimeError):
    """No pseudonymisation key is configured."""


class InvalidKeyError(KeyConfigurationError, ValueError):
    """A key is configured but unusable (too short, not hex/base64, all bytes identical)."""


_log = logging.getLogger("orostat.keys")
# (key file, mode) -> the warning already given in this process: said once, and repeated in a run's log
_WARNED: dict[tuple[str, int], str] = {}


def _hmac_context(secret: bytes) -> hmac.HMAC:
    return hmac.HMAC(secret, hashes.SHA256())


def _derive_key_id(secret: bytes) -> str:
    context = _hmac_context(secret)
    context.update(_KEY_ID_MESSAGE)
    return "k" + context.finalize().hex()[:12]


def _check_secret(secret: bytes) -> None:
    if len(secret) < MIN_KEY_BYTES:
        raise InvalidKeyError(f"The pseudonymisation key is shorter than {MIN_KEY_BYTES} bytes. " + _HOW_TO)
    if len(set(secret)) == 1:
        raise InvalidKeyError(f"The pseudonymisation key has all bytes identical. {_HOW_TO}")
    if len(set(secret)) < MIN_DISTINCT_BYTES:
        # 32 random bytes hold about 30 different values; a handful is a pattern or a word, not a secret.
        raise InvalidKeyError(f"The pseudonymisation key is a repeated pattern, not random bytes. {_HOW_TO}")


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


def decode_text_key(text: str) -> bytes | None:
    """Bytes of a hex or (standard or URL-safe) base64 key, or None if the text is neither."""
    if _HEX_RE.fullmatch(text):
        return bytes.fromhex(text)  # hex wins: a hex string is also valid base64 of other bytes
    if not _BASE64_RE.fullmatch(text) or _looks_like_broken_hex(text):
        return None
    standard = text.replace("-", "+").replace("_", "/").rstrip("=")
    try:
        return base64.b64decode(standard + "=" * (-len(standard) % 4), validate=True)
    except binascii.Error:
        return None


def _looks_like_broken_hex(text: str) -> bool:
    """Hex with a digit missing or a ``0x`` prefix is also valid base64, of other bytes: a typo would
    silently become another key, so such text is refused rather than decoded as base64."""
    digits = text[2:] if text[:2] in ("0x", "0X") else text
    return all(ch in "0123456789abcdefABCDEF" for ch in digits) and (digits != text or len(digits) % 2 == 1)


def _is_text(content: bytes) -> bool:
    """Whether a key file holds text (a line someone wrote) rather than raw random bytes.

    32 random bytes are printable UTF-8 with a probability of about 1e-14, so text is what a person or a
    tool wrote on purpose: it must then be the key in hex or base64, nothing else.
    """
    try:
        decoded = content.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return all(ch.isprintable() or ch in "\r\n\t " for ch in decoded)


def secret_from_file_content(content: bytes, variable: str, error: type[Exception], how_to: str) -> bytes:
    """The key bytes a key file holds: hex or base64 text (surrounding blanks and newline ignored), or
    raw binary bytes used verbatim. Other text (a passphrase, ``OROSTAT_KEY=<hex>``, a prefix or a
    comment) is refused: taken as raw bytes it would silently be a different, weak key."""
    if not _is_text(content):
        return content  # raw bytes verbatim: stripping a final 0x0a from a binary key would change it
    secret = decode_text_key(content.decode("utf-8").strip())
    if secret is None:
        raise error(
            f"{variable} names a file whose text is neither hex nor base64 (a passphrase, a prefix such "
            f"as 0x or a line such as {variable.removesuffix('_FILE')}=… is not a key); the file must hold "
            "the key alone. " + how_to
        )
    return secret


def check_key_file_mode(path: Path, variable: str, error: type[Exception]) -> None:
    """Warn (or refuse, ``keys.file_permissions`` in settings.yaml) when others can read the key file,
    as ssh does for a private key: a key anyone on the machine can read protects nothing."""
    try:
        mode = path.stat().st_mode & 0o777
    except OSError:
        return  # reading it already succeeded or failed; the mode is then not the problem
    if not mode & 0o077:
        return
    policy = _file_permission_policy()
    message = (
        f"UNPROTECTED KEY FILE: permissions {mode:04o} for {path} ({variable}) are too open; a key file "
        f"must not be accessible by others: chmod 600 {path}"
    )
    if policy == "refuse":
        raise error(message + " (refused: keys.file_permissions is 'refuse' in schemas/settings.yaml).")
    if policy == "warn" and (str(path), mode) not in _WARNED:
        _WARNED[(str(path), mode)] = "WARNING: " + message
        _log.warning("WARNING: " + message)


def key_file_warnings() -> list[str]:
    """The warnings about key files given in this process, for a Dagster run's own log."""
    return list(_WARNED.values())


def _file_permission_policy() -> str:
    from pipelines.core.settings import settings

    policy = str(settings()["keys"]["file_permissions"])
    if policy not in {"warn", "refuse", "ignore"}:
        raise InvalidKeyError(
            "keys.file_permissions in schemas/settings.yaml must be warn, refuse or ignore."
        )
    return policy


def _key_from_env_value(text: str) -> PseudonymKey:
    secret = decode_text_key(text.strip())
    if secret is None:
        raise InvalidKeyError(f"{KEY_ENV} is neither hex nor base64. " + _HOW_TO)
    return PseudonymKey(secret)


def _key_from_file(path: Path) -> PseudonymKey:
    """Hex/base64 text (blanks and trailing newline ignored) or raw binary bytes; other text refused."""
    try:
        content = path.read_bytes()
    except FileNotFoundError:
        raise MissingKeyError(f"{KEY_FILE_ENV} names a file that does not exist. " + _HOW_TO) from None
    except OSError as error:
        raise MissingKeyError(
            f"{KEY_FILE_ENV} names a file that cannot be read ({type(error).__name__}). " + _HOW_TO
        ) from None
    check_key_file_mode(path, KEY_FILE_ENV, InvalidKeyError)
    return PseudonymKey(secret_from_file_content(content, KEY_FILE_ENV, InvalidKeyError, _HOW_TO))


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
