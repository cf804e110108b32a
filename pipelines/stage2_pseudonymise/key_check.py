"""Every key checked before any work: the pseudonymisation key, the archive key, and that the key is the
one the data already loaded were made with.

A key changed between two loads used to be caught only by the register's blocking check, after stage 2
had written rows under the new key beside the old ones. Checked first, nothing is written: the operator
either configures the old key again or rebuilds everything with ``orostat rotate-key``.
"""

from __future__ import annotations

from pipelines.core.settings import Paths
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
    from pipelines.stage1_landing.archive import archive_key_or_none

    key = load_key()
    archive_key_or_none()  # unusable, short or equal to the pseudonymisation key: refused now
    if not rotation:
        check_same_key(home, key)
    return key


def check_same_key(home: Paths, key: PseudonymKey) -> None:
    """Refuse a key whose id differs from the key ids already in ``2_pseudonymised/`` or the register."""
    from pipelines.stage1_landing.archive import key_ids

    found = key_ids(home)
    loaded = found["pseudonymised"] | found["register"]
    if not loaded or loaded == {key.key_id}:
        return
    raise KeyMismatchError(
        f"The configured pseudonymisation key ({key.key_id}) is not the key the loaded data were made with "
        f"({', '.join(sorted(loaded))}); nothing was loaded. Configure the old key again ({KEY_FILE_ENV}), "
        "or rebuild every loaded month with the new key: orostat rotate-key (README, Key rotation)."
    )
