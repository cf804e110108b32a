"""SHA-256 of a file or of bytes, with ``cryptography`` (the project never imports hashlib)."""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives import hashes


def sha256_of(path: Path) -> str:
    """The file's SHA-256; "" for a symbolic link, which is never opened (no digest equals "")."""
    if path.is_symlink():
        return ""
    digest = hashes.Hash(hashes.SHA256())
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.finalize().hex()


def sha256_of_bytes(content: bytes) -> str:
    digest = hashes.Hash(hashes.SHA256())
    digest.update(content)
    return digest.finalize().hex()
