"""Loaders for the declarative contracts in ``schemas/``: one place for every code list and mapping."""

from __future__ import annotations

import unicodedata
from functools import cache, lru_cache
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import yaml

from pipelines.core.settings import SCHEMAS


def _yaml(relative: str) -> dict[str, Any]:
    return yaml.safe_load((SCHEMAS / relative).read_text(encoding="utf-8"))


CONTRACT_FILE = "extract_contract_v2.yaml"


@cache
def extract_contract() -> dict[str, Any]:
    """The extract contract in force: a version that ``extends`` an earlier one adds its fields after the
    earlier version's (which stays as it was published, so v1 files remain valid as written)."""
    return _contract(CONTRACT_FILE)


def _contract(relative: str) -> dict[str, Any]:
    spec = _yaml(relative)
    if "extends" in spec:
        base = _contract(spec["extends"])
        spec = {**base, **spec, "fields": {**base["fields"], **spec["fields"]}}
    return spec


def delivered_flags() -> list[str]:
    """Optional fields whose mere presence in a file is recorded (``<field>_delivered``)."""
    return [name for name, f in extract_contract()["fields"].items() if f.get("delivered_flag")]


@cache
def dialects() -> dict[str, dict[str, Any]]:
    """Every dialect mapping, by name, in a stable order."""
    found = {}
    for path in sorted((SCHEMAS / "dialects").glob("*.yaml")):
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
        found[spec["dialect"]] = spec
    return found


@cache
def statistics_spec() -> dict[str, Any]:
    return _yaml("statistics.yaml")


@cache
def release_spec() -> dict[str, Any]:
    return _yaml("release.yaml")


@cache
def publishing_spec() -> dict[str, Any]:
    return _yaml("publishing.yaml")


@cache
def insight_spec() -> dict[str, Any]:
    return _yaml("insight.yaml")


@cache
def quarantine_reasons() -> dict[str, Any]:
    return _yaml("quarantine_reasons.yaml")


def code_table(name: str) -> pa.Table:
    """A code list (``schemas/codes/<name>.csv``) or reference table, every column read as text."""
    folder = "reference" if name in {"municipalities", "counties"} else "codes"
    return _csv(f"{folder}/{name}.csv")


@cache
def _csv(relative: str) -> pa.Table:
    path = SCHEMAS / relative
    with path.open("rb") as fh:
        header = fh.readline().decode("utf-8").strip().split(",")
    return pacsv.read_csv(
        path,
        convert_options=pacsv.ConvertOptions(
            column_types={name: pa.string() for name in header}, strings_can_be_null=True
        ),
    )


def codes(name: str) -> list[str]:
    return code_table(name).column("code").to_pylist()


@lru_cache(maxsize=4096)  # header names repeat in every file of a month: fold each once
def fold(text: str) -> str:
    """Case- and accent-insensitive key for matching header names: 'Anmälan-ID ' -> 'anmalanid'."""
    decomposed = unicodedata.normalize("NFKD", text.strip().casefold())
    return "".join(ch for ch in decomposed if ch.isalnum() and not unicodedata.combining(ch))
