"""The two CSV files of every published table, as ``schemas/publishing.yaml`` (``csv``) declares them.

* Swedish (``<table>.csv``): semicolon, decimal comma, UTF-8 with BOM, Kolada's symbols in the value
  column (``..`` hidden, ``-`` missing, ``.`` not applicable): what Swedish Excel opens correctly.
* Machine (``<table>.machine.csv``): comma, decimal point, UTF-8 without BOM; the value column is empty
  where not published and ``status`` says why, so the column stays numeric for any reader.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from pipelines.core.schemas import publishing_spec
from pipelines.stage5_protection.symbols import NOT_APPLICABLE, to_kolada_csv_values


def formats() -> dict[str, dict[str, Any]]:
    return publishing_spec()["csv"]


def file_name(table: str, kind: str) -> str:
    return f"{table}{formats()[kind]['suffix']}"


def _text(frame: pd.DataFrame, spec: dict[str, Any]) -> pd.DataFrame:
    """Numbers and booleans as the format writes them (decimal mark, words for true/false)."""
    out = frame.copy()
    for column in out.columns:
        values = out[column]
        if pd.api.types.is_bool_dtype(values):
            out[column] = values.map({True: spec["true"], False: spec["false"]}).astype(object)
        elif pd.api.types.is_float_dtype(values):
            text = values.map(lambda v: "" if pd.isna(v) else repr(float(v)).removesuffix(".0"))
            out[column] = text.str.replace(".", spec["decimal"], regex=False)
    return out


def write(out: Path, table: str, frame: pd.DataFrame) -> list[Path]:
    """Both CSV files of ``table`` in folder ``out``; the paths written."""
    written = []
    for kind, spec in formats().items():
        csv = _text(frame, spec)
        if spec["symbols"] and "value" in csv and "status" in csv:
            numeric = frame["value"]
            if pd.api.types.is_float_dtype(numeric):
                csv["value"] = _text(frame[["value"]], spec)["value"].replace("", pd.NA)
            csv["value"] = to_kolada_csv_values(
                csv.assign(value=csv["value"].astype("string")),
                not_applicable=frame["status"].eq(NOT_APPLICABLE),
            )
        path = out / file_name(table, kind)
        csv.to_csv(path, sep=spec["sep"], index=False, encoding=spec["encoding"], lineterminator="\n")
        written.append(path)
    return written
