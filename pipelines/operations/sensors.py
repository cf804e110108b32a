"""A sensor on the landing folder: a new or changed extract (by content, not mtime) starts its month's load.

The cursor maps each landing file name (masked) to the SHA-256 of its content. A tick hashes the files
whose name says which municipality and month they deliver (again only when a file's size, times or inode
changed), and asks for one ``monthly_load`` run over the months with a new or changed file (and every
later month already loaded, whose as-of figures change too). The run key is made of those months' file
hashes, so the same content never loads twice, while a re-delivery (new content, same or new name) does.
Off until an operator turns it on.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from dagster import DefaultSensorStatus, RunRequest, SensorEvaluationContext, SensorResult, SkipReason, sensor

from pipelines.core.atomic import atomic_file
from pipelines.core.digest import sha256_of
from pipelines.core.instance import load_in_progress
from pipelines.core.settings import paths, settings
from pipelines.stage1_landing.landing import delivered_files, unrecognised_files
from pipelines.stage3_register.register import latest_extract_month


def landing_state() -> dict[str, tuple[str, str]]:
    """Masked file name -> (month, SHA-256) for every landing file whose name can be loaded.

    The names go into the cursor, which Dagster stores. A name carrying a personnummer is refused at
    ingest and never counts as loadable, yet names are masked here too so that no later change to the
    file-name rule can put a number in the cursor; files whose masked names coincide share one entry, the
    hash of their hashes, so a change to any of them still counts.
    """
    pattern = re.compile(settings()["masking"]["identifier_regex"])
    grouped: dict[str, tuple[str, list[str]]] = {}
    known, seen = _hash_cache(), {}
    for path, month in delivered_files(paths().landing):
        name = pattern.sub("XXXXXX-XXXX", path.name)
        signature, sha = _signature(path), None
        cached = known.get(path.name)
        if cached is not None and cached[0] == signature:
            sha = cached[1]
        seen[path.name] = (signature, sha or sha256_of(path))
        grouped.setdefault(name, (month, []))[1].append(seen[path.name][1])
    if seen != known:
        _save_hash_cache(seen)
    return {name: (month, _combined(shas)) for name, (month, shas) in grouped.items()}


def _signature(path: Path) -> list[int]:
    """What changes whenever a file's content can have changed. The change time (ctime) cannot be set
    back by a program, so an edit that keeps the size and restores the modification time still shows."""
    info = path.lstat()  # a symbolic link's own, never its target's (ingest refuses links unread)
    return [info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns]


def _hash_cache_path() -> Path:
    return paths().home / ".orostat-landing-hashes.json"


def _hash_cache() -> dict[str, tuple[list[int], str]]:
    """File name -> (signature, SHA-256) from the last tick: a 10-year landing folder (35,000 files,
    500 MB) is hashed once, not every minute. Names are of loadable files only, which cannot carry a
    personnummer (ingest refuses such names). A missing or damaged cache only costs a rehash."""
    try:
        return {k: (v[0], v[1]) for k, v in json.loads(_hash_cache_path().read_text("utf-8")).items()}
    except (OSError, ValueError, TypeError, IndexError, AttributeError):
        return {}


def _save_hash_cache(entries: dict[str, tuple[list[int], str]]) -> None:
    with atomic_file(_hash_cache_path()) as tmp:
        tmp.write_text(json.dumps(entries, sort_keys=True), "utf-8")


def _combined(shas: list[str]) -> str:
    """One file's hash as it is; several (masked names that coincide): the hash of their sorted hashes."""
    if len(shas) == 1:
        return shas[0]
    digest = hashes.Hash(hashes.SHA256())
    for sha in sorted(shas):
        digest.update(sha.encode())
    return digest.finalize().hex()


def _run_key(month: str, files: dict[str, tuple[str, str]]) -> str:
    digest = hashes.Hash(hashes.SHA256())
    for name, (file_month, sha) in sorted(files.items()):
        if file_month == month:
            digest.update(f"{name}:{sha}\n".encode())
    return f"{month}:{digest.finalize().hex()[:16]}"


def requests_for(
    state: dict[str, tuple[str, str]], cursor: dict[str, str], latest_loaded: str | None = None
) -> list[RunRequest]:
    """The run for every month with a new or changed file, as one load (a single-run backfill).

    A changed earlier month changes every later as-of month, so the run reaches the latest month loaded.
    """
    changed = sorted({month for name, (month, sha) in state.items() if cursor.get(name) != sha})
    if not changed:
        return []
    first, last = changed[0], max(changed[-1], latest_loaded or changed[-1])
    key = ",".join(_run_key(month, state) for month in changed)
    if first == last:
        return [RunRequest(run_key=key, partition_key=first)]
    tags = {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last}
    return [RunRequest(run_key=key, tags=tags)]


@sensor(
    job_name="monthly_load",
    minimum_interval_seconds=int(settings()["operations"]["landing_sensor_interval_seconds"]),
    default_status=DefaultSensorStatus.STOPPED,
    description="Starts the load of a month when one of its extracts is new or changed (by SHA-256).",
)
def landing_sensor(context: SensorEvaluationContext) -> SensorResult | SkipReason:
    """Watch 1_landing/ and load each month whose delivered content changed."""
    if load_in_progress():
        # The cursor stays where it is, so the next tick asks again once the command-line load is done.
        return SkipReason("a load or release started from the command line is running; trying next tick")
    cursor = json.loads(context.cursor) if context.cursor else {}
    state = landing_state()
    ignored = unrecognised_files(paths().landing)  # masked: a name could be a personnummer
    if ignored:
        context.log.warning(f"{len(ignored)} landing files have names that cannot be loaded: {ignored[:5]}")
    requests = requests_for(state, cursor, latest_extract_month(paths()))
    new_cursor = json.dumps({name: sha for name, (_, sha) in state.items()}, sort_keys=True)
    if not requests:
        return SkipReason(f"no new or changed extracts among {len(state)} files")
    return SensorResult(run_requests=requests, cursor=new_cursor)
