"""Early-warning signals (issue 22) from the PUBLISHED protected figures only: "the schools-closed problem".

When schools closed in spring 2020, reports from school fell and children were out of sight. For riket and
every county, each reporter group and each cause group is a monthly series read from the release's
``reporters`` and ``causes`` tables (earlier years from earlier December releases, as the report reads them:
``history.py``). Each month of the release's two years is compared with what the same months of earlier
years and the trend predict (``model.py``), with a prediction interval; a month outside it is a signal.
Municipalities publish no months (release.yaml geographies), so they get no signals.

Not assessed: a series with fewer than ``min_years`` earlier years of the same month ("för kort
tidsserie"); a series with fewer than ``min_months`` published months to fit, or whose fit fails; a
suppressed or missing month; a preliminary month (it will still change); a month expected
below ``min_expected`` reports. Thresholds: ``schemas/signals.yaml``. A month found to be a signal is left
out of the fit for later months, so one drop does not hide the next.
"""

from __future__ import annotations

import math
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from pipelines.core.atomic import atomic_file
from pipelines.core.schemas import code_table, release_spec
from pipelines.core.settings import SCHEMAS
from pipelines.stage6_publishing.history import History
from pipelines.stage6_publishing.insight import model

COLUMNS = [
    "release", "geo_level", "geo_code", "geo_name", "table", "dimension", "code", "series_sv", "period",
    "observed", "expected", "lower", "upper", "status", "status_sv", "signal",
]  # fmt: skip
MONTH_COLUMNS = [
    "geo_level", "geo_code", "geo_name", "table", "dimension", "code", "period", "value", "status", "preliminary",
]  # fmt: skip
_CACHE = "signals"  # key in the release's cache: the report and the CSV compute the signals once


@cache
def spec() -> dict[str, Any]:
    return yaml.safe_load((SCHEMAS / "signals.yaml").read_text("utf-8"))["signals"]


def series_label(table: str, dimension: str, code: str) -> str:
    """'Anmälare: Skola': the dimension's and the category's Swedish names (release.yaml, schemas/codes)."""
    dim = release_spec()["tables"][table]["dimensions"][dimension]
    labels = code_table(dim["codes"]).to_pandas()
    return f"{dim['sv']}: {dict(zip(labels['code'], labels['label_sv'], strict=True))[code]}"


def monthly(history: History) -> pd.DataFrame:
    """Every month of every series, oldest first, each year from the release that holds it."""
    levels = spec()["geo_levels"]
    sources = [*history.earlier.items(), *((y, history.release) for y in history.release.years)]
    parts = []
    for item in spec()["series"]:
        codes = set(code_table(item["codes"]).to_pandas()["code"])
        for year, release in sources:
            frame = release.tables.get(item["table"])
            if frame is None:
                continue
            rows = frame[
                (frame["period_type"] == "month")
                & frame["period"].astype(str).str.startswith(year)
                & frame["geo_level"].isin(levels)
                & frame[item["dimension"]].astype(str).isin(codes)
            ]
            prel = rows["preliminary"].fillna(False).astype(bool) if "preliminary" in rows else False
            parts.append(
                rows.assign(
                    table=item["table"],
                    dimension=item["dimension"],
                    code=rows[item["dimension"]].astype(str),
                    preliminary=prel,
                    status=rows["status"].fillna("").astype(str),
                )[MONTH_COLUMNS]
            )
    if not parts:
        return pd.DataFrame(columns=MONTH_COLUMNS)
    return pd.concat(parts, ignore_index=True).sort_values(["table", "code", "geo_code", "period"])


def assess(frame: pd.DataFrame, tested_years: set[str], method: str | None = None) -> list[dict[str, Any]]:
    """One row per tested month of one series (``frame``: its months, period order): observed, expected,
    interval, status (low, high, normal, short, suppressed, preliminary, small) and whether a signal."""
    conf = spec()
    method = method or conf["method"]
    z = model.z_value(float(conf["interval_level"]))
    year = frame["period"].str[:4].astype(int).to_numpy()
    month = frame["period"].str[5:7].astype(int).to_numpy()
    value = pd.to_numeric(frame["value"], errors="coerce").to_numpy(dtype=float)
    usable = (frame["status"].to_numpy() == "") & ~np.isnan(value)
    t = year + (month - 1) / 12
    flagged = np.zeros(len(frame), dtype=bool)
    out = []
    for i, period in enumerate(frame["period"]):
        if period[:4] not in tested_years:
            continue
        earlier = usable & (month == month[i]) & (year < year[i]) & (year >= year[i] - conf["max_years"])
        row = {"period": period, "observed": value[i] if usable[i] else None}
        prediction = None
        long_enough = bool(earlier.sum() >= conf["min_years"])
        if long_enough:
            fit = usable & ~flagged & (t < t[i]) & (year >= year[i] - conf["max_years"])
            if fit.sum() >= conf["min_months"]:
                prediction = _predict(method, t, month, value, fit, i, z)
        status = _status(
            prediction, long_enough, bool(usable[i]), bool(frame["preliminary"].iloc[i]), value[i]
        )
        if status == "unfit" and value[earlier].mean() < conf["min_expected"]:
            status = "small"  # a fit that fails on a series of a few reports: too small in any case
        flagged[i] = status in ("low", "high")
        out.append(row | _numbers(prediction) | {"status": status, "signal": bool(flagged[i])})
    return out


def _predict(
    method: str, t: np.ndarray, month: np.ndarray, value: np.ndarray, fit: np.ndarray, i: int, z: float
) -> model.Prediction | None:
    if method == "glm":
        return model.glm(t[fit], month[fit], value[fit], float(t[i]), int(month[i]), z)
    year = np.floor(t + 1e-9).astype(int)
    same = value[fit & (month == month[i])]
    now, before = _year_to_date(year, month, value, fit, int(year[i]), int(month[i]))
    return model.ratio(same, now, before, z)


def _year_to_date(
    year: np.ndarray, month: np.ndarray, value: np.ndarray, fit: np.ndarray, y: int, m: int
) -> tuple[float, float]:
    """This year's months before m and the mean of the same months in earlier years (January: last year
    against the years before it), over months published in every year compared."""
    months = list(range(1, m)) if m > 1 else list(range(1, 13))
    now_year = y if m > 1 else y - 1
    years = sorted({int(v) for v in year[fit] if v < now_year})
    if not years:
        return 0.0, 0.0
    total = {(a, b): v for a, b, v, f in zip(year, month, value, fit, strict=True) if f}
    common = [b for b in months if all((a, b) in total for a in [now_year, *years])]
    now = sum(total[(now_year, b)] for b in common)
    before = sum(total[(a, b)] for a in years for b in common) / len(years)
    return float(now), float(before)


def _status(
    prediction: model.Prediction | None, long_enough: bool, usable: bool, preliminary: bool, value: float
) -> str:
    if not long_enough:
        return "short"
    if not usable:
        return "suppressed"
    if prediction is None:
        return "unfit"
    if preliminary:
        return "preliminary"
    if prediction.expected < spec()["min_expected"]:
        return "small"
    if value < prediction.lower:
        return "low"
    return "high" if value > prediction.upper else "normal"


def _numbers(prediction: model.Prediction | None) -> dict[str, float | None]:
    if prediction is None:
        return {"expected": None, "lower": None, "upper": None}
    return {
        "expected": round(prediction.expected, 1),
        "lower": round(prediction.lower, 1),
        "upper": round(prediction.upper, 1),
    }


def compute(history: History, method: str | None = None) -> pd.DataFrame:
    """Every tested month of every series (the CSV's rows), computed once per release object."""
    cache = history.release._indexes
    key = (_CACHE, method)
    if key not in cache:
        cache[key] = _compute(history, method)
    return cache[key]


def _compute(history: History, method: str | None) -> pd.DataFrame:
    months = monthly(history)
    tested = set(history.release.years)
    labels_sv = spec()["status"]
    rows = []
    for (table, dimension, code, geo), part in months.groupby(
        ["table", "dimension", "code", "geo_code"], sort=True
    ):
        first = part.iloc[0]
        label = series_label(table, dimension, code)
        for found in assess(part.reset_index(drop=True), tested, method):
            rows.append(
                {
                    "release": history.release.release,
                    "geo_level": first["geo_level"],
                    "geo_code": geo,
                    "geo_name": first["geo_name"],
                    "table": table,
                    "dimension": dimension,
                    "code": code,
                    "series_sv": label,
                    **found,
                    "status_sv": labels_sv[found["status"]],
                }
            )
    return pd.DataFrame(rows, columns=COLUMNS)


def write_csv(history: History, folder: Path) -> Path:
    """``signaler.csv`` in the published release folder: every tested month, machine-readable (comma,
    decimal point, UTF-8, true/false), rewritten whole on every publication of the release."""
    target = folder / spec()["csv"]
    with atomic_file(target) as tmp:
        compute(history).to_csv(tmp, index=False, encoding="utf-8", lineterminator="\n")
    return target


def counts_inside(lower: float, upper: float) -> tuple[int, int]:
    """The whole counts inside the interval: what a reader compares a count with (8 is outside 8.5–40)."""
    return math.ceil(lower), math.floor(upper)


def summary_lines(published: Path, limit: int = 10) -> list[str]:
    """A few Swedish lines on the signals of the latest published release, for ``orostat summary``."""
    folders = sorted(p for p in published.glob("release=*") if (p / spec()["csv"]).exists())
    if not folders:
        return []
    frame = pd.read_csv(folders[-1] / spec()["csv"], dtype={"geo_code": str, "period": str})
    release = folders[-1].name.removeprefix("release=")
    found = frame[frame["signal"].astype(str).str.lower() == "true"]
    assessed = int(frame["status"].isin(["low", "high", "normal"]).sum())
    if found.empty:
        return [f"Signaler i publiceringen {release}: inga ({assessed} bedömda serie-månader)."]
    lines = [
        f"Signaler i publiceringen {release} (ur publicerade, skyddade tal): {len(found)} av {assessed} "
        "bedömda serie-månader utanför prognosintervallet"
    ]
    for r in found.sort_values(["period", "geo_code"], ascending=[False, True]).head(limit).itertuples():
        low, high = counts_inside(r.lower, r.upper)
        lines.append(
            f"  {r.period}  {r.geo_name}  {r.series_sv}: {r.observed:.0f} anmälningar, väntat "
            f"{r.expected:.0f} ({low}–{high}). {r.status_sv}."
        )
    if len(found) > limit:
        lines.append(f"  … och {len(found) - limit} till (se {spec()['csv']})")
    return lines
