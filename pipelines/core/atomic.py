"""Write-then-rename, so that a crash never leaves a half-written output in place."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_dir(target: Path) -> Iterator[Path]:
    """Yield a fresh temporary folder beside ``target``; on success it replaces ``target`` whole."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".tmp-{target.name}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        yield tmp
        _fsync_tree(tmp)
        old = None
        if target.exists():
            old = target.parent / f".old-{target.name}-{uuid.uuid4().hex[:8]}"
            os.replace(target, old)
        os.replace(tmp, target)
        _fsync_dir(target.parent)  # the rename itself must survive a power cut
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


@contextmanager
def atomic_file(target: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success it is renamed onto ``target``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".tmp-{uuid.uuid4().hex[:8]}-{target.name}"
    try:
        yield tmp
        with tmp.open("rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(folder: Path) -> None:
    """Make the new version durable before it is swapped in. One sync() costs far less than an
    fsync per file when a month holds hundreds of small feedback files."""
    del folder  # sync() covers it; the argument says what must be durable
    os.sync()


def remove_stale_temporaries(folder: Path) -> int:
    """Recover from writes interrupted by a crash; return how many leftovers were dealt with.

    ``.tmp-*`` are unfinished new versions: deleted. ``.old-<name>-*`` is the previous version moved
    aside just before the swap: if the crash came before the new version took its place, it is put
    back (the last good state wins), otherwise it is deleted.
    """
    if not folder.exists():
        return 0
    old_versions, unfinished = [], []
    # One walk (it runs before every load, over a data folder of years: tens of thousands of files).
    for parent, dirs, files in os.walk(folder):
        for name in dirs + files:
            if name.startswith(".old-"):
                old_versions.append(Path(parent) / name)
            elif name.startswith(".tmp-"):
                unfinished.append(Path(parent) / name)
        dirs[:] = [d for d in dirs if not d.startswith((".old-", ".tmp-"))]
    for path in sorted(old_versions):
        name = path.name[len(".old-") :].rsplit("-", 1)[0]
        target = path.parent / name
        if not target.exists():
            os.replace(path, target)
        else:
            shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
    for path in sorted(unfinished):
        shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
    return len(old_versions) + len(unfinished)
