"""A release: the protected tables of one as-of month, with their audit and manifest.

``5_protected/release=YYYY-MM/`` holds, per table of ``schemas/release.yaml``, a Parquet file (value null
where suppressed, a ``status`` column) and a CSV with Kolada's symbols; ``rates`` for shares computed from
published cells; ``audit`` (for every suppressed cell, the interval an attacker can infer from this release
and the previous one, by linear programming); ``cells.parquet`` (which cells were published and which
hidden, for the next release) and ``manifest.json``. The folder is swapped in whole.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.core.atomic import atomic_dir
from pipelines.core.files import STATISTICS_FILE
from pipelines.core.schemas import code_table, release_spec
from pipelines.core.settings import Paths, settings
from pipelines.stage4_statistics import population
from pipelines.stage5_protection import cell_key as ck
from pipelines.stage5_protection import cells as c
from pipelines.stage5_protection import csv_files, data_quality, preliminary
from pipelines.stage5_protection.model import PreviousRelease
from pipelines.stage5_protection.primary import Rules
from pipelines.stage5_protection.secondary import Protection, protect
from pipelines.stage5_protection.symbols import MISSING, NOT_APPLICABLE, SUPPRESSED

CELLS_FILE = "cells.parquet"
MANIFEST_FILE = "manifest.json"
AUDIT = "audit"
POPULATION_RATES = "population_rates"
PERCENTILES = "percentiles"
PTABLE = "ptable"
RATES = "rates"


def release_folder(home: Paths, release: str) -> Path:
    return home.protected / f"release={release}"


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


def previous_release(home: Paths, calendar: c.Calendar) -> tuple[PreviousRelease | None, pd.DataFrame | None]:
    """The previous month's release as the attacker saw it: its cells valued with the statistics as of
    its own extract month (a figure revised since is another quantity to the engine), and its cell list."""
    prev = calendar.previous()
    path = release_folder(home, prev.as_of) / CELLS_FILE
    if not path.exists():
        return None, None
    listed = pd.read_parquet(path)
    periods = {m: [m] for m in prev.months()} | prev.quarters() | prev.years()
    frames, specs = {}, []
    for name, group in listed.groupby("table", sort=False):
        if name not in c.tables() or not c.additive(name):
            continue  # not-additive tables take part through the differencing rule instead
        values = c.aggregate(c.month_cells(home, name, prev), periods, name)
        keys = pd.DataFrame(group["key"].tolist(), columns=[c.GEO, c.PERIOD, *c.dims_of(name)])
        frames[name] = keys.merge(values, on=list(keys.columns)).assign(published=True)
        specs.append(c.table_spec(name, prev))
    hidden = listed.loc[listed["suppressed"]]
    suppressed = frozenset((t, tuple(k)) for t, k in zip(hidden["table"], hidden["key"], strict=True))
    return PreviousRelease(frames, specs, c.links(), suppressed), listed


def differenced(home: Paths, calendar: c.Calendar, tables: dict[str, pd.DataFrame]) -> set[c.CellId]:
    """Cells of not-additive tables (distinct children) whose year to date exceeds the previous release's
    published year to date by 1..threshold: the difference would count a handful of children."""
    prev = calendar.previous()
    if calendar.month == 1:
        return set()
    out = set()
    threshold = rules().threshold
    for name, frame in tables.items():
        path = release_folder(home, prev.as_of) / f"{name}.parquet"
        if name not in c.tables() or c.additive(name) or not path.exists():
            continue
        dims = c.dims_of(name)
        old = pd.read_parquet(path, columns=["geo_code", "period_type", *dims, "value"])
        old = old.loc[old["period_type"].eq("year_to_date")].rename(columns={"geo_code": c.GEO})
        now = frame.loc[frame[c.PERIOD].eq(c.ytd(calendar.year, calendar.month))]
        both = now.merge(old, on=[c.GEO, *dims], suffixes=("", "_before"))
        diff = both[c.VALUE] - both["value_before"].astype("float64")
        hit = both.loc[diff.between(1, threshold)]
        keys = hit[[c.GEO, c.PERIOD, *dims]].astype(str).itertuples(index=False, name=None)
        out |= {(name, key) for key in keys}
    return out


def audit_workers() -> int:
    """Processes for the exact audit: settings' ``release.audit_workers``, ``auto`` = the CPUs we may use."""
    wanted = settings()["release"].get("audit_workers", "auto")
    available = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, available if wanted == "auto" else min(int(wanted), available))


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


def build_release(home: Paths, as_of: str, exact_audit: bool = True) -> ReleaseOutcome:
    """Protect and write the release as of ``as_of`` (its statistics must exist)."""
    import time

    clock = time.perf_counter()
    calendar = c.Calendar(as_of)
    cell_key = method() == ck.METHOD
    # the cell-key method has no pattern to carry: no increment tables, no previous release in the system
    has_previous = not cell_key and (release_folder(home, calendar.previous().as_of) / CELLS_FILE).exists()
    inputs, _ = c.release_cells(home, calendar, has_previous)
    seconds = {"cells": time.perf_counter() - clock}
    if cell_key:
        decision, previous = _cell_key(home, calendar, inputs, exact_audit), None
    else:
        previous, _ = previous_release(home, calendar) if has_previous else (None, None)
        decision = _suppression(home, calendar, inputs, previous, exact_audit)
    seconds["protect_and_audit"] = time.perf_counter() - clock - seconds["cells"]
    outcome = ReleaseOutcome(as_of, calendar.previous().as_of if previous else None, decision.passes)
    with atomic_dir(release_folder(home, as_of)) as out:
        _write(out, home, calendar, inputs.tables, decision, outcome)
    outcome.seconds = seconds | {"total": time.perf_counter() - clock}
    return outcome


def _main(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    return {name: frame for name, frame in tables.items() if name in c.tables()}


def _suppression(
    home: Paths,
    calendar: c.Calendar,
    inputs: c.ReleaseCells,
    previous: PreviousRelease | None,
    exact_audit: bool,
) -> Decision:
    """Primary and secondary suppression with the exact LP audit against the previous release."""
    forced = differenced(home, calendar, inputs.tables)
    result = protect(
        inputs.tables,
        inputs.specs,
        inputs.links,
        rules(),
        previous,
        forced,
        exact_audit=exact_audit,
        audit_workers=audit_workers(),
    )
    main = _main(inputs.tables)
    audit = _audit(result, main)
    summary = _audit_summary(result, audit) | {
        "modelled": "this release and the previous one (LP over additivity, links, year-to-date differences)"
    }
    return Decision(
        {name: frame[c.VALUE].to_numpy() for name, frame in main.items()},
        result.table_masks(main),
        audit,
        summary,
        result.passes,
        _cells_frame(result.table_masks(main), main),
    )


def _cell_key(home: Paths, calendar: c.Calendar, inputs: c.ReleaseCells, exact_audit: bool) -> Decision:
    """Cell-key perturbation of the additive tables; the distinct-children tables (not additive, riket
    and län) keep primary suppression and the differencing rule; the certificate audit of ``cell_key``."""
    params, rule = ck.Parameters.from_spec(), rules()
    main = _main(inputs.tables)
    additive = {name: frame for name, frame in main.items() if c.additive(name)}
    exact = {name: frame for name, frame in main.items() if not c.additive(name)}
    perturbed = {name: ck.perturb(frame, rule, params) for name, frame in additive.items()}
    problems = [
        p for name, t in perturbed.items() for p in ck.check_table(name, additive[name], t, rule, params)
    ]
    problems += ck.check_consistency(additive, perturbed)
    public = params.public(rule.margin)
    problems += ck.check_earlier_releases(home.protected, calendar.as_of, MANIFEST_FILE, public)
    specs = [s for s in inputs.specs if s.name in exact]
    result = protect(
        exact, specs, [], rule, None, differenced(home, calendar, exact), exact_audit=exact_audit
    )
    masks = {name: (t.mask, t.reasons) for name, t in perturbed.items()} | result.table_masks(exact)
    exact_audit_rows = _audit(result, exact).assign(basis="lp")
    hidden = [_certified(name, additive[name], t, rule.margin) for name, t in perturbed.items()]
    audit = pd.concat([exact_audit_rows, *hidden], ignore_index=True)
    summary = {
        "method": ck.METHOD,
        "cells_audited": int(sum(len(f) for f in additive.values())) + len(exact_audit_rows),
        "of_which_never_published": 0,
        "failing": len(problems) + int((~exact_audit_rows["passes"]).sum()),
        "problems": problems,
        "unprotectable": len(result.unprotectable),
        "narrowest_interval": float(rule.margin),  # what the certificate guarantees, at least
        "margin": rule.margin,
        "passes": not problems and result.passes,
        "modelled": (
            "every release published before this one (all by the same ptable, checked), with every relation "
            "between published figures: a certificate that any count can grow by "
            f"{params.shift} × the margin without contradicting any of them"
        ),
    }
    shown = {name: t.shown for name, t in perturbed.items()} | {
        n: f[c.VALUE].to_numpy() for n, f in exact.items()
    }
    cells = _cells_frame(masks, main)
    return Decision(shown, masks, audit, summary, bool(summary["passes"]), cells, public)


def _certified(name: str, frame: pd.DataFrame, table: ck.Perturbed, width: float) -> pd.DataFrame:
    """Audit rows for a perturbed table's hidden cells: no interval is computed, the certificate gives
    every count an attacker's interval at least ``width`` wide."""
    hidden = frame.loc[table.mask]
    keys = hidden[[c.GEO, c.PERIOD, *c.dims_of(name)]].astype(str).to_numpy().tolist()
    return pd.DataFrame(
        {
            "table": name,
            "geo_code": [k[0] for k in keys],
            "period": [k[1] for k in keys],
            "categories": ["/".join(k[2:]) for k in keys],
            "lower": np.nan,
            "upper": np.nan,
            "width": float(width),
            "passes": True,
            "basis": "certificate",
        }
    )


def _published(
    name: str,
    frame: pd.DataFrame,
    shown: np.ndarray,
    mask: np.ndarray,
    calendar: c.Calendar,
    missing: set[str],
) -> pd.DataFrame:
    """A table as published: codes, Swedish labels, value (``shown``, null where hidden or missing) and
    status (``..`` hidden, ``-`` a period without data)."""
    _, level = c.geographies()
    names = _geo_names()
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
    out["value"] = pd.array(np.where(mask | absent, pd.NA, shown), dtype="Int64")
    out["status"] = np.where(absent, MISSING, np.where(mask, SUPPRESSED, ""))
    return out.sort_values(["period_type", "period", "geo_level", "geo_code", *dims], ignore_index=True)


def _geo_names() -> dict[str, str]:
    kommuner = code_table("municipalities").to_pandas()
    lan = code_table("counties").to_pandas()
    return (
        {c.RIKET: "Riket"}
        | dict(zip(lan["county_code"], lan["county_name"], strict=True))
        | dict(zip(kommuner["municipality_code"], kommuner["municipality_name_short"], strict=True))
    )


def _labels(name: str, dim: str) -> dict[str, str]:
    spec = c.tables()[name]["dimensions"][dim]
    if "categories" in spec:
        return {code: cat["sv"] for code, cat in spec["categories"].items()}
    table = code_table(spec["codes"]).to_pandas()
    return {"total": "Totalt"} | dict(zip(table["code"], table["label_sv"], strict=True))


def rates(published: dict[str, pd.DataFrame], threshold: int) -> pd.DataFrame:
    """Every rate of the spec where its numerator and denominator are both published tables' rows."""
    frames = []
    for rate, spec in release_spec()["rates"].items():
        parts = []
        for side in ("numerator", "denominator"):
            table, where = spec[side]["table"], spec[side]["where"]
            frame = published[table]
            for dim, code in where.items():
                frame = frame.loc[frame[dim].eq(code)]
            keys = ["release", "as_of_month", "period_type", "period", "geo_level", "geo_code", "geo_name"]
            parts.append(
                frame[[*keys, "value", "status"]].rename(columns={"value": side, "status": f"{side}_status"})
            )
        both = parts[0].merge(parts[1], on=keys)
        num, den = both["numerator"].astype("Float64"), both["denominator"].astype("Float64")
        small = num.between(1, threshold) | den.between(1, threshold)
        hidden = both["numerator_status"].eq(SUPPRESSED) | both["denominator_status"].eq(SUPPRESSED) | small
        absent = both["numerator_status"].eq(MISSING) | both["denominator_status"].eq(MISSING)
        hidden = hidden & ~absent
        value = (num / den.where(den > 0)).round(4)
        frames.append(
            both[keys].assign(
                rate=rate,
                rate_sv=spec["sv"],
                value=value.mask(hidden.fillna(True) | absent),
                status=np.where(
                    absent,
                    MISSING,
                    np.where(
                        hidden.fillna(True), SUPPRESSED, np.where(den.eq(0).fillna(False), NOT_APPLICABLE, "")
                    ),
                ),
            )
        )
    return pd.concat(frames, ignore_index=True)


KEYS = ["release", "as_of_month", "period_type", "period", "geo_level", "geo_code", "geo_name"]


def population_rates(home: Paths, published: dict[str, pd.DataFrame], threshold: int) -> pd.DataFrame | None:
    """Counts per ``per`` children 0–17 for year periods; None without population denominators."""
    path = population.output_folder(home) / population.POPULATION_DATA
    if not path.exists():
        return None
    pop = pd.read_parquet(path)
    pop = pop.loc[pop["legal_sex"].eq(population.TOTAL_SEX), ["year", "geo_code", "children_0_17"]]
    years = sorted(pop["year"].astype(int).unique())
    frames = []
    for rate, spec in release_spec().get("population_rates", {}).items():
        frame = published[spec["numerator"]["table"]]
        for dim, code in spec["numerator"]["where"].items():
            frame = frame.loc[frame[dim].eq(code)]
        frame = frame.loc[frame["period_type"].isin(["year", "year_to_date"])]
        # the period's own year, else the latest earlier year the population file has
        frame = frame.assign(
            year=[max((y for y in years if y <= int(p)), default=-1) for p in frame["period"]]
        )
        both = frame.merge(pop.assign(year=pop["year"].astype(int)), on=["year", "geo_code"], how="left")
        count, children = both["value"].astype("Float64"), both["children_0_17"].astype("Float64")
        hidden = both["status"].eq(SUPPRESSED) | count.between(1, threshold).fillna(False)
        missing = children.isna() | both["status"].eq(MISSING)
        value = (count * spec["per"] / children.where(children > 0)).round(int(spec["decimals"]))
        frames.append(
            both[KEYS].assign(
                rate=rate,
                rate_sv=spec["sv"],
                population=pd.array(children, dtype="Int64"),
                value=value.mask(hidden | missing),
                status=np.where(missing, MISSING, np.where(hidden, SUPPRESSED, "")),
            )
        )
    return pd.concat(frames, ignore_index=True) if frames else None


def percentiles(
    home: Paths, calendar: c.Calendar, threshold: int, missing: frozenset[str] | set[str] = frozenset()
) -> pd.DataFrame:
    """Percentiles of the spec, hidden where the count they are taken over is 1..threshold, missing
    (``-``) for a period of ``missing`` (period codes without data)."""
    by_level = release_spec()["geographies"]
    frames = []
    for name, spec in release_spec().get("percentiles", {}).items():
        for kind in spec["periods"]:
            src = c.read_statistic(home, spec["source"], calendar.as_of, kind)
            src = src.loc[src["geo_level"].isin([lv for lv, kinds in by_level.items() if kind in kinds])]
            if kind == "month":
                src = src.loc[src["period"].isin(calendar.months())]
                period_type = pd.Series("month", index=src.index)
                codes = src["period"]
            else:
                src = src.loc[src["period"].isin([str(calendar.year - 1), str(calendar.year)])]
                ytd = src["period"].eq(str(calendar.year)) & (calendar.month < 12)
                period_type = pd.Series(np.where(ytd, "year_to_date", "year"), index=src.index)
                this_year = src["period"].eq(str(calendar.year))
                codes = pd.Series(
                    np.where(this_year, c.ytd(calendar.year, calendar.month), c.ytd(calendar.year - 1, 12)),
                    index=src.index,
                )
            absent = codes.isin(missing).to_numpy()
            group = src[spec["group"]].astype("Int64")
            hidden = group.between(1, threshold).fillna(True) & ~absent
            empty = group.eq(0).fillna(False) & ~absent
            frames.append(
                pd.DataFrame(
                    {
                        "release": calendar.as_of,
                        "as_of_month": calendar.as_of,
                        "period_type": period_type,
                        "period": src["period"],
                        "geo_level": src["geo_level"],
                        "geo_code": src["geo_code"],
                        "geo_name": src["geo_name"],
                        "percentile": name,
                        "percentile_sv": spec["sv"],
                        "unit": spec["unit"],
                        "value": src[spec["measure"]].astype("Int64").mask(hidden | empty | absent),
                        "status": np.where(
                            absent, MISSING, np.where(hidden, SUPPRESSED, np.where(empty, NOT_APPLICABLE, ""))
                        ),
                    }
                )
            )
    out = pd.concat(frames, ignore_index=True)
    return out.sort_values(
        ["percentile", "period_type", "period", "geo_level", "geo_code"], ignore_index=True
    )


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
    cell_key = method() == ck.METHOD
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
        published[name] = _published(name, frame, decision.shown[name], mask, calendar, missing)
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


def _percentiles_beyond_doubt(shares: pd.DataFrame, published: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Percentiles of the cell-key method: shown only at the spec's levels, and only where the published
    within-14-days and decided counts put the percentile's side of 14 days beyond doubt (decided from
    published figures alone, so a hidden percentile says nothing new)."""
    params, rule = ck.Parameters.from_spec(), rules()
    timing = published["decision_time"]
    keys = ["period_type", "period", "geo_code"]
    wide = timing.pivot_table(index=keys, columns="timing", values="value", aggfunc="first").reset_index()
    both = shares.merge(wide, on=keys, how="left")
    percent = both["percentile"].map(
        lambda name: 50 if "median" in name else int(re.search(r"p(\d+)", name).group(1))
    )
    slack = ck.percentile_slack(params, rule.margin)
    safe = pd.Series(False, index=both.index)
    for p in percent.unique():
        at = percent.eq(p)
        safe[at] = ck.percentile_is_safe(
            both.loc[at, "within_deadline"], both.loc[at, "decided"], int(p), slack
        )
    # below the spec's levels (kommun) a percentile is shown as hidden, not left out: the reader sees
    # that it is withheld to protect, not missing
    at_level = both["geo_level"].isin(params.percentile_levels)
    safe &= at_level & both["within_deadline"].notna() & both["decided"].notna()
    hide = ~safe & both["status"].eq("")
    out = both[shares.columns].copy()
    out.loc[hide, "value"] = pd.NA
    out.loc[hide, "status"] = SUPPRESSED
    return out.reset_index(drop=True)


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
