"""Cell-key releases built in order from real pipeline output, attacked from the outside."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import linprog

from pipelines.core.settings import Paths
from pipelines.stage5_protection import cell_key
from pipelines.stage5_protection.release import build_release, release_folder
from pipelines.stage5_protection.release_files import MANIFEST_FILE
from tests.protection.release_attack import bounds, build_model, monthly_targets
from tests.releases import KOMMUNER, MONTHS, small_release_home

pytestmark = pytest.mark.slow
MARGIN = 4.0


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Paths:
    mp = pytest.MonkeyPatch()
    yield small_release_home(mp, tmp_path_factory.mktemp("cellkey"), seed=11)
    mp.undo()


def _releases_in_order(loaded: Paths, root: Path) -> Paths:
    shutil.copytree(loaded.data, root / "data", ignore=shutil.ignore_patterns("5_protected", "6_published"))
    home = Paths(root)
    for month in MONTHS:
        outcome = build_release(home, month)
        assert outcome.passes, outcome.audit
    return home


@pytest.fixture(scope="module")
def in_order(loaded: Paths, tmp_path_factory: pytest.TempPathFactory) -> Paths:
    return _releases_in_order(loaded, tmp_path_factory.mktemp("in_order"))


def _attack(home: Paths, max_noise: int, cross_check: int = 0) -> pd.DataFrame:
    folders = {m: release_folder(home, m) for m in MONTHS}
    lan_of = {k: k[:2] for k in KOMMUNER}
    model = build_model(folders, KOMMUNER, lan_of, max_noise)
    reporters = sorted(
        set(pd.read_parquet(folders[MONTHS[-1]] / "reporters.parquet")["reporter_group"]) - {"total"}
    )
    targets = monthly_targets(model, MONTHS[-1], KOMMUNER, reporters)
    result = bounds(model, targets)
    for name in list(targets)[:cross_check]:  # the re-solving LP agrees with a plain linprog
        A_eq, b_eq, A_ub, b_ub = model.matrices()
        cost = np.zeros(len(model.index))
        cost[list(targets[name])] = 1.0
        low = linprog(cost, A_ub=A_ub, b_ub=b_ub, A_eq=A_eq, b_eq=b_eq, method="highs").fun
        high = -linprog(-cost, A_ub=A_ub, b_ub=b_ub, A_eq=A_eq, b_eq=b_eq, method="highs").fun
        row = result.loc[result["target"].eq(name)].iloc[0]
        assert abs(row["lower"] - low) < 1e-6 and abs(row["upper"] - high) < 1e-6, name
    return result


def test_an_attack_on_every_release_narrows_no_municipal_month_below_the_margin(in_order: Paths) -> None:
    manifest = json.loads((release_folder(in_order, MONTHS[-1]) / MANIFEST_FILE).read_text("utf-8"))
    result = _attack(in_order, int(manifest["cell_key"]["max_noise"]), cross_check=12)
    assert len(result) == len(KOMMUNER) * len(MONTHS) * 14
    assert result["width"].min() >= MARGIN - 1e-6, result.nsmallest(5, "width")


def test_the_attack_has_teeth_on_figures_published_without_noise(
    loaded: Paths, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same releases with the noise switched off (small figures still hidden): differencing and the
    partitions pin municipal months, which is what the noise is for."""
    monkeypatch.setattr(cell_key, "noise", lambda table, counts, keys: np.zeros(len(counts), dtype=np.int64))
    home = _releases_in_order(loaded, tmp_path)
    result = _attack(home, 0)
    assert (result["width"] < MARGIN).sum() > len(result) // 2


def test_every_release_states_its_method_and_ptable_and_the_same_reports_show_the_same_value(
    in_order: Paths,
) -> None:
    for month in MONTHS:
        folder = release_folder(in_order, month)
        manifest = json.loads((folder / MANIFEST_FILE).read_text("utf-8"))
        assert manifest["disclosure_method"] == "cell_key" and manifest["audit"]["passes"]
        assert manifest["cell_key"]["max_noise"] >= 2 * manifest["cell_key"]["margin"]
        shares = pd.read_parquet(folder / "percentiles.parquet")
        kommun = shares.loc[shares["geo_level"].eq("kommun")]
        assert len(kommun) and kommun["status"].isin(["..", "."]).all()  # withheld, not missing
        assert shares.loc[shares["geo_level"].eq("riket"), "value"].notna().any()
        ptable = pd.read_parquet(folder / "ptable.parquet")
        assert np.allclose(ptable.groupby("i")["p"].sum(), 1.0)
        assert set(ptable.columns) >= {"i", "j", "p", "p_lower", "p_upper"}
    # January's reports per reporter in a län: where the same reports (the same key sum, a fact of stage 4)
    # are behind the figure in February and March, the published value is the same in both releases
    seen = []
    for month in MONTHS[1:]:
        stats = pd.read_parquet(
            in_order.statistics / "reports_by_reporter" / f"as_of_month={month}" / "data.parquet"
        )
        stats = stats.loc[stats["period"].eq("2025-01") & stats["geo_level"].eq("lan")]
        reporters = pd.read_parquet(release_folder(in_order, month) / "reporters.parquet")
        reporters = reporters.loc[reporters["period"].eq("2025-01") & reporters["geo_level"].eq("lan")]
        seen.append(
            reporters.merge(
                stats[["geo_code", "reporter_group", "reports_key"]], on=["geo_code", "reporter_group"]
            )
        )
    both = seen[0].merge(seen[1], on=["geo_code", "reporter_group"], suffixes=("_feb", "_mar"))
    same = both.loc[both["reports_key_feb"].eq(both["reports_key_mar"]) & both["status_feb"].eq("")]
    assert len(same) > 5
    assert same["value_feb"].equals(same["value_mar"])


def test_published_counts_are_the_statistics_with_bounded_unbiased_noise(in_order: Paths) -> None:
    outcomes = pd.read_parquet(release_folder(in_order, MONTHS[-1]) / "outcomes.parquet")
    total = outcomes.loc[outcomes["outcome"].eq("total") & outcomes["period_type"].eq("month")]
    stats = pd.read_parquet(in_order.statistics / "reports" / f"as_of_month={MONTHS[-1]}" / "data.parquet")
    stats = stats.loc[stats["period_type"].eq("month")].set_index(["geo_code", "period"])["reports"]
    both = total.set_index(["geo_code", "period"]).join(stats.rename("true"), how="left").fillna({"true": 0})
    shown = both.loc[both["status"].eq("")]
    noise = shown["value"].astype(float) - shown["true"]
    assert len(shown) > 10 and noise.abs().max() <= 16 and noise.abs().gt(0).any()
    assert (shown.loc[shown["true"].eq(0), "value"] == 0).all()  # no reports, nothing to perturb
    hidden = both.loc[both["status"].eq("..")]
    assert hidden["value"].isna().all()
    # a table's total and the linked tables' totals are the same reports: the same published value
    reporters = pd.read_parquet(release_folder(in_order, MONTHS[-1]) / "reporters.parquet")
    rep_total = reporters.loc[reporters["reporter_group"].eq("total")].set_index(
        ["geo_code", "period_type", "period"]
    )
    out_total = outcomes.loc[outcomes["outcome"].eq("total")].set_index(["geo_code", "period_type", "period"])
    assert rep_total["value"].equals(out_total["value"].reindex(rep_total.index))


def test_an_earlier_release_by_another_method_blocks_the_audit(
    in_order: Paths, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Exact figures published earlier are outside the certificate: the release must not pass."""
    from pipelines.stage5_protection import release

    root = tmp_path / "mixed"
    shutil.copytree(in_order.data, root / "data", ignore=shutil.ignore_patterns("5_protected", "6_published"))
    home = Paths(root)
    monkeypatch.setattr(release, "method", lambda: "suppression")
    assert build_release(home, MONTHS[0]).passes
    monkeypatch.undo()
    outcome = build_release(home, MONTHS[1])
    assert not outcome.passes
    assert any("published by suppression" in p for p in outcome.audit["problems"])
