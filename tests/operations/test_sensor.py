"""The landing sensor: content, not mtime, decides; one load per tick; names that could be numbers masked."""

from __future__ import annotations

import datetime as dt
import json
import os

from dagster import DagsterInstance, SkipReason, build_sensor_context

from pipelines.core.settings import Paths
from pipelines.operations.sensors import landing_sensor
from tests.extracts import child, dash12, write_semicolon

ROW = [
    "0180",
    "R1",
    dash12(child(dt.date(2015, 1, 1), 31)),
    "2025-03-02",
    "POL",
    "V1",
    "inleds",
    "2025-03-04",
    "",
]


def _tick(cursor: str | None = None):
    with DagsterInstance.ephemeral() as instance:
        return landing_sensor(build_sensor_context(instance=instance, cursor=cursor))


def test_new_file_starts_its_month_and_the_same_content_never_again(home: Paths) -> None:
    path = write_semicolon(home.landing / "0180_2025-03.csv", [ROW])
    first = _tick()
    assert [r.partition_key for r in first.run_requests] == ["2025-03"]
    os.utime(path, (1_900_000_000, 1_900_000_000))  # a new mtime, the same content
    assert isinstance(_tick(first.cursor), SkipReason)
    write_semicolon(path, [ROW, [*ROW[:1], "R2", *ROW[2:]]])  # a corrected delivery, same name
    again = _tick(first.cursor)
    assert [r.partition_key for r in again.run_requests] == ["2025-03"]
    assert again.run_requests[0].run_key != first.run_requests[0].run_key
    assert json.loads(again.cursor).keys() == {"0180_2025-03.csv"}


def test_several_files_and_months_make_one_load_up_to_the_latest_month(home: Paths) -> None:
    write_semicolon(home.landing / "0180_2025-03.csv", [ROW])
    write_semicolon(home.landing / "0114_2025-03.csv", [["0114", *ROW[1:]]])
    write_semicolon(
        home.landing / "0180_2025-05.csv", [[*ROW[:3], "2025-05-02", *ROW[4:7], "2025-05-04", ""]]
    )
    result = _tick()
    assert len(result.run_requests) == 1
    tags = result.run_requests[0].tags
    assert (tags["dagster/asset_partition_range_start"], tags["dagster/asset_partition_range_end"]) == (
        "2025-03",
        "2025-05",
    )
    (home.register / "extract_month=2025-07").mkdir(parents=True)  # later months are already loaded
    write_semicolon(home.landing / "0180_2025-03_rattad.csv", [ROW])
    later = _tick(result.cursor)
    assert later.run_requests[0].tags["dagster/asset_partition_range_end"] == "2025-07"


def test_a_file_named_like_a_personnummer_is_skipped_and_masked(home: Paths, capfd) -> None:
    number = child(dt.date(2016, 4, 4), 77)
    (home.landing / f"{number}.csv").write_text("x", encoding="utf-8")
    assert isinstance(_tick(), SkipReason)
    logged = capfd.readouterr().err
    assert "cannot be loaded" in logged and "XXXXXX-XXXX" in logged
    assert number not in logged and number[2:] not in logged
