"""Writing the extract files: one frame per municipality-month in its dialect, CSV and XLSX, re-deliveries.

Part of the demo generator; how it works and why: pipelines/demo/generator.py."""

from __future__ import annotations

import csv
import datetime as dt
import io
import multiprocessing as mp
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from pipelines.core.schemas import dialects
from pipelines.demo import variation
from pipelines.demo.dates import _ymd
from pipelines.demo.population import BIG_CITIES
from pipelines.demo.reference import _rng, contract_fields
from pipelines.demo.reports import _Children, _Reports
from pipelines.demo.rows import _digits, _luhn, _pnr_text, _Rows

DISTRICTS = ("Stadsdel Norr", "Stadsdel Söder", "Stadsdel Öster", "Stadsdel Väster", "Stadsdel Centrum")


# Written forms of the number per dialect: (form, weight). Forms are rendered by ``_pnr_text``.
PNR_FORMS = {
    "semikolon_utf8": (("12-", 0.90), ("12", 0.05), ("10-", 0.03), ("12 spaced", 0.02)),
    "komma_cp1252": (("10-", 0.90), ("10", 0.05), ("12-", 0.03), ("10 spaced", 0.02)),
    "xlsx_export": (("12", 0.92), ("12-", 0.04), ("12 trailing", 0.04)),
}


UNKNOWN_CODE = {"reporter": "ZZZ", "cause": "X9", "outcome": "avslutad"}


UNKNOWN_WORD = {"reporter": "Fritidsgård", "outcome": "Avslutad"}  # for dialects that write words


XLSX_WORKERS = 2  # processes writing XLSX files in a full run (this machine has two cores)


EXCEL_EPOCH = np.datetime64("1899-12-30", "D")


FIXED_XLSX_TIME = dt.datetime(2000, 1, 1)


def _date_text(days: np.ndarray, fmt: str) -> np.ndarray:
    """Dates as text in the dialect's format, via a lookup over the distinct days (fast)."""
    unique, inverse = np.unique(days, return_inverse=True)
    table = np.array(
        ["" if d < 0 else (dt.date(1970, 1, 1) + dt.timedelta(days=int(d))).strftime(fmt) for d in unique],
        dtype=object,
    )
    return table[inverse]


def _cause_text(causes: np.ndarray, cause_codes: list[str], sep: str) -> np.ndarray:
    key = (causes[:, 0] + 1) * 10_000 + (causes[:, 1] + 1) * 100 + (causes[:, 2] + 1)
    _unique, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    table = np.array([sep.join(cause_codes[c] for c in causes[i] if c >= 0) for i in first], dtype=object)
    return table[inverse]


def _words(dialect: dict[str, Any], column: str, codes: list[str]) -> list[str]:
    """Code -> what the dialect writes: the word from its value map, else the code itself."""
    inverse = {code: word for word, code in dialect.get("values", {}).get(column, {}).items()}
    return [inverse.get(c, c) for c in codes]


def _write_csv(path: Path, dialect: dict[str, Any], header: list[str], columns: list[list[Any]]) -> None:
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, delimiter=dialect["delimiter"], lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(zip(*columns, strict=True))
    path.write_bytes(buf.getvalue().encode(dialect["encoding"]))


def _write_xlsx(
    path: Path, sheet_name: str, header: list[str], columns: list[list[Any]], date_cols: set[int]
) -> None:
    import xlsxwriter

    book = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    book.set_properties(
        {"title": "SYNTETISKA DEMODATA", "author": "orostat demo", "created": FIXED_XLSX_TIME}
    )
    date_format = book.add_format({"num_format": "yyyy-mm-dd"})
    sheet = book.add_worksheet(sheet_name)
    for c, name in enumerate(header):
        sheet.write_string(0, c, name)
    for r, row in enumerate(zip(*columns, strict=True), start=1):
        for c, value in enumerate(row):
            if c in date_cols:
                if value >= 0:
                    sheet.write_number(r, c, value, date_format)
            elif value:
                sheet.write_string(r, c, value)  # text cells, also for digits (personnummer, kommunkod)
    book.close()


def _frame(
    rows: _Rows,
    reports: _Reports,
    kids: _Children,
    report_ids: np.ndarray,
    order: np.ndarray,
    muni: np.ndarray,
) -> dict[str, np.ndarray]:
    """The written rows (in file order) as plain arrays, with the child's identity still logical."""
    rep = rows.report[order]
    child = reports.child[rep]
    birth = kids.birth[child]
    by, bm, bd = _ymd(birth)
    day = bd + np.where(kids.coordination[child], 60, 0)  # samordningsnummer: day + 60
    return {
        "muni": muni[order],
        "period": rows.period[order],
        "report": rep,
        "child": child,
        "report_id": report_ids[rep].copy(),
        "received": rows.received[order].copy(),
        "decision": rows.decision[order].copy(),
        "outcome": rows.outcome[order],
        "reporter": reports.reporter[rep],
        "causes": reports.causes[rep],
        "unidentified": reports.unidentified[rep],
        "late": rows.late[order],
        "sibling": reports.sibling[rep],
        "mover": reports.mover[rep],
        "district": child % len(DISTRICTS),
        "birth": birth,
        "far_past": rows.received[order] - 6 * 365 - 30,  # about six years before: outside any lookback
        "pnr": _digits(by, bm, day, kids.nnn[child]),
        "pnr_short": np.zeros(len(order), dtype=bool),
    }


def _apply_invalid(
    rng: np.random.Generator, frame: dict[str, np.ndarray], invalid: dict[str, np.ndarray]
) -> None:
    """Plant the logical defects; the ones that are about written text (unknown codes) are applied when
    the dialect's text is made, in ``_dialect_columns``."""
    pnr = frame["pnr"]
    rows = invalid["pnr_check_digit"]
    pnr[rows, 11] = (pnr[rows, 11] + rng.integers(1, 10, size=len(rows))) % 10
    rows = invalid["pnr_impossible_date"]
    pnr[rows, 4], pnr[rows, 5] = 1, 3  # month 13, check digit recomputed so only the date is wrong
    pnr[rows, 11] = _luhn(pnr[rows, 2:11])
    frame["pnr_short"][invalid["pnr_wrong_length"]] = True
    rows = invalid["child_age_18_plus"]
    born = frame["received"][rows] - (18 * 365 + 5) - rng.integers(0, 700, size=len(rows))
    y, m, d = _ymd(born)
    pnr[rows] = _digits(y, m, d, pnr[rows, 8] * 100 + pnr[rows, 9] * 10 + pnr[rows, 10])
    rows = invalid["decision_before_received"]
    frame["decision"][rows] = frame["received"][rows] - rng.integers(1, 11, size=len(rows))
    frame["report_id"][invalid["missing_report_id"]] = ""
    rows = invalid["duplicate_report_id"]
    frame["report_id"][rows] = frame["report_id"][rows - 1]
    rows = invalid["date_received_outside_period"]
    frame["received"][rows] = frame["far_past"][rows]


def _dialect_columns(
    rng: np.random.Generator,
    frame: dict[str, np.ndarray],
    sel: np.ndarray,
    dialect: dict[str, Any],
    invalid: dict[str, np.ndarray],
    codes: dict[str, list[str]],
    muni_codes: list[str],
) -> dict[str, np.ndarray]:
    """The contract fields of rows ``sel`` as the dialect writes them (dates stay day numbers for XLSX)."""
    name = dialect["dialect"]
    forms = PNR_FORMS.get(name, (("12-", 1.0),))
    weights = np.array([w for _, w in forms])
    form = rng.choice(len(forms), size=len(sel), p=weights / weights.sum())
    pnr = np.array(
        _pnr_text(frame["pnr"][sel], form, [f for f, _ in forms], frame["pnr_short"][sel]), dtype=object
    )
    pnr[frame["unidentified"][sel]] = ""
    muni = np.array(muni_codes, dtype=object)[frame["muni"][sel]]
    big = np.isin(muni, list(BIG_CITIES))
    org = np.where(big, np.array(DISTRICTS, dtype=object)[frame["district"][sel]], "")
    cols = {
        "municipality_code": muni,
        "report_id": frame["report_id"][sel],
        "personal_number": pnr,
        "reporter": np.array(_words(dialect, "reporter", codes["reporter"]), dtype=object)[
            frame["reporter"][sel]
        ],
        "causes": _cause_text(frame["causes"][sel], codes["cause"], dialect["list_separator"]),
        "outcome": np.array(_words(dialect, "outcome", codes["outcome"]), dtype=object)[
            frame["outcome"][sel]
        ],
        "org_unit": org.astype(object),
    }
    for column, source in (
        ("date_received", "received"),
        ("decision_date", "decision"),
        ("feedback_date", "feedback"),
    ):
        days = frame[source][sel]
        if dialect["format"] == "xlsx":
            cols[column] = np.where(days >= 0, days - EXCEL_EPOCH.astype(np.int64), -1)
        else:
            cols[column] = _date_text(days, dialect["date_formats"][0])
    _text_defects(cols, sel, dialect, invalid)
    return cols


def _text_defects(
    cols: dict[str, np.ndarray], sel: np.ndarray, dialect: dict[str, Any], invalid: dict[str, np.ndarray]
) -> None:
    """Unknown reporter, cause and outcome, written the way the dialect writes that column."""
    for kind, column in (("unknown_reporter", "reporter"), ("unknown_outcome", "outcome")):
        uses_words = bool(dialect.get("values", {}).get(column))
        cols[column][_positions(sel, invalid[kind])] = (
            UNKNOWN_WORD[column] if uses_words else UNKNOWN_CODE[column]
        )
    sep = dialect["list_separator"]
    for i in _positions(sel, invalid["unknown_cause"]).tolist():  # a few rows: the planted ones
        cols["causes"][i] = sep.join([*cols["causes"][i].split(sep)[:-1], UNKNOWN_CODE["cause"]])


def _positions(sel: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Where the rows that ``sel`` (sorted) holds are in it: a lookup by binary search, not a dict per row."""
    at = np.searchsorted(sel, rows)
    found = (at < len(sel)) & (sel[np.minimum(at, len(sel) - 1)] == rows)
    return at[found]


def _write_files(
    out_dir: Path,
    frame: dict[str, np.ndarray],
    invalid: dict[str, np.ndarray],
    codes: dict[str, list[str]],
    muni_codes: list[str],
    dialect_of: dict[str, str],
    seed: int,
    deliveries: variation.Deliveries,
) -> dict[str, int]:
    """One file per municipality and month (two for a re-delivery); returns files per dialect.

    xlsxwriter spends ~40 µs per cell, which makes the XLSX files most of the run time, so they are
    written by worker processes while this process writes the CSV files. Each file is independent, so
    the bytes do not depend on the scheduling.
    """
    specs = dialects()
    fields = contract_fields()
    row_dialect = np.array([dialect_of[c] for c in muni_codes], dtype=object)[frame["muni"]]
    file_key = frame["muni"] * _FILE_KEY + frame["period"]
    redelivered = {muni_codes.index(c) * _FILE_KEY + m for c, m in deliveries.redelivered}
    files = dict.fromkeys(specs, 0)
    rng = _rng(seed, 7)
    jobs: dict[str, list[tuple]] = {"csv": [], "xlsx": []}
    date_cols = {fields.index(f) for f in ("date_received", "decision_date", "feedback_date")}
    assert fields[-1] == "feedback_date", "a file without the feedback column drops the last field"
    for name, dialect in specs.items():
        sel = np.flatnonzero(row_dialect == name)
        if not len(sel):
            continue
        cols = _dialect_columns(rng, frame, sel, dialect, invalid, codes, muni_codes)
        header = [dialect["columns"][f][0] for f in fields]
        ordered = [cols[f] for f in fields]
        keys = file_key[sel]
        bounds = np.r_[0, np.flatnonzero(np.diff(keys)) + 1, len(keys)]
        for lo, hi in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
            key = int(keys[lo])
            stem = _stem(muni_codes[key // _FILE_KEY], key % _FILE_KEY)
            part = [c[lo:hi].tolist() for c in ordered]
            columns = header
            if not frame["feedback_delivered"][sel[lo]]:  # this file has no feedback column (contract v1)
                columns, part = header[: len(header) - 1], part[:-1]
            versions = _redelivery(stem, part) if key in redelivered else [(stem, part)]
            for version_stem, rows in versions:
                suffix = "xlsx" if dialect["format"] == "xlsx" else "csv"
                path = out_dir / f"{version_stem}.{suffix}"
                if suffix == "xlsx":
                    jobs["xlsx"].append((path, dialect["sheet_names"][0], columns, rows, date_cols))
                else:
                    jobs["csv"].append((path, dialect, columns, rows))
                files[name] += 1
    _run_jobs(jobs["csv"], jobs["xlsx"])
    _date_redeliveries(out_dir, deliveries)
    return files


_FILE_KEY = 100_000  # file key = municipality index * _FILE_KEY + absolute month


def _stem(code: str, month: int) -> str:
    """``<kommunkod>_<ÅÅÅÅ-MM>`` of an absolute month (year * 12 + month - 1)."""
    return f"{code}_{month // 12}-{month % 12 + 1:02d}"


def _redelivery(stem: str, part: list[list[Any]]) -> list[tuple[str, list[list[Any]]]]:
    """A file first delivered cut short (an export that stopped early), then in full under a newer name."""
    spec = variation.synthetic()["deliveries"]
    n = len(part[0])
    cut = max(1, int(n * spec["cut_short_share"])) if n > 1 else n
    return [(stem, [c[:cut] for c in part]), (stem + spec["redelivery_suffix"], part)]


def _date_redeliveries(out_dir: Path, deliveries: variation.Deliveries) -> None:
    """Give both files of a re-delivery fixed delivery times (the 5th and the 20th of the next month), so
    that the corrected one is the newest by modification time, as the pipeline decides, on any machine."""
    suffix = variation.synthetic()["deliveries"]["redelivery_suffix"]
    for (_code, month), stem in zip(deliveries.redelivered, deliveries.names("redelivered"), strict=True):
        nxt = dt.datetime(month // 12 + (month % 12 == 11), (month + 1) % 12 + 1, 1, 8, tzinfo=dt.UTC)
        for day, name in ((4, stem), (19, stem + suffix)):
            stamp = (nxt + dt.timedelta(days=day)).timestamp()
            for path in out_dir.glob(f"{name}.*"):
                os.utime(path, (stamp, stamp))


def _run_jobs(csv_jobs: list[tuple], xlsx_jobs: list[tuple]) -> None:
    xlsx_cells = sum(len(job[3][0]) for job in xlsx_jobs) * 9
    workers = min(XLSX_WORKERS, os.cpu_count() or 1)
    if workers < 2 or xlsx_cells < 200_000 or "fork" not in mp.get_all_start_methods():
        for job in xlsx_jobs:
            _write_xlsx(*job)
        for job in csv_jobs:
            _write_csv(*job)
        return
    with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("fork")) as pool:
        pending = [pool.submit(_write_xlsx_batch, xlsx_jobs[i::workers]) for i in range(workers)]
        for job in csv_jobs:
            _write_csv(*job)
        for future in pending:
            future.result()


def _write_xlsx_batch(jobs: list[tuple]) -> None:
    for job in jobs:
        _write_xlsx(*job)
