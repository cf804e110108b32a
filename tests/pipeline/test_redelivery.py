"""A corrected delivery for a month already published replaces the old one, and every later
as-of month's statistics are recomputed from it."""

from __future__ import annotations

import datetime as dt

from dagster import AssetKey, DagsterInstance

from pipelines.cli import main
from pipelines.core import db
from pipelines.core.settings import Paths
from tests.extracts import child, dash12, write_semicolon


def _jan_reports(home: Paths, as_of: str, period: str = "2025-01") -> int:
    path = home.statistics / "reports" / f"as_of_month={as_of}" / "data.parquet"
    return db.one(
        f"SELECT reports FROM read_parquet('{path}') WHERE geo_level = 'riket' AND period = '{period}'"
    )[0]


def test_corrected_earlier_month_recomputes_later_statistics(home: Paths, key, capsys) -> None:
    kids = [dash12(child(dt.date(2014, 1, 1), n)) for n in range(1, 6)]
    row = ["0180", "", "", "2025-01-10", "POL", "V1", "inleds", "2025-01-12", ""]
    jan = [[*row[:1], f"J{i}", kids[i], *row[3:]] for i in range(3)]
    write_semicolon(home.landing / "0180_2025-01.csv", jan)
    for month in ("02", "03"):
        write_semicolon(
            home.landing / f"0180_2025-{month}.csv",
            [
                [
                    "0180",
                    f"M{month}",
                    kids[4],
                    f"2025-{month}-03",
                    "SKO",
                    "B3",
                    "inleds_ej",
                    f"2025-{month}-05",
                    "",
                ]
            ],
        )
    assert main(["load", "--from", "2025-01", "--to", "2025-03"]) == 0
    assert _jan_reports(home, "2025-03") == 3

    write_semicolon(home.landing / "0180_2025-01.csv", jan[:2])  # the municipality corrects January
    assert main(["load", "--month", "2025-01"]) == 0
    out = capsys.readouterr().out
    assert "recomputing 2025-01 … 2025-03" in out
    assert [_jan_reports(home, m) for m in ("2025-01", "2025-02", "2025-03")] == [2, 2, 2]

    # A correction of the latest month continues from the state kept as of the month before it (the
    # January correction rewrote every partition, and with them the states it kept).
    march = ["0180", "M03", kids[4], "2025-03-03", "SKO", "B3", "inleds_ej", "2025-03-05", ""]
    write_semicolon(home.landing / "0180_2025-03.csv", [march, [*march[:1], "M03b", kids[3], *march[3:]]])
    assert main(["load", "--month", "2025-03"]) == 0
    for asset in ("statistics_reports", "delivery_monitoring"):
        event = DagsterInstance.get().get_latest_materialization_event(AssetKey(asset))
        assert event.asset_materialization.metadata["continued_from_state_as_of"].value == "2025-02", asset
    assert _jan_reports(home, "2025-03", period="2025-03") == 2
    assert _jan_reports(home, "2025-03") == 2
