"""The demo's feedback dates (pipelines/demo/feedback.py): only on decided reports from professional
reporters, after the decision and within the extract month, none before settings' delivered_from, and some
municipalities never deliver the column; the files load without a feedback quarantine."""

from __future__ import annotations

import secrets

import numpy as np
import pytest

from pipelines.core import db
from pipelines.core.schemas import code_table
from pipelines.core.settings import Paths
from pipelines.demo.generator import generate_demo
from pipelines.demo.variation import synthetic
from pipelines.stage2_pseudonymise.ingest import QUARANTINE_FILE, REPORTS_FILE, load_month
from pipelines.stage2_pseudonymise.keyed_hash import load_key
from tests.registers import professional_groups

KOMMUNER = ["0114", "0180", "1280", "1480", "2580", "0380", "0581", "1880", "2480", "0980"]


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Paths:
    mp = pytest.MonkeyPatch()
    root = tmp_path_factory.mktemp("feedback-demo")
    mp.setenv("OROSTAT_HOME", str(root))
    mp.setenv("OROSTAT_KEY", secrets.token_hex(32))
    mp.delenv("OROSTAT_KEY_FILE", raising=False)
    home = Paths(root)
    generate_demo(home.landing, seed=20251, scale=0.05, municipality_codes=KOMMUNER, years=[2023, 2024])
    key = load_key()
    for month in ("2023-06", "2024-06"):
        load_month(month, key, home)
    yield home
    mp.undo()


def _rows(home: Paths, month: str, file: str) -> list[dict]:
    return db.table(f"SELECT * FROM read_parquet('{home.extract_month(month) / file}')").to_pylist()


def test_no_municipality_has_the_column_before_it_is_introduced(loaded: Paths) -> None:
    assert synthetic()["feedback"]["delivered_from"] == "2024-01"
    rows = _rows(loaded, "2023-06", REPORTS_FILE)
    assert rows and not any(r["feedback_date_delivered"] for r in rows)


def test_feedback_dates_are_plausible_and_some_municipalities_lack_the_column(loaded: Paths) -> None:
    rows = _rows(loaded, "2024-06", REPORTS_FILE)
    delivering = {r["municipality_code"] for r in rows if r["feedback_date_delivered"]}
    assert 0 < len(delivering) < len(KOMMUNER)  # 15 % never deliver: with this seed, some of these ten
    with_date = [r for r in rows if r["feedback_date"] is not None]
    assert with_date
    for r in with_date:
        assert r["municipality_code"] in delivering and r["outcome"] in ("inleds", "inleds_ej")
        assert r["decision_date"] <= r["feedback_date"] <= np.datetime64("2024-06-30").astype(object)
    # Among decided reports from the groups with a duty to report in delivering municipalities: 40-95 %.
    group = {r["code"]: r["group"] for r in code_table("reporters").to_pylist()}
    decided = [
        r
        for r in rows
        if r["feedback_date_delivered"]
        and r["outcome"] in ("inleds", "inleds_ej")
        and group[r["reporter"]] in professional_groups()
    ]
    share = sum(r["feedback_date"] is not None for r in decided) / len(decided)
    assert 0.2 < share < 0.95
    assert not any(group[r["reporter"]] not in professional_groups() for r in with_date)


def test_the_demo_plants_no_feedback_defect(loaded: Paths) -> None:
    reasons = {code for r in _rows(loaded, "2024-06", QUARANTINE_FILE) for code in r["reasons"]}
    assert not {c for c in reasons if c.startswith("aterkoppling")}


def test_schools_hear_back_less_often_than_the_police(loaded: Paths) -> None:
    factors = synthetic()["feedback"]["group_factor"]
    assert factors["skola"] < factors["polis"]
    group = {r["code"]: r["group"] for r in code_table("reporters").to_pylist()}
    rows = [
        r
        for month in ("2024-06",)
        for r in _rows(loaded, month, REPORTS_FILE)
        if r["feedback_date_delivered"] and r["outcome"] in ("inleds", "inleds_ej")
    ]

    def share(reporter_group: str) -> float:
        mine = [r for r in rows if group[r["reporter"]] == reporter_group]
        return sum(r["feedback_date"] is not None for r in mine) / len(mine)

    assert share("skola") < share("polis")
