"""Stage 2 carries contract v2's feedback_date: parsed per dialect, with whether the file delivered it."""

from __future__ import annotations

import datetime as dt

from pipelines.core import db
from pipelines.core.settings import Paths
from pipelines.stage2_pseudonymise.ingest import REPORTS_FILE, load_month
from tests.extracts import SEMICOLON_HEADER, child, dash12, write_comma, write_semicolon

KID = child(dt.date(2012, 4, 2), 222)


def test_feedback_date_reaches_the_accepted_rows_with_its_delivered_flag(home: Paths, key) -> None:
    write_semicolon(
        home.landing / "0180_2025-03.csv",
        [
            ["0180", "S1", dash12(KID), "2025-03-03", "SKO", "V1", "inleds", "2025-03-10", "", "2025-03-14"],
            ["0180", "S2", dash12(KID), "2025-03-04", "POL", "V1", "inleds_ej", "2025-03-11", "", ""],
        ],
        header=SEMICOLON_HEADER + ";Återkopplingsdatum",
    )
    write_comma(
        home.landing / "1480_2025-03.csv",
        [["1480", "K1", dash12(KID), "06.03.2025", "Skola", "V1", "Inleds", "07.03.2025", ""]],
    )
    load = load_month("2025-03", key, home)
    assert (load.accepted, load.quarantined) == (3, 0)
    rows = db.table(
        f"""SELECT report_id, feedback_date, feedback_date_delivered
            FROM read_parquet('{home.extract_month("2025-03") / REPORTS_FILE}') ORDER BY report_id"""
    ).to_pylist()
    assert rows == [
        {"report_id": "K1", "feedback_date": None, "feedback_date_delivered": False},
        {"report_id": "S1", "feedback_date": dt.date(2025, 3, 14), "feedback_date_delivered": True},
        {"report_id": "S2", "feedback_date": None, "feedback_date_delivered": True},
    ]
