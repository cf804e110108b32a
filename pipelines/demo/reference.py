"""The schemas the generator reads (code lists, dialects, municipalities, contract fields) and its seeded random streams.

Part of the demo generator; how it works and why: pipelines/demo/generator.py."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from pipelines.core.schemas import extract_contract

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"


def _read_csv(relative: str) -> list[dict[str, str]]:
    with (SCHEMAS / relative).open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def contract_fields() -> list[str]:
    return list(extract_contract()["fields"])


def municipalities() -> list[tuple[str, str]]:
    """(code, short name) of every municipality, sorted by code."""
    rows = _read_csv("reference/municipalities.csv")
    return sorted((r["municipality_code"], r["municipality_name_short"]) for r in rows)


def _rng(seed: int, purpose: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, purpose]))


def _codes() -> dict[str, list[str]]:
    reporters = _read_csv("codes/reporters.csv")
    causes = _read_csv("codes/causes.csv")
    return {
        "reporter": [r["code"] for r in reporters],
        "reporter_valid_from": [r["valid_from"] for r in reporters],
        "reporter_valid_to": [r["valid_to"] for r in reporters],
        "reporter_rolls_up_to": [r["rolls_up_to"] for r in reporters],
        "cause": [r["code"] for r in causes],
        "cause_group": [r["group"] for r in causes],
        "cause_groups": [r["code"] for r in _read_csv("codes/cause_groups.csv")],
        "outcome": [r["code"] for r in _read_csv("codes/outcomes.csv")],
    }
