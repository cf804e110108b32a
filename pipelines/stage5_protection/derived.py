"""Figures derived from a release's published cells only: shares (``rates``), per 1,000 children
(``population_rates``) and percentiles shown only where the hidden cells cannot move them
(``percentiles``). Computed from what is published, they reveal nothing the tables do not.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from pipelines.core.schemas import code_table, release_spec
from pipelines.core.settings import Paths
from pipelines.stage4_statistics import population
from pipelines.stage5_protection import cell_key as ck
from pipelines.stage5_protection import cells as c
from pipelines.stage5_protection.decision import rules
from pipelines.stage5_protection.symbols import MISSING, NOT_APPLICABLE, SUPPRESSED


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
