"""Which releases are published, and one release's tables read once (cached per release and its manifest).

Only ``6_published/release=YYYY-MM/tabeller/`` is read, and only the tables the publishing spec names: a
request's ``release`` and table id are matched against these listings, never joined into a path.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from pipelines.api.spec import ApiError
from pipelines.api.tables import Table, build_table
from pipelines.core.schemas import publishing_spec
from pipelines.core.settings import Paths
from pipelines.stage6_publishing.release_tables import MANIFEST, table_order

RELEASE = re.compile(r"\d{4}-(0[1-9]|1[0-2])")


@dataclass
class Published:
    release: str
    manifest: dict[str, Any]
    updated: str  # when the release was published (its manifest's time), ISO 8601 UTC
    tables: dict[str, Table]


def tables_folder(home: Paths, release: str) -> Path:
    return home.published / f"release={release}" / publishing_spec()["research"]["tables_folder"]


def releases(home: Paths) -> list[str]:
    """Published releases (those whose tables folder has a manifest), oldest first."""
    if not home.published.is_dir():
        return []
    found = []
    for folder in home.published.iterdir():
        release = folder.name.removeprefix("release=")
        if RELEASE.fullmatch(release) and (tables_folder(home, release) / MANIFEST).is_file():
            found.append(release)
    return sorted(found)


def published(home: Paths, release: str | None) -> Published:
    """The requested release (the latest if None), read once per manifest version."""
    if release is not None and not RELEASE.fullmatch(release):
        raise ApiError(400, "bad_release", release=release[:20])
    known = releases(home)
    if not known:
        raise ApiError(404, "no_release")
    if release is None:
        release = known[-1]
    elif release not in known:
        raise ApiError(404, "unknown_release", release=release, known=", ".join(known))
    manifest = tables_folder(home, release) / MANIFEST
    return _read(manifest, manifest.stat().st_mtime_ns)


@lru_cache(maxsize=8)  # a few releases in memory: every request after the first is answered from here
def _read(manifest: Path, _mtime_ns: int) -> Published:
    folder = manifest.parent
    info = json.loads(manifest.read_text("utf-8"))
    tables = {}
    for name in table_order():
        path = folder / f"{name}.parquet"
        if path.is_file():
            tables[name] = build_table(name, pq.read_table(path))
    updated = datetime.fromtimestamp(manifest.stat().st_mtime, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return Published(release=info["release"], manifest=info, updated=updated, tables=tables)


def table(release: Published, table_id: str) -> Table:
    if table_id not in release.tables:
        raise ApiError(404, "unknown_table", table=table_id[:60], known=", ".join(release.tables))
    return release.tables[table_id]
