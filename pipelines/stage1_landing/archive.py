"""Retained extracts: every loaded extract kept encrypted (AES-256-GCM), its plaintext removed.

Once a month has loaded and reconciled, each of its landing files is encrypted into
``1_archive/extract_month=M/<file name>.enc``, the encrypted copy is decrypted again and checked against
the SHA-256 the ledger recorded, and only then is the plaintext deleted: a crash at any point leaves at
least one good copy. Reprocessing a month (a rerun, a re-delivery, a key rotation) decrypts the archived
files in memory; their plaintext never touches the disk again.

The archive key (``OROSTAT_ARCHIVE_KEY`` / ``OROSTAT_ARCHIVE_KEY_FILE``: 32 random bytes) is separate from
the pseudonymisation key, so that the key that decides every pseudonym can be rotated and destroyed while
the extracts stay readable. Without an archive key the pipeline keeps the plaintext, as before.

File format (version 1)::

    b"OROARC" | version u16 | header length u32 | header (JSON) | chunk 0 | chunk 1 | ... | last chunk

The header holds the delivered file's name, the SHA-256 and size of its plaintext, its modification time
(so the newest delivery still wins), the archive key id, a random 96-bit nonce and the chunk size. The
plaintext is encrypted in chunks of ``archive.chunk_bytes`` (memory stays bounded); chunk ``i`` uses the
nonce with ``i`` XORed into its last 64 bits, and its associated data is the whole preamble plus ``i`` and
a last-chunk flag, so the name and SHA-256 are bound to every chunk and a renamed, swapped, reordered,
truncated or altered file fails to decrypt. No error message ever quotes file content, and file names
are masked like any other text (a name can carry a personnummer).
"""

from __future__ import annotations

import json
import os
import secrets
import struct
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import NoReturn

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from pipelines.core.atomic import atomic_file
from pipelines.core.keys import MIN_DISTINCT_BYTES, KeyConfigurationError
from pipelines.core.settings import Paths, settings
from pipelines.stage1_landing.delivery import Parsed, check_size, masked_name, parse_file_name
from pipelines.stage1_landing.read import parse_extract

MAGIC = b"OROARC"
FORMAT_VERSION = 1
_FIXED = struct.Struct(">6sHI")  # magic, format version, header length
_MAX_HEADER = 1 << 16
_NONCE_BYTES = 12
_TAG_BYTES = 16
_KEY_ID_MESSAGE = b"orostat archive key id v1"
_HEADER_FIELDS = ("name", "sha256", "size", "mtime_ns", "key_id", "nonce", "chunk_bytes")


class ArchiveError(RuntimeError):
    """An archived extract cannot be written, read or trusted. The message never quotes its content."""


class MissingArchiveKeyError(KeyConfigurationError, RuntimeError):
    """Archived extracts must be read, but no archive key is configured."""


class InvalidArchiveKeyError(KeyConfigurationError, ValueError):
    """An archive key is configured but unusable (wrong length, not hex/base64, the pseudonymisation key)."""


def _config() -> dict:
    return settings()["archive"]


def _how_to() -> str:
    config = _config()
    return (
        f"Set {config['key_env']} to {config['key_bytes']} random bytes written as hex or base64, or set "
        f"{config['key_file_env']} to the path of a file holding them (mode 0600, apart from the data and "
        "from the pseudonymisation key). Make one with: "
        'python3 -c "import secrets; print(secrets.token_hex(32))"'
    )


@dataclass(frozen=True)
class ArchiveKey:
    """A validated AES-256 key. ``key_id`` is derived from the secret and reveals nothing about it."""

    secret: bytes = field(repr=False)
    key_id: str = field(init=False)

    def __post_init__(self) -> None:
        if len(self.secret) != int(_config()["key_bytes"]):
            raise InvalidArchiveKeyError(
                f"The archive key is not exactly {_config()['key_bytes']} bytes. " + _how_to()
            )
        if len(set(self.secret)) == 1:
            raise InvalidArchiveKeyError("The archive key has all bytes identical. " + _how_to())
        if len(set(self.secret)) < MIN_DISTINCT_BYTES:
            raise InvalidArchiveKeyError(
                "The archive key is a repeated pattern, not random bytes. " + _how_to()
            )
        context = hmac.HMAC(self.secret, hashes.SHA256())
        context.update(_KEY_ID_MESSAGE)
        object.__setattr__(self, "key_id", "a" + context.finalize().hex()[:12])

    def __reduce__(self) -> NoReturn:
        # Orchestrators pickle return values into run storage; a key must never end up there.
        raise TypeError("ArchiveKey must not be pickled or copied; load it again from the environment")


def load_archive_key(env: Mapping[str, str] = os.environ) -> ArchiveKey:
    """The archive key from its variable (hex/base64) or else from the file its other variable names.

    Refuses the pseudonymisation key itself: the two must be separate, so that either can be rotated
    or destroyed without the other.
    """
    from pipelines.core.keys import (
        MissingKeyError,
        check_key_file_mode,
        decode_text_key,
        load_key,
        secret_from_file_content,
    )

    config = _config()
    value, file_name = env.get(config["key_env"], "").strip(), env.get(config["key_file_env"], "").strip()
    if value:
        secret = decode_text_key(value)
        if secret is None:
            raise InvalidArchiveKeyError(f"{config['key_env']} is neither hex nor base64. " + _how_to())
    elif file_name:
        try:
            content = Path(file_name).read_bytes()
        except OSError as error:
            raise MissingArchiveKeyError(
                f"{config['key_file_env']} names a file that cannot be read ({type(error).__name__}). "
                + _how_to()
            ) from None
        check_key_file_mode(Path(file_name), config["key_file_env"], InvalidArchiveKeyError)
        secret = secret_from_file_content(content, config["key_file_env"], InvalidArchiveKeyError, _how_to())
    else:
        raise MissingArchiveKeyError(
            f"No archive key: neither {config['key_env']} nor {config['key_file_env']} is set. " + _how_to()
        )
    key = ArchiveKey(secret)
    try:
        same = load_key(env).secret == key.secret
    except (MissingKeyError, ValueError):
        same = False
    if same:
        raise InvalidArchiveKeyError(
            "The archive key is the pseudonymisation key; use a separate key. " + _how_to()
        )
    return key


def archive_key_or_none(env: Mapping[str, str] = os.environ) -> ArchiveKey | None:
    """The archive key, or None when none is configured (an unusable key still raises)."""
    try:
        return load_archive_key(env)
    except MissingArchiveKeyError:
        config = _config()
        if env.get(config["key_env"], "").strip() or env.get(config["key_file_env"], "").strip():
            raise  # configured but unreadable: never fall back to keeping plaintext silently
        return None


@dataclass(frozen=True)
class Header:
    """What an archived file says about its plaintext. Bound to every chunk as associated data."""

    name: str
    sha256: str
    size: int
    mtime_ns: int
    key_id: str
    nonce: str
    chunk_bytes: int

    def preamble(self) -> bytes:
        body = json.dumps(asdict(self), sort_keys=True, separators=(",", ":")).encode("utf-8")
        return _FIXED.pack(MAGIC, FORMAT_VERSION, len(body)) + body

    def chunk_lengths(self) -> list[int]:
        """Plaintext length of each chunk; the last is shorter than the rest (possibly empty)."""
        full = self.size // self.chunk_bytes
        return [self.chunk_bytes] * full + [self.size - full * self.chunk_bytes]

    def nonce_for(self, index: int) -> bytes:
        base = bytes.fromhex(self.nonce)
        return base[:4] + (int.from_bytes(base[4:], "big") ^ index).to_bytes(8, "big")

    def aad(self, preamble: bytes, index: int, last: bool) -> bytes:
        return preamble + struct.pack(">QB", index, last)


def archive_path(paths: Paths, name: str) -> Path:
    """Where the delivered file ``name`` is kept encrypted."""
    _, period = parse_file_name(Path(name))
    return paths.archive_month(period) / f"{name}{_config()['suffix']}"


def encrypt_file(source: Path, target: Path, sha256: str, key: ArchiveKey) -> None:
    """Encrypt ``source`` into ``target``, atomically, in bounded memory.

    ``sha256`` is what the ledger recorded when the file was loaded; a file whose content no longer has
    it (re-delivered under the same name since) is not archived: ArchiveError, and ``target`` untouched.
    """
    aes = AESGCM(key.secret)
    digest = hashes.Hash(hashes.SHA256())
    with source.open("rb") as fh:
        stat = os.fstat(fh.fileno())
        header = Header(
            name=source.name,
            sha256=sha256,
            size=stat.st_size,
            mtime_ns=stat.st_mtime_ns,
            key_id=key.key_id,
            nonce=secrets.token_bytes(_NONCE_BYTES).hex(),
            chunk_bytes=int(_config()["chunk_bytes"]),
        )
        preamble = header.preamble()
        lengths = header.chunk_lengths()
        with atomic_file(target) as tmp, tmp.open("wb") as out:
            out.write(preamble)
            for index, length in enumerate(lengths):
                data = fh.read(length)
                if len(data) != length:
                    raise ArchiveError(f"{masked_name(source.name)} changed while it was being archived.")
                digest.update(data)
                last = index == len(lengths) - 1
                out.write(aes.encrypt(header.nonce_for(index), data, header.aad(preamble, index, last)))
            if fh.read(1) or digest.finalize().hex() != sha256:
                raise ArchiveError(f"{masked_name(source.name)} is no longer the file that was loaded.")


def read_header(path: Path) -> tuple[Header, bytes]:
    """The header of an archived file and its preamble bytes; refuses a file renamed or not ours."""
    with path.open("rb") as fh:
        return _read_header(fh, path)


def _read_header(fh, path: Path) -> tuple[Header, bytes]:
    shown = masked_name(path.name)
    fixed = fh.read(_FIXED.size)
    if len(fixed) != _FIXED.size:
        raise ArchiveError(f"Archived extract {shown} is truncated.")
    magic, version, length = _FIXED.unpack(fixed)
    if magic != MAGIC:
        raise ArchiveError(f"{shown} is not an orostat archive file.")
    if version != FORMAT_VERSION:
        raise ArchiveError(f"{shown} has archive format {version}; this orostat reads {FORMAT_VERSION}.")
    body = fh.read(length) if length <= _MAX_HEADER else b""
    try:
        fields = json.loads(body.decode("utf-8"))
        header = Header(**{name: fields[name] for name in _HEADER_FIELDS})
    except (ValueError, KeyError, TypeError):
        raise ArchiveError(f"Archived extract {shown} has a damaged header.") from None
    if f"{header.name}{_config()['suffix']}" != path.name:
        raise ArchiveError(
            f"Archived extract {shown} holds another file ({masked_name(header.name)}): renamed or swapped."
        )
    return header, fixed + body


def decrypted_chunks(path: Path, key: ArchiveKey) -> Iterator[bytes]:
    """The plaintext, chunk by authenticated chunk; ArchiveError on any alteration, only at the end
    on truncation, so consume it whole before trusting it."""
    shown = masked_name(path.name)
    with path.open("rb") as fh:
        header, preamble = _read_header(fh, path)
        if header.key_id != key.key_id:
            raise ArchiveError(
                f"Archived extract {shown} was encrypted with archive key {header.key_id}; the configured "
                f"archive key is {key.key_id}."
            )
        aes = AESGCM(key.secret)
        lengths = header.chunk_lengths()
        for index, length in enumerate(lengths):
            sealed = fh.read(length + _TAG_BYTES)
            if len(sealed) != length + _TAG_BYTES:
                raise ArchiveError(f"Archived extract {shown} is truncated.")
            last = index == len(lengths) - 1
            try:
                yield aes.decrypt(header.nonce_for(index), sealed, header.aad(preamble, index, last))
            except InvalidTag:
                raise ArchiveError(
                    f"Archived extract {shown} fails authentication: it has been altered, or was not "
                    "encrypted with the configured archive key."
                ) from None
        if fh.read(1):
            raise ArchiveError(f"Archived extract {shown} has data after its end.")


def verify(path: Path, key: ArchiveKey, sha256: str) -> None:
    """Decrypt in bounded memory and check the plaintext's SHA-256; ArchiveError if anything differs."""
    digest = hashes.Hash(hashes.SHA256())
    for chunk in decrypted_chunks(path, key):
        digest.update(chunk)
    if digest.finalize().hex() != sha256:
        raise ArchiveError(f"Archived extract {masked_name(path.name)} does not decrypt to the file loaded.")


def decrypt(path: Path, key: ArchiveKey) -> bytes:
    """The whole plaintext, in memory only, checked against the SHA-256 in its header."""
    header, _ = read_header(path)
    content = b"".join(decrypted_chunks(path, key))
    digest = hashes.Hash(hashes.SHA256())
    digest.update(content)
    if digest.finalize().hex() != header.sha256:
        raise ArchiveError(f"Archived extract {masked_name(path.name)} does not decrypt to the file loaded.")
    return content


@dataclass(frozen=True)
class ArchivedExtract:
    """A loaded extract kept encrypted: what the ledger needs without decrypting, and its rows on demand.

    ``sha256`` and ``size`` are the plaintext's, from the header; a forged value cannot survive a reload,
    because the header is authenticated with every chunk.
    """

    path: Path
    name: str
    sha256: str
    size: int
    mtime_ns: int

    def parsed(self) -> Parsed:
        """The extract parsed as if it were in the landing folder, decrypted in memory only."""
        check_size(self.size)  # an oversized file is rejected as before, without decrypting it
        return parse_extract(Path(self.name), content=decrypt(self.path, load_archive_key()))


def archived_extracts(paths: Paths, month: str) -> list[ArchivedExtract]:
    """Every archived extract of ``month`` (headers only: no key needed)."""
    folder = paths.archive_month(month)
    if not folder.is_dir():
        return []
    found = []
    for path in sorted(folder.iterdir()):
        if not path.is_file() or path.name.startswith(".") or not path.name.endswith(_config()["suffix"]):
            continue
        header, _ = read_header(path)
        if parse_file_name(Path(header.name))[1] != month:
            raise ArchiveError(f"Archived extract {masked_name(path.name)} lies in another month's folder.")
        found.append(ArchivedExtract(path, header.name, header.sha256, header.size, header.mtime_ns))
    return found


@dataclass
class Retained:
    """What archiving a month did, in counts."""

    archived: int = 0
    kept_plaintext: int = 0  # delivered or changed after the load: archived after the next load


def retain_month(paths: Paths, month: str, key: ArchiveKey) -> Retained:
    """Replace the month's loaded landing files by verified encrypted copies.

    Only files the month's ledger lists with the same SHA-256 are archived (a file delivered since the
    load waits for the next load). Order, so that a crash never loses the only copy: encrypt to a
    temporary file, fsync, rename into place, fsync the folder, decrypt it again and compare the SHA-256,
    and only then delete the plaintext.
    """
    from pipelines.core import db
    from pipelines.core.files import LEDGER_FILE
    from pipelines.stage1_landing.landing import landing_files

    ledger = paths.extract_month(month) / LEDGER_FILE
    result = Retained()
    if not ledger.exists():
        return result
    loaded = dict(db.rows(f"SELECT source_file, sha256 FROM read_parquet('{ledger}')"))
    for source in landing_files(paths.landing, month):
        sha256 = loaded.get(source.name)
        target = archive_path(paths, source.name)
        try:
            # A symbolic link was refused unread: neither its target nor the link is ever archived.
            if sha256 is None or source.is_symlink():
                raise ArchiveError("not loaded yet")
            encrypt_file(source, target, sha256, key)
        except ArchiveError:
            result.kept_plaintext += 1
            continue
        _fsync_dir(target.parent)
        verify(target, key, sha256)
        source.unlink()
        result.archived += 1
    if result.archived:
        _fsync_dir(paths.landing)
    return result


def _fsync_dir(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
