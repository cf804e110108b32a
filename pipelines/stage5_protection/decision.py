"""What a disclosure-control method decides for a release (``Decision``) and what the release did
(``ReleaseOutcome``, aggregates only), with the rules and method read from ``schemas/release.yaml``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from pipelines.core.schemas import release_spec
from pipelines.stage5_protection import cells as c
from pipelines.stage5_protection.primary import Rules


def rules() -> Rules:
    spec = release_spec()["rules"]
    return Rules(
        threshold=int(spec["threshold"]),
        suppress_zeros=bool(spec["suppress_zeros"]),
        group_rule=bool(spec["group_rule"]),
        group_threshold=int(spec["group_threshold"]),
        protection_margin=spec["protection_margin"],
        protect_grand_totals=bool(spec["protect_grand_totals"]),
    )


@dataclass
class ReleaseOutcome:
    """What a release did, in aggregate only (safe for Dagster metadata and logs)."""

    release: str
    previous: str | None
    passes: bool
    tables: dict[str, dict[str, Any]] = field(default_factory=dict)
    audit: dict[str, Any] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


def method() -> str:
    """The disclosure-control method of the release spec: ``cell_key`` or ``suppression``."""
    return str(release_spec()["rules"].get("method", "suppression"))


@dataclass
class Decision:
    """What a method decided for the current release, in the form ``_write`` publishes.

    ``shown``: per main table the value published where not hidden (the true value under suppression,
    the perturbed one under the cell-key method); ``masks``: hidden flag and reason per row; ``audit``:
    one row per hidden cell; ``summary``: the manifest's audit section; ``cells``: cells.parquet;
    ``cell_key``: the cell-key parameters the manifest states (None under suppression)."""

    shown: dict[str, np.ndarray]
    masks: dict[str, tuple[np.ndarray, np.ndarray]]
    audit: pd.DataFrame
    summary: dict[str, Any]
    passes: bool
    cells: pd.DataFrame
    cell_key: dict[str, Any] | None = None


def _main(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    return {name: frame for name, frame in tables.items() if name in c.tables()}
