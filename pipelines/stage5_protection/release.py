"""A release: the protected tables of one as-of month, with their audit and manifest.

``5_protected/release=YYYY-MM/`` holds, per table of ``schemas/release.yaml``, a Parquet file (value null
where suppressed, a ``status`` column) and a CSV with Kolada's symbols; ``rates`` for shares computed from
published cells; ``audit`` (for every suppressed cell, the interval an attacker can infer from this release
and the previous one, by linear programming); ``cells.parquet`` (which cells were published and which
hidden, for the next release) and ``manifest.json``. The folder is swapped in whole.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from pipelines.core.atomic import atomic_dir
from pipelines.core.settings import Paths, settings
from pipelines.stage5_protection import cell_key as ck
from pipelines.stage5_protection import cells as c
from pipelines.stage5_protection.decision import Decision, ReleaseOutcome, _main, method, rules
from pipelines.stage5_protection.model import PreviousRelease
from pipelines.stage5_protection.release_files import (
    CELLS_FILE,
    MANIFEST_FILE,
    _audit,
    _audit_summary,
    _cells_frame,
    _write,
)
from pipelines.stage5_protection.secondary import protect


def release_folder(home: Paths, release: str) -> Path:
    return home.protected / f"release={release}"


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
