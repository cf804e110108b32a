"""Load one extract month: read every delivered file, validate, pseudonymise, quarantine, reconcile.

This is where the personnummer dies. Rows are validated in one DuckDB query; the keyed hash runs in
Python over the *distinct* valid numbers only; the written outputs hold the pseudonym and key id, never
the number. Quarantined rows keep a masked form (digits replaced by X).

Everything for the month is written into a temporary folder and swapped into place whole
(``2_pseudonymised/extract_month=YYYY-MM/``), so a crash leaves the previous state untouched, and
re-running the month after a re-delivery replaces the earlier load.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import Counter
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.core import db
from pipelines.core.atomic import atomic_dir, atomic_file
from pipelines.core.digest import sha256_of, sha256_of_bytes
from pipelines.core.files import LEDGER_FILE, QUARANTINE_FILE, REFUSED_NAMES_FILE, REPORTS_FILE
from pipelines.core.partitions import month_bounds
from pipelines.core.schemas import extract_contract
from pipelines.core.settings import Paths, settings
from pipelines.stage1_landing.archive import ArchivedExtract, archived_extracts
from pipelines.stage1_landing.csv_text import read_csv_together
from pipelines.stage1_landing.delivery import (
    FileRejected,
    Landed,
    Parsed,
    check_size,
    masked_name,
    parse_file_name,
)
from pipelines.stage1_landing.landing import delivered_files, landed_table, landing_files, unrecognised_names
from pipelines.stage1_landing.read import land, parse_extract
from pipelines.stage2_pseudonymise.feedback import file_reason, summaries, write_feedback
from pipelines.stage2_pseudonymise.keyed_hash import PseudonymKey, load_key, pseudonymise
from pipelines.stage2_pseudonymise.quarantine import build_quarantine, connect, write_analyst_csv
from pipelines.stage2_pseudonymise.validate import build_checked

QUARANTINE_CSV = "karantan.csv"
LOADED = "inläst"  # a ledger row's status for a file whose rows were read (else avvisad, ersatt)
FEEDBACK_FOLDER = "aterkoppling"

# Columns that leave stage 2. Nothing here can hold a personnummer: the pseudonym replaces it.
ACCEPTED_COLUMNS = """
    source_file, row_number::INTEGER AS row_number, municipality_code, substr(municipality_code, 1, 2) AS county_code,
    report_id, p.child_pseudonym, CASE WHEN p.child_pseudonym IS NULL THEN NULL ELSE '{key_id}' END AS key_id,
    pnr_normalised IS NOT NULL AS child_identified, is_coordination_number,
    age_years::TINYINT AS age_years, legal_sex, date_received, reporter, cause_list AS causes, outcome,
    decision_date, org_unit, feedback_date, feedback_date_delivered
"""


@dataclass
class FileOutcome:
    """One landing file's fate, for the ledger. Aggregates only."""

    source_file: str
    municipality_code: str
    period: str
    sha256: str
    bytes: int
    status: str  # inläst (loaded) | avvisad (rejected) | ersatt (superseded by a newer delivery)
    dialect: str | None = None
    encoding: str | None = None
    rows_in: int | None = None
    rejection_code: str | None = None
    rejection_message: str | None = None


# The ledger's columns, whatever the month holds: a month with no loadable file still has a ledger the
# reconciliation check and delivery monitoring can read (an empty table without ``status`` broke both).
LEDGER_SCHEMA = pa.schema(
    [
        ("source_file", pa.string()),
        ("municipality_code", pa.string()),
        ("period", pa.string()),
        ("sha256", pa.string()),
        ("bytes", pa.int64()),
        ("status", pa.string()),
        ("dialect", pa.string()),
        ("encoding", pa.string()),
        ("rows_in", pa.int64()),
        ("rejection_code", pa.string()),
        ("rejection_message", pa.string()),
    ]
)


@dataclass
class MonthLoad:
    """What a month's load did, in numbers safe to log and show in Dagster."""

    month: str
    files: list[FileOutcome] = field(default_factory=list)
    rows_in: int = 0
    accepted: int = 0
    quarantined: int = 0
    distinct_children: int = 0
    reasons: Counter = field(default_factory=Counter)
    skipped_unchanged: bool = False

    @property
    def files_loaded(self) -> int:
        return sum(f.status == LOADED for f in self.files)

    @property
    def files_rejected(self) -> int:
        return sum(f.status == "avvisad" for f in self.files)


def month_extracts(paths: Paths, month: str, plain: list[Path] | None = None) -> list[Path | ArchivedExtract]:
    """The month's plaintext landing files (``plain``, when the caller has listed them) and its archived
    (encrypted) extracts.

    A landing file replaces an archived one of the same name: that is a re-delivery under the same name,
    as when it overwrote the earlier file in the landing folder.
    """
    plain = landing_files(paths.landing, month) if plain is None else plain
    names = {path.name for path in plain}
    return plain + [item for item in archived_extracts(paths, month) if item.name not in names]


def record_refused_names(paths: Paths) -> list[str]:
    """Write ``2_pseudonymised/refused_names.parquet``: every landing file refused for its name alone
    (masked name, reason code, message), and return the masked names.

    Such a file belongs to no month's ledger (its name gives no real month, or carries what looks like a
    personnummer), so without this record its refusal would only be a log line."""
    refused = []
    for name in unrecognised_names(paths.landing):
        try:
            parse_file_name(Path(name))  # raises for every unrecognised name: that is its reason
        except FileRejected as err:
            refused.append(
                {"source_file": masked_name(name), "rejection_code": err.code, "message": str(err)}
            )
    target = paths.pseudonymised / REFUSED_NAMES_FILE
    if not refused:  # none now: an earlier list would name files no longer there
        target.unlink(missing_ok=True)
        return []
    schema = pa.schema([(column, pa.string()) for column in ("source_file", "rejection_code", "message")])
    with atomic_file(target) as tmp:
        pq.write_table(pa.Table.from_pylist(refused, schema=schema), tmp)
    return [r["source_file"] for r in refused]


def _facts(path: Path | ArchivedExtract) -> tuple[str, int, int]:
    """SHA-256, size and modification time of the delivered plaintext (an archived one's from its header)."""
    if isinstance(path, ArchivedExtract):
        return path.sha256, path.size, path.mtime_ns
    if path.is_symlink():  # nothing of the target, not even the length of its path (the link's size)
        return "", 0, _mtime_ns(path)
    return sha256_of(path), path.stat().st_size, _mtime_ns(path)


def _mtime_ns(path: Path | ArchivedExtract) -> int:
    # lstat: a symbolic link's own time, never its target's.
    return path.mtime_ns if isinstance(path, ArchivedExtract) else path.lstat().st_mtime_ns


def load_month(
    month: str,
    key: PseudonymKey,
    paths: Paths,
    threads: int | None = None,
    landing: list[Path] | None = None,
) -> MonthLoad:
    """Load every delivery for ``month`` and replace the month's outputs atomically.

    If the month was already loaded from exactly the same files (by SHA-256) with the same key, nothing
    is redone: the same file twice changes nothing, and a backfill over loaded months is cheap.
    ``threads``: DuckDB threads for the month's queries (None: one per core). ``landing``: the month's
    landing files, when the caller has listed them (None: list the landing folder).
    """
    files = month_extracts(paths, month, landing)
    previous = previous_load(paths, month, key, files)
    if previous is not None:
        return previous
    result = MonthLoad(month=month)
    landed = _in_force(_read_files(files, result), files, result)
    with atomic_dir(paths.extract_month(month)) as out:
        _process(landed, month, key, out, result, threads)
    return result


def load_months(months: list[str], key: PseudonymKey, paths: Paths) -> list[MonthLoad]:
    """Load several extract months; independent months run in parallel worker processes.

    Workers are spawned (not forked: the parent holds DuckDB and Dagster threads) and read the key
    from the environment themselves, so the secret never crosses a process boundary.
    """
    landing = _landing_by_month(paths.landing, months)
    workers = min(len(months), os.cpu_count() or 1, int(settings()["extract"]["parallel_months"]))
    if workers < 2:
        return [
            load_month(month, key, paths, landing=files) for month, files in zip(months, landing, strict=True)
        ]
    context = multiprocessing.get_context("spawn")
    # The cores shared out between the workers: DuckDB's threads per query otherwise contend with the
    # other workers' (measured on 2 cores, 12 national months: 4-11 % less CPU, 2-11 % less wall in
    # 7 of 10 alternating pairs).
    threads = db.threads_each(workers)
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        n = len(months)
        return list(pool.map(_load_in_worker, months, [str(paths.home)] * n, [threads] * n, landing))


def _landing_by_month(landing: Path, months: list[str]) -> list[list[Path] | None]:
    """Each month's landing files from one listing of the folder (ten years hold ≈ 35,000 names: listed
    once, not once per month). A single month lists its own: names not naming it are skipped unparsed."""
    if len(months) < 2:
        return [None] * len(months)
    listed: dict[str, list[Path]] = {month: [] for month in months}
    for path, period in delivered_files(landing):
        if period in listed:
            listed[period].append(path)
    return [listed[month] for month in months]


def _load_in_worker(month: str, home: str, threads: int, landing: list[Path] | None) -> MonthLoad:
    return load_month(month, load_key(), Paths(Path(home)), threads, landing)


def previous_load(
    paths: Paths, month: str, key: PseudonymKey, files: list[Path | ArchivedExtract]
) -> MonthLoad | None:
    """The earlier load of ``month`` if it used the same files and key, rebuilt from its ledger."""
    folder = paths.extract_month(month)
    ledger_path, reports_path = folder / LEDGER_FILE, folder / REPORTS_FILE
    if not ledger_path.exists():
        return None
    ledger = db.table(f"SELECT * FROM read_parquet('{ledger_path}')").to_pylist()
    if {(r["source_file"], r["sha256"]) for r in ledger} != {(p.name, _facts(p)[0]) for p in files}:
        return None
    keys = db.rows(f"SELECT DISTINCT key_id FROM read_parquet('{reports_path}') WHERE key_id IS NOT NULL")
    if keys and keys != [(key.key_id,)]:
        return None
    result = MonthLoad(month=month, skipped_unchanged=True)
    fields = FileOutcome.__dataclass_fields__
    result.files = [FileOutcome(**{k: v for k, v in r.items() if k in fields}) for r in ledger]
    result.rows_in = sum(r["rows_in"] or 0 for r in ledger if r["status"] == LOADED)
    result.accepted = sum(r["accepted"] for r in ledger)
    result.quarantined = sum(r["quarantined"] for r in ledger)
    for reason, n in db.rows(
        f"SELECT unnest(reasons) r, count(*) FROM read_parquet('{folder / QUARANTINE_FILE}') GROUP BY r"
    ):
        result.reasons[reason] = n
    return result


def _read_files(files: list[Path | ArchivedExtract], result: MonthLoad) -> list[Landed]:
    """Parse every delivery, two at a time (Arrow's CSV reader and the spreadsheet reader release the
    GIL, so a month's 290 files take both cores even when a single month is loaded), then bring the
    month's rows into the contract in one pass."""
    contents = [_small_file(path) for path in files]
    together = read_csv_together(contents)
    with ThreadPoolExecutor(max_workers=2) as pool:
        read = list(pool.map(_parse_one, files, contents, together))
    parsed = [item for _, item in read if item is not None]
    each = iter(land(parsed))  # in the order of ``parsed``: a Landed, or the file's FileRejected
    landed = []
    for outcome, item in read:
        fate = next(each) if item is not None else None
        if isinstance(fate, FileRejected):
            _reject(outcome, fate)
        elif fate is not None:
            landed.append(fate)
            outcome.dialect, outcome.encoding, outcome.rows_in = fate.dialect, fate.encoding, fate.records
        result.files.append(outcome)
    return landed


def _in_force(landed: list[Landed], files: list[Path | ArchivedExtract], result: MonthLoad) -> list[Landed]:
    """Per municipality, the delivery in force: the newest file (by modification time, then name) that
    loads. A newer file rejected as a whole stays rejected and says which earlier file stays in force, so
    a broken re-delivery never wipes out the month's figures; older files are superseded (``ersatt``).
    When no file loads, the newest rejection stands. An archived extract keeps its delivery time."""
    delivered = {f.name: _mtime_ns(f) for f in files}
    by_municipality: dict[str, list[FileOutcome]] = {}
    for outcome in result.files:
        by_municipality.setdefault(outcome.municipality_code, []).append(outcome)
    chosen = set()
    for group in by_municipality.values():
        group.sort(key=lambda o: (delivered[o.source_file], o.source_file))
        winner = ([o for o in group if o.status == LOADED] or group)[-1]
        chosen.add(winner.source_file)
        rank = group.index(winner)
        for outcome in group[:rank]:
            _supersede(outcome)
        for outcome in group[rank + 1 :]:  # rejected, else it would have won
            note = f"The earlier delivery {winner.source_file} stays in force."
            outcome.rejection_message = f"{outcome.rejection_message} {note}"
    return [item for item in landed if item.path.name in chosen]


def _supersede(outcome: FileOutcome) -> None:
    outcome.status = "ersatt"
    outcome.dialect = outcome.encoding = outcome.rows_in = None
    outcome.rejection_code = outcome.rejection_message = None


def _small_file(path: Path | ArchivedExtract) -> bytes | None:
    """A landing file's bytes, to be read together with the others; None where it is read alone (an
    archived extract, a file beyond the size limit or unreadable: parse_extract says why)."""
    if isinstance(path, ArchivedExtract) or path.is_symlink():
        return None
    try:
        check_size(path.stat().st_size)
        return path.read_bytes()
    except (FileRejected, OSError):
        return None


def _parse_one(
    path: Path | ArchivedExtract, content: bytes | None = None, read: tuple | None = None
) -> tuple[FileOutcome, Parsed | None]:
    municipality, period = parse_file_name(Path(path.name))
    if content is None:
        sha256, size, _ = _facts(path)
    else:  # the bytes already read, not the file again
        sha256, size = sha256_of_bytes(content), len(content)
    outcome = FileOutcome(path.name, municipality, period, sha256, size, LOADED)
    if not isinstance(path, ArchivedExtract) and path.is_symlink():
        # The target is neither read nor named: it is outside what the deliverer may hand over.
        _reject(outcome, FileRejected("symlank", "The file is a symbolic link; it is not followed."))
        return outcome, None
    try:
        # An archived extract is decrypted in memory; a damaged archive stops the load (ArchiveError).
        item = path.parsed() if isinstance(path, ArchivedExtract) else parse_extract(path, content, read)
    except FileRejected as err:
        _reject(outcome, err)
        return outcome, None
    return outcome, item


def _reject(outcome: FileOutcome, err: FileRejected) -> None:
    outcome.status, outcome.rejection_code, outcome.rejection_message = "avvisad", err.code, str(err)


def _process(
    landed: list[Landed], month: str, key: PseudonymKey, out: Path, result: MonthLoad, threads: int | None
) -> None:
    start, end, lookback = month_bounds(month)
    con = connect(threads)
    con.register("landed", landed_table(landed))
    build_checked(con, "landed", start, end, lookback)
    _attach_pseudonyms(con, key)
    _write_accepted(con, out, key, month)
    _write_quarantine(con, landed, out, month)
    _write_feedback(con, landed, out, result)
    _write_ledger(con, out, result)
    _tally(con, result)
    con.close()


def _attach_pseudonyms(con: duckdb.DuckDBPyConnection, key: PseudonymKey) -> None:
    """HMAC over distinct valid numbers only; the map lives in memory and dies with the connection."""
    distinct = con.sql(
        "SELECT DISTINCT pnr_normalised FROM checked WHERE len(reasons) = 0 AND pnr_normalised IS NOT NULL"
    ).to_arrow_table()
    numbers = distinct.column("pnr_normalised") if distinct.num_rows else pa.array([], pa.string())
    mapping = pa.table({"pnr": numbers, "child_pseudonym": pseudonymise(numbers, key)})
    con.register("pseudonym_map", mapping)


def _write_accepted(con: duckdb.DuckDBPyConnection, out: Path, key: PseudonymKey, month: str) -> None:
    columns = ACCEPTED_COLUMNS.format(key_id=key.key_id)
    con.execute(
        f"""COPY (
            SELECT {columns} FROM checked c LEFT JOIN pseudonym_map p ON p.pnr = c.pnr_normalised
            WHERE len(reasons) = 0 ORDER BY municipality_code, report_id
        ) TO '{out / REPORTS_FILE}' ({db.PARQUET},
              KV_METADATA {{extract_month: '{month}', key_id: '{key.key_id}', contract: 'extract v{extract_contract()["version"]}'}})"""
    )


def _write_quarantine(con: duckdb.DuckDBPyConnection, landed: list[Landed], out: Path, month: str) -> None:
    build_quarantine(con, landed)
    con.execute(
        f"COPY quarantine_out TO '{out / QUARANTINE_FILE}' ({db.PARQUET}, "
        f"KV_METADATA {{extract_month: '{month}'}})"
    )
    write_analyst_csv(con.sql("SELECT * FROM quarantine_out").to_arrow_table(), out / QUARANTINE_CSV)


def _write_feedback(
    con: duckdb.DuckDBPyConnection, landed: list[Landed], out: Path, result: MonthLoad
) -> None:
    """The analyst's feedback for every file, read or rejected, beside the quarantine."""
    rejected = [
        {
            "file": f.source_file,
            "status": "avvisad",
            "rejection_code": f.rejection_code,
            "rejection_message": f.rejection_message,
            "text_sv": file_reason(f.rejection_code)["sv"],
            "text_en": file_reason(f.rejection_code)["en"],
        }
        for f in result.files
        if f.status == "avvisad"
    ]
    quarantine = con.sql("SELECT * FROM quarantine_out").to_arrow_table()
    write_feedback(out / FEEDBACK_FOLDER, summaries(landed, con) + rejected, quarantine)


def _write_ledger(con: duckdb.DuckDBPyConnection, out: Path, result: MonthLoad) -> None:
    """One row per file; accepted and quarantined are counted from the written outputs themselves."""
    con.register("files", pa.Table.from_pylist([f.__dict__ for f in result.files], schema=LEDGER_SCHEMA))
    con.execute(
        f"""COPY (
          SELECT f.*,
            coalesce(a.n, 0) AS accepted, coalesce(q.n, 0) AS quarantined
          FROM files f
          LEFT JOIN (SELECT source_file, count(*) n FROM read_parquet('{out / REPORTS_FILE}')
                     GROUP BY ALL) a USING (source_file)
          LEFT JOIN (SELECT source_file, count(*) n FROM read_parquet('{out / QUARANTINE_FILE}')
                     GROUP BY ALL) q USING (source_file)
          ORDER BY source_file
        ) TO '{out / LEDGER_FILE}' (FORMAT parquet)"""
    )


def _tally(con: duckdb.DuckDBPyConnection, result: MonthLoad) -> None:
    result.rows_in = sum(f.rows_in or 0 for f in result.files if f.status == LOADED)
    result.accepted = db.scalar(con, "SELECT count(*) FROM checked WHERE len(reasons) = 0")
    result.quarantined = db.scalar(con, "SELECT count(*) FROM quarantine")
    result.distinct_children = db.scalar(con, "SELECT count(*) FROM pseudonym_map")
    for reason, n in con.execute("SELECT unnest(reasons) r, count(*) FROM quarantine GROUP BY r").fetchall():
        result.reasons[reason] = n
