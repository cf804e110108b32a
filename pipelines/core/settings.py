"""Where things live and the rules from ``schemas/settings.yaml``.

Everything the pipeline writes sits under one home folder (``OROSTAT_HOME``, default ``./var`` in the
checkout), numbered in the order the data flows. Keys live in ``secrets/``, apart from the data.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = PROJECT_ROOT / "schemas"


@cache
def settings() -> dict[str, Any]:
    """The declarative pipeline rules (thresholds, period rules, limits)."""
    return yaml.safe_load((SCHEMAS / "settings.yaml").read_text(encoding="utf-8"))


@dataclass(frozen=True)
class Paths:
    """The folders of one orostat installation, in data-flow order."""

    home: Path

    @property
    def data(self) -> Path:
        return self.home / "data"

    @property
    def landing(self) -> Path:
        return self.data / "1_landing"

    @property
    def archive(self) -> Path:
        """Loaded extracts, encrypted: apart from the drop folder, which deliverers, transfer tools and the
        landing sensor touch, so that the only retained copy is never swept or overwritten with it."""
        return self.data / "1_archive"

    def archive_month(self, month: str) -> Path:
        return self.archive / f"extract_month={month}"

    @property
    def pseudonymised(self) -> Path:
        return self.data / "2_pseudonymised"

    def extract_month(self, month: str) -> Path:
        """One folder per extract month: reports, quarantine, feedback and ledger, replaced whole."""
        return self.pseudonymised / f"extract_month={month}"

    @property
    def register(self) -> Path:
        return self.data / "3_register"

    @property
    def statistics(self) -> Path:
        return self.data / "4_statistics"

    @property
    def statistics_state(self) -> Path:
        """Internal: each statistic's additive parts as of some extract months (aggregates only), from
        which the next month's statistics continue instead of re-reading years of the register."""
        return self.data / "4_statistics_state"

    @property
    def protected(self) -> Path:
        return self.data / "5_protected"

    @property
    def published(self) -> Path:
        return self.data / "6_published"

    @property
    def secrets(self) -> Path:
        return self.home / "secrets"

    @property
    def dagster_home(self) -> Path:
        return self.home / "dagster"


def home() -> Path:
    return Path(os.environ.get("OROSTAT_HOME", PROJECT_ROOT / "var")).resolve()


def paths() -> Paths:
    """Paths of the installation named by ``OROSTAT_HOME`` (read on every call: tests change it)."""
    return Paths(home())
