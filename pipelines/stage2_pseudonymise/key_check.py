"""Every key checked before any work: the pseudonymisation key, the archive key, and that the key is the
one the data already loaded were made with.

A key changed between two loads used to be caught only by the register's blocking check, after stage 2
had written rows under the new key beside the old ones. Checked first, nothing is written: the operator
either configures the old key again or rebuilds everything with ``orostat rotate-key``.
"""

from __future__ import annotations

from pipelines.core import db
from pipelines.core.files import LEDGER_FILE, REGISTER_FILE, REPORTS_FILE
from pipelines.core.settings import Paths
from pipelines.stage1_landing.archive import archive_key_or_none
from pipelines.stage2_pseudonymise.keyed_hash import (
    KEY_FILE_ENV,
    KeyConfigurationError,
    PseudonymKey,
    load_key,
)


class KeyMismatchError(KeyConfigurationError):
    """The configured key is not the key the loaded pseudonyms were made with."""


def check_keys(home: Paths, rotation: bool = False) -> PseudonymKey:
    """The pseudonymisation key, once both keys are usable and, unless this is a key rotation, the key
    is the one every loaded pseudonym carries. Raises a KeyConfigurationError (one-line message)."""
    key = load_key()
    archive_key_or_none()  # unusable, short or equal to the pseudonymisation key: refused now
    if not rotation:
        check_same_key(home, key)
    return key


def check_same_key(home: Paths, key: PseudonymKey) -> None:
    """Refuse a key whose id differs from the key ids already in ``2_pseudonymised/`` or the register."""
    found = key_ids(home)
    loaded = found["pseudonymised"] | found["register"]
    if not loaded or loaded == {key.key_id}:
        return
    raise KeyMismatchError(
        f"The configured pseudonymisation key ({key.key_id}) is not the key the loaded data were made with "
        f"({', '.join(sorted(loaded))}); nothing was loaded. Configure the old key again ({KEY_FILE_ENV}), "
        "or rebuild every loaded month with the new key: orostat rotate-key (README, Key rotation)."
    )


def loaded_months(paths: Paths) -> list[str]:
    """Extract months with a completed stage-2 load (a ledger), in order."""
    folders = paths.pseudonymised.glob("extract_month=*") if paths.pseudonymised.exists() else []
    return sorted(f.name.split("=", 1)[1] for f in folders if (f / LEDGER_FILE).exists())


def key_ids(paths: Paths) -> dict[str, set[str]]:
    """The key ids in the pseudonymised reports and in the register (nulls: unidentified children)."""
    found = {}
    for label, folder, file_name in (
        ("pseudonymised", paths.pseudonymised, REPORTS_FILE),
        ("register", paths.register, REGISTER_FILE),
    ):
        if not any(folder.glob(f"extract_month=*/{file_name}")):
            found[label] = set()
            continue
        glob = folder / "extract_month=*" / file_name
        query = f"SELECT DISTINCT key_id FROM read_parquet('{glob}') WHERE key_id IS NOT NULL"
        found[label] = {row[0] for row in db.rows(query)}
    return found
