"""Writing a release's folder: each table as published (Parquet and CSV, with preliminary flags), the
derived figures, data quality, the audit and its summary, the cells file the next release reads, and the
manifest.
"""

from __future__ import annotations

import json
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.core.files import STATISTICS_FILE
from pipelines.core.schemas import release_spec
from pipelines.core.settings import Paths
from pipelines.stage5_protection import cell_key as ck
from pipelines.stage5_protection import cells as c
from pipelines.stage5_protection import csv_files, data_quality, not_reported, preliminary
from pipelines.stage5_protection.decision import Decision, ReleaseOutcome, _main, rules
from pipelines.stage5_protection.derived import (
    _labels,
    _percentiles_beyond_doubt,
    percentiles,
    population_rates,
    rates,
)
from pipelines.stage5_protection.secondary import Protection
from pipelines.stage5_protection.symbols import MISSING, SUPPRESSED

CELLS_FILE = "cells.parquet"


MANIFEST_FILE = "manifest.json"


AUDIT = "audit"


POPULATION_RATES = "population_rates"


PERCENTILES = "percentiles"


PTABLE = "ptable"


RATES = "rates"


def _published(
    name: str,
    frame: pd.DataFrame,
    shown: np.ndarray,
    mask: np.ndarray,
    calendar: c.Calendar,
    missing: set[str],
    unreported: np.ndarray | None = None,
) -> pd.DataFrame:
    """A table as published: codes, Swedish labels, value (``shown``, null where hidden or missing) and
    status (``..`` hidden, ``-`` a period without data)."""
    _, level = c.geographies()
    names = c.geo_names()
    dims = c.dims_of(name)
    out = pd.DataFrame(
        {
            "release": calendar.as_of,
            "as_of_month": calendar.as_of,
            "period_type": frame[c.PERIOD].map(calendar.period_type),
            "period": frame[c.PERIOD].str.replace(r"-YTD\d\d$", "", regex=True),
            "geo_level": frame[c.GEO].map(level),
            "geo_code": frame[c.GEO],
            "geo_name": frame[c.GEO].map(names),
        }
    )
    for dim in dims:
        out[dim] = frame[dim].to_numpy()
        out[f"{dim}_sv"] = frame[dim].map(_labels(name, dim)).to_numpy()
    absent = frame[c.PERIOD].isin(missing).to_numpy()
    if unreported is not None:  # the area did not report the figure at all (module not_reported)
        absent = absent | unreported
    out["value"] = pd.array(np.where(mask | absent, pd.NA, shown), dtype="Int64")
    out["status"] = np.where(absent, MISSING, np.where(mask, SUPPRESSED, ""))
    return out.sort_values(["period_type", "period", "geo_level", "geo_code", *dims], ignore_index=True)


def _write(
    out: Path,
    home: Paths,
    calendar: c.Calendar,
    tables: dict[str, pd.DataFrame],
    decision: Decision,
    outcome: ReleaseOutcome,
) -> None:
    label = _data_label(home, calendar.as_of)
    spec = release_spec()
    cell_key = decision.cell_key is not None  # the method that decided, whatever the spec says now
    meta = {
        "release": calendar.as_of,
        "as_of_month": calendar.as_of,
        "contract": f"release v{spec['version']}",
        "schema_version": str(spec["version"]),
        "disclosure_control": "protected (cell-key perturbation, certified)"
        if cell_key
        else "protected (primary + secondary suppression, LP-audited)",
        "data": label,
    }
    main = _main(tables)
    missing = c.missing_periods(calendar, c.covered_months(home, calendar.as_of))
    published = {}
    for name, frame in main.items():
        mask, reasons = decision.masks[name]
        unreported = not_reported.absent(frame, calendar, not_reported.reporting(home, name, calendar))
        published[name] = _published(name, frame, decision.shown[name], mask, calendar, missing, unreported)
    marks = preliminary.flags(published[preliminary.SOURCE], calendar)

    def write(name: str, frame: pd.DataFrame) -> None:  # every table with its preliminary flags
        _write_table(out, name, preliminary.mark(frame, marks, calendar), meta)

    for name, frame in main.items():
        mask, reasons = decision.masks[name]
        write(name, published[name])
        outcome.tables[name] = {
            "cells": len(frame),
            "suppressed_primary": int((mask & np.char.startswith(reasons.astype(str), "primary")).sum()),
            "suppressed_total": int(mask.sum()),
            "hidden_share_of_cells": round(float(mask.mean()), 4) if len(frame) else 0.0,
            "hidden_share_of_count": _hidden_share(frame, mask),
        }
        if cell_key and c.additive(name):
            noise = decision.shown[name] - frame[c.VALUE].to_numpy()
            counted = frame[c.VALUE].to_numpy() > 0
            outcome.tables[name]["mean_absolute_noise"] = (
                round(float(np.abs(noise[counted]).mean()), 3) if counted.any() else 0.0
            )
    write(RATES, rates(published, rules().threshold))
    per_population = population_rates(home, published, rules().threshold)
    if per_population is not None:  # without a population file these rates are omitted, not invented
        write(POPULATION_RATES, per_population)
    shares = percentiles(home, calendar, rules().threshold, missing)
    if cell_key:
        shares = _percentiles_beyond_doubt(shares, published)
    write(PERCENTILES, shares)
    _write_table(out, data_quality.TABLE, data_quality.table(home, calendar), meta)
    if cell_key:
        _write_table(out, PTABLE, ck.Parameters.from_spec().ptable().frame(), meta)
    _write_table(out, AUDIT, decision.audit, meta)
    outcome.audit = decision.summary
    decision.cells.to_parquet(out / CELLS_FILE, compression="zstd")
    manifest = _manifest(calendar, outcome, meta)
    if cell_key:
        manifest |= {"disclosure_method": ck.METHOD, "cell_key": decision.cell_key}
    (out / MANIFEST_FILE).write_text(json.dumps(manifest, ensure_ascii=False, indent=2), "utf-8")


def _hidden_share(frame: pd.DataFrame, mask: np.ndarray) -> float:
    """Share of the table's count behind suppressed cells, at its finest level (kommun or län)."""
    total = float(frame[c.VALUE].sum())
    return round(float(frame.loc[mask, c.VALUE].sum()) / total, 4) if total else 0.0


def _write_table(out: Path, name: str, frame: pd.DataFrame, meta: dict[str, str]) -> None:
    table = pa.Table.from_pandas(frame, preserve_index=False)
    table = table.replace_schema_metadata({k: str(v) for k, v in meta.items()} | {"table": name})
    pq.write_table(table, out / f"{name}.parquet", compression="zstd")
    csv_files.write(out, name, frame)


def _audit(result: Protection, main: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The attacker's interval for every suppressed published cell (never its value or its reason)."""
    audit = result.audit if result.audit is not None else pd.DataFrame(columns=["table", "key"])
    audit = audit.loc[
        audit["table"].isin(list(main)) & result.system.published[audit["cell"].to_numpy(dtype=int)]
    ]
    keys = audit["key"].tolist()
    return pd.DataFrame(
        {
            "table": audit["table"].to_numpy(),
            "geo_code": [k[0] for k in keys],
            "period": [k[1] for k in keys],
            "categories": ["/".join(k[2:]) for k in keys],
            "lower": audit["lower"].to_numpy(dtype=float),
            "upper": audit["upper"].to_numpy(dtype=float),
            "width": audit["width"].to_numpy(dtype=float),
            "passes": audit["passes"].to_numpy(dtype=bool),
        }
    )


def _audit_summary(result: Protection, audit: pd.DataFrame) -> dict[str, Any]:
    full = result.audit if result.audit is not None else pd.DataFrame({"width": [], "passes": []})
    finite = full["width"].replace(np.inf, np.nan).dropna()
    return {
        "cells_audited": len(full),
        # sensitive cells that are never published themselves (a kommun's month), protected all the same
        "of_which_never_published": int((~result.system.published[full["cell"].to_numpy(dtype=int)]).sum())
        if len(full)
        else 0,
        "failing": int((~full["passes"].astype(bool)).sum()),
        "unprotectable": len(result.unprotectable),
        "narrowest_interval": float(finite.min()) if len(finite) else None,
        "margin": rules().margin,
        "passes": bool(result.passes),
    }


def _cells_frame(
    masks: dict[str, tuple[np.ndarray, np.ndarray]], main: dict[str, pd.DataFrame]
) -> pd.DataFrame:
    """Which published cells were hidden: what the next release must keep consistent with."""
    rows = []
    for name, frame in main.items():
        keys = frame[[c.GEO, c.PERIOD, *c.dims_of(name)]].astype(str).to_numpy().tolist()
        rows.append(pd.DataFrame({"table": name, "key": keys, "suppressed": masks[name][0]}))
    return pd.concat(rows, ignore_index=True)


def _manifest(calendar: c.Calendar, outcome: ReleaseOutcome, meta: dict[str, str]) -> dict[str, Any]:
    spec = release_spec()
    return {
        **meta,
        "previous_release": outcome.previous,
        "code_version": f"orostat {version('orostat')}",
        "rules": spec["rules"] | {"protection_margin_used": rules().margin},
        "geographies": spec["geographies"],
        "tables": outcome.tables,
        "rates": list(spec["rates"]),
        "audit": outcome.audit,
        "symbols": {
            "..": "sekretess (suppressed)",
            "-": "uppgift saknas (missing)",
            ".": "ej tillämpligt (not applicable)",
        },
    }


def _data_label(home: Paths, as_of: str) -> str:
    path = home.statistics / "reports" / f"as_of_month={as_of}" / STATISTICS_FILE
    meta = pq.read_schema(path).metadata or {}
    return meta.get(b"data", b"real").decode("utf-8")
