"""The keyed pseudonym: HMAC-SHA256 (RFC 2104) of the normalised 12-digit personnummer. This is where the
personnummer dies: stage 2 passes each distinct normalised number through ``pseudonymise`` and keeps only the
result.

An unkeyed hash of a personnummer protects nothing (all children's numbers hash in about a second), so the
key is everything; reading and checking it is ``pipelines.core.keys`` (the archive key shares it). Only
``cryptography`` is used (no stdlib ``hashlib``/``hmac``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

import pyarrow as pa
from cryptography.hazmat.primitives import hashes, hmac

from pipelines.core.keys import (
    KEY_ENV,
    KEY_FILE_ENV,
    MIN_KEY_BYTES,
    InvalidKeyError,
    KeyConfigurationError,
    MissingKeyError,
    PseudonymKey,
    load_key,
    new_key_file,
)

__all__ = [
    "KEY_ENV",
    "KEY_FILE_ENV",
    "MIN_KEY_BYTES",
    "InvalidKeyError",
    "KeyConfigurationError",
    "MissingKeyError",
    "PseudonymKey",
    "load_key",
    "new_key_file",
    "pseudonymise",
]


def _hmac_hex_many(secret: bytes, messages: Iterable[bytes]) -> Iterator[str]:
    """HMAC-SHA256 hex of each message: the key is set up once and the context copied per value.

    Copying a keyed context skips the two key-pad compressions per value, which is the fast path the
    ``cryptography`` documentation describes for many messages under one key.
    """
    keyed = hmac.HMAC(secret, hashes.SHA256())
    for message in messages:
        context = keyed.copy()
        context.update(message)
        yield context.finalize().hex()


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
