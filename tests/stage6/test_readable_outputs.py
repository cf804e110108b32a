"""Issue 21 (items 3, 5, 8): preliminary figures, data quality and the readable workbook and CSV files,
read back as a user would (openpyxl for the workbook, pandas for the CSV files)."""

from __future__ import annotations

import pandas as pd
import pytest
from openpyxl import load_workbook

from pipelines.core.schemas import publishing_spec, release_spec
from pipelines.core.settings import Paths
from pipelines.stage4_statistics.deliveries import build_deliveries
from pipelines.stage5_protection import csv_files
from pipelines.stage5_protection.release import build_release, release_folder
from pipelines.stage6_publishing.release_tables import Release, published_folder
from pipelines.stage6_publishing.workbook import workbook_path
from tests.releases import MONTHS, small_release_home
from tests.stage6.conftest import RELEASE

pytestmark = pytest.mark.slow


def _book(published: Paths, read_only: bool = False):
    return load_workbook(workbook_path(published_folder(published, RELEASE), RELEASE), read_only=read_only)


def test_the_workbook_has_document_properties(published: Paths) -> None:
    props = _book(published, read_only=True).properties
    assert RELEASE in props.title and props.creator.startswith("Sveriges Kommuner")
    assert props.language == "sv-SE"


def test_readable_sheets_come_first_with_riket_first_and_shares_as_percentages(published: Paths) -> None:
    book = _book(published)
    readable = [s["sheet"] for s in publishing_spec()["workbook"]["readable"].values()]
    assert book.sheetnames[1 : 1 + len(readable)] == readable
    months = book[readable[0]]
    rows = list(months.iter_rows(min_row=4))
    first_block = [r[0].value for r in rows[:3]]
    assert first_block[1] == "Riket"  # header, then Riket before any län
    shares = [
        c
        for r in months.iter_rows(min_row=4)
        for c in r[1:]
        if isinstance(c.value, float) and c.number_format == "0.0%"
    ]
    assert shares and all(0 <= c.value <= 1 for c in shares)
    # the share of the 14-day deadline for Riket in the last month, as the rates table publishes it
    rates = Release(release_folder(published, RELEASE)).tables["rates"]
    want = rates.query(
        "rate == 'share_decided_within_deadline' and geo_code == '00' and period_type == 'month'"
    ).set_index("period")["value"]
    assert any(abs(c.value - want.dropna().iloc[-1]) < 1e-9 for c in shares)


def test_a_year_without_data_is_a_dash_in_the_kommun_sheet_never_zero(published: Paths) -> None:
    sheet = _book(published)[publishing_spec()["workbook"]["readable"]["kommun_years"]["sheet"]]
    rows = list(sheet.iter_rows(min_row=4, values_only=True))
    header, body = rows[0], rows[1:]
    assert body[0][1] == "Riket" and {r[2] for r in body} >= {"Riket", "Län", "Kommun"}
    last_year = str(int(RELEASE[:4]) - 1)  # the small release loads 2025 only
    gaps = [i for i, h in enumerate(header) if h and h.startswith("Anmälningar ") and last_year in h]
    assert gaps
    assert all(r[i] == "-" for r in body for i in gaps)


def test_the_preliminary_month_is_marked_in_every_table_and_the_workbook(published: Paths) -> None:
    release = Release(release_folder(published, RELEASE))
    for name, frame in release.tables.items():
        assert {"preliminary", "undecided"} <= set(frame.columns), name
        now = frame.loc[frame["period_type"].eq("month") & frame["period"].eq(RELEASE)]
        assert now["preliminary"].all(), name
    outcomes = release.tables["outcomes"]
    undecided = outcomes.loc[outcomes["outcome"].eq("undecided")]
    assert (
        (undecided["undecided"].astype("Float64") == undecided["value"].astype("Float64")).fillna(True).all()
    )
    # before the as-of month a month is preliminary when more than the spec's share of its reports were
    # undecided (a hidden count at its largest), and final otherwise
    months = outcomes.loc[outcomes["period_type"].eq("month")]
    totals = months.loc[months["outcome"].eq("total"), ["period", "geo_code", "value"]]
    riket = undecided.loc[undecided["geo_code"].eq("00") & undecided["period_type"].eq("month")]
    riket = riket.merge(totals, on=["period", "geo_code"], suffixes=("", "_total"))
    largest = (
        riket["value"].astype("Float64").mask(riket["status"].eq(".."), release_spec()["rules"]["threshold"])
    )
    share = largest / riket["value_total"].astype("Float64")
    over = share.gt(release_spec()["preliminary"]["max_undecided_share"]).fillna(False)
    assert (riket["preliminary"] == (over | riket["period"].eq(RELEASE))).all()
    assert not riket.loc[riket["status"].eq("-"), "preliminary"].any()  # a month without data: missing
    sheet = _book(published)[publishing_spec()["workbook"]["readable"]["lan_months"]["sheet"]]
    mark = publishing_spec()["workbook"]["preliminary_mark"]
    headers = [c.value for c in next(sheet.iter_rows(min_row=4, max_row=4))]
    assert any(str(h).startswith(RELEASE) and str(h).endswith(mark) for h in headers)


def test_both_csv_files_read_back_as_the_parquet_table(published: Paths) -> None:
    folder = release_folder(published, RELEASE)
    for name in ("rates", "outcomes"):
        table = pd.read_parquet(folder / f"{name}.parquet")
        swedish = folder / csv_files.file_name(name, "swedish")
        machine = folder / csv_files.file_name(name, "machine")
        assert swedish.read_bytes().startswith(b"\xef\xbb\xbf") and not machine.read_bytes().startswith(
            b"\xef"
        )
        sv = pd.read_csv(
            swedish,
            sep=";",
            decimal=",",
            encoding="utf-8-sig",
            dtype={"geo_code": str},
            na_values=["-", "..", "."],
        )
        en = pd.read_csv(machine, dtype={"geo_code": str}, keep_default_na=True)
        assert pd.api.types.is_float_dtype(sv["value"]) and pd.api.types.is_float_dtype(en["value"])
        expected = table["value"].astype("Float64").to_numpy(dtype=float, na_value=float("nan"))
        for got in (sv["value"].to_numpy(), en["value"].to_numpy()):
            assert ((abs(got - expected) < 1e-9) | (pd.isna(got) & pd.isna(expected))).all(), name
        assert set(sv["preliminary"]) <= {"ja", "nej"} and set(en["preliminary"]) <= {True, False}
        hidden = table["status"].eq("..")
        raw = pd.read_csv(swedish, sep=";", dtype=str, encoding="utf-8-sig", keep_default_na=False)
        assert raw.loc[hidden.to_numpy(), "value"].eq("..").all()
        if name == "rates":
            assert (
                raw.loc[~hidden.to_numpy() & table["value"].notna().to_numpy(), "value"]
                .str.contains(",")
                .any()
            )


@pytest.fixture(scope="module")
def monitored(tmp_path_factory: pytest.TempPathFactory) -> Paths:
    mp = pytest.MonkeyPatch()
    home = small_release_home(mp, tmp_path_factory.mktemp("quality"), seed=5)
    build_deliveries(home, MONTHS)
    assert build_release(home, MONTHS[-1]).passes
    mp.undo()
    return home


def test_data_quality_counts_deliveries_of_290_and_keeps_small_counts_out_of_sight(monitored: Paths) -> None:
    table = pd.read_parquet(release_folder(monitored, MONTHS[-1]) / "data_quality.parquet")
    riket = table.loc[table["geo_level"].eq("riket")].pivot_table(
        index="period", columns="measure", values="value"
    )
    # the small release's municipalities delivered every month: 8 of 290
    assert riket.loc[MONTHS, "expected"].eq(290).all() and riket.loc[MONTHS, "delivered"].eq(8).all()
    kommun = table.loc[table["geo_level"].eq("kommun")]
    assert set(kommun["measure"]) == {"delivered", "complete"} and kommun["value"].isin([0, 1]).all()
    counted = table.loc[
        table["measure"].isin(["rows_in", "quarantined", "late_decisions", "undecided_over_deadline"])
    ]
    assert (counted["value"].dropna() % 10 == 0).all()
    # a month before the first load is missing, never 0
    earlier = table.loc[table["period"].lt(MONTHS[0]) & table["geo_level"].eq("riket")]
    assert len(earlier) and earlier["status"].eq("-").all() and earlier["value"].isna().all()
    # a municipality that did not deliver is flagged, not shown as few reports
    assert (
        kommun.loc[kommun["measure"].eq("delivered") & kommun["period"].eq(MONTHS[0]), "value"].eq(0).sum()
        == 290 - 8
    )
