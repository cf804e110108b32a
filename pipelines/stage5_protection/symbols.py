"""Release-writer helpers: suppressed values as nulls and Kolada's symbols."""

from __future__ import annotations

import numpy as np
import pandas as pd

SUPPRESSED = ".."  # sekretess
MISSING = "-"
NOT_APPLICABLE = "."


def to_published(
    df: pd.DataFrame, mask: np.ndarray, reasons: np.ndarray | None = None, value_column: str = "value"
) -> pd.DataFrame:
    """Copy of ``df`` with the value as nullable Int64 (null where suppressed) and a ``status`` column.

    ``status`` is "" for published cells and ".." for suppressed ones; ``reasons`` (aligned with the
    rows) is kept as a ``reason`` column for internal review copies — drop it before publishing.
    """
    out = df.copy()
    mask = np.asarray(mask, dtype=bool)
    out[value_column] = out[value_column].astype("Int64").mask(mask)
    out["status"] = np.where(mask, SUPPRESSED, "")
    if reasons is not None:
        out["reason"] = np.asarray(reasons, dtype=object)
    return out


def to_kolada_csv_values(
    published: pd.DataFrame, value_column: str = "value", not_applicable: pd.Series | None = None
) -> pd.Series:
    """Values as strings: the number, ".." suppressed, "-" missing, "." not applicable (bool series)."""
    values = published[value_column]
    text = values.astype("string").fillna(MISSING)
    if "status" in published:
        text = text.mask(published["status"] == SUPPRESSED, SUPPRESSED)
    if not_applicable is not None:
        text = text.mask(not_applicable.to_numpy(dtype=bool), NOT_APPLICABLE)
    return text.astype(object)
