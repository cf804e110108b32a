"""The synthetic demo extracts: deterministic, readable in their dialects, shaped like the brief says."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import Counter
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from python_calamine import CalamineWorkbook

from pipelines.core.schemas import dialects
from pipelines.demo import generator as gen
from pipelines.demo import population, reference
from pipelines.demo import rows as extract_rows

SCALE = 0.01
SEED = 20251
YEAR = 2025
FIELDS = [
    "municipality_code", "report_id", "personal_number", "date_received", "reporter", "causes",
    "outcome", "decision_date", "org_unit",
]  # fmt: skip
SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"


def _subset() -> list[str]:
    """The three big cities plus the largest other municipality of each dialect."""
    sizes = population.municipality_sizes(SEED)
    dialect_of = population.assign_dialects(SEED)
    chosen = set(population.BIG_CITIES)
    for name in dialects():
        others = [c for c in sizes if dialect_of[c] == name and c not in chosen]
        chosen.add(max(others, key=lambda c: sizes[c]))
    return sorted(chosen)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, gen.DemoSummary]:
    out = tmp_path_factory.mktemp("demo")
    return out, gen.generate_demo(out, YEAR, SEED, SCALE, _subset())


@cache
def _dialect_of() -> dict[str, str]:
    return population.assign_dialects(SEED)


def _read(path: Path) -> tuple[str, list[str], list[dict[str, Any]]]:
    """(dialect, header, rows as contract-field dicts) read strictly as the dialect says."""
    code = path.name[:4]
    name = _dialect_of()[code]
    spec = dialects()[name]
    if spec["format"] == "xlsx":
        sheet = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python()
        header, body = [str(v) for v in sheet[0]], sheet[1:]
    else:
        text = path.read_bytes().decode(spec["encoding"])  # utf-8-sig drops the BOM, cp1252 is strict
        table = list(csv.reader(io.StringIO(text, newline=""), delimiter=spec["delimiter"]))
        header, body = table[0], table[1:]
    # Contract v2's optional feedback column comes last, in the files of municipalities that deliver it.
    fields = FIELDS + ["feedback_date"] * (len(header) == len(FIELDS) + 1)
    return name, header, [dict(zip(fields, row, strict=True)) for row in body]


@cache
def _all_rows(out: Path) -> list[dict[str, Any]]:
    rows = []
    for path in sorted(out.iterdir()):
        name, _, body = _read(path)
        for row in body:
            row["_dialect"], row["_file"] = name, path.name
            rows.append(row)
    return rows


def _date(value: Any, dialect: str) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if value in ("", None):
        return None
    return dt.datetime.strptime(value, dialects()[dialect]["date_formats"][0]).date()


def _code(row: dict[str, Any], column: str) -> str:
    """The contract code of a worded value (komma_cp1252 writes words)."""
    words = dialects()[row["_dialect"]].get("values", {}).get(column, {})
    return words.get(row[column], row[column])


def _digits(value: str) -> str:
    return "".join(value.split()).replace("-", "")


def _luhn_ok(ten: str) -> bool:
    total = 0
    for i, ch in enumerate(ten[:9]):
        p = int(ch) * (2 - i % 2)
        total += p // 10 + p % 10
    return (10 - total % 10) % 10 == int(ten[9])


def _valid_pnr(value: str, received: dt.date) -> tuple[bool, int | None]:
    """(valid, age at the report date), computed independently of the pipeline's module."""
    digits = "".join(value.split()).replace("-", "")
    if len(digits) not in (10, 12) or not digits.isdigit():
        return False, None
    if len(digits) == 10:
        yy = int(digits[:2])
        year = received.year - (received.year - yy) % 100
        if year == received.year and (int(digits[2:4]), int(digits[4:6]) % 60) > (
            received.month,
            received.day,
        ):
            year -= 100
    else:
        year = int(digits[:4])
    month, day = int(digits[-8:-6]), int(digits[-6:-4])
    day = day - 60 if day > 60 else day
    try:
        born = dt.date(year, month, day)
    except ValueError:
        return False, None
    if not _luhn_ok(digits[-10:]):
        return False, None
    return True, received.year - born.year - ((received.month, received.day) < (born.month, born.day))


def test_same_arguments_give_identical_bytes(demo, tmp_path: Path) -> None:
    out, _ = demo
    again = gen.generate_demo(tmp_path, YEAR, SEED, SCALE, _subset())
    first = {p.name: p.read_bytes() for p in out.iterdir()}
    second = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert first.keys() == second.keys()
    assert [n for n in first if first[n] != second[n]] == []
    assert again.files == len(first)


def test_another_seed_gives_other_data(demo, tmp_path: Path) -> None:
    out, _ = demo
    gen.generate_demo(tmp_path, YEAR, SEED + 1, SCALE, ["0180"])
    mine = b"".join(p.read_bytes() for p in sorted(out.glob("0180_*")))
    other = b"".join(p.read_bytes() for p in sorted(tmp_path.glob("0180_*")))
    assert mine and other and mine != other


def test_two_years_never_share_a_report_id(tmp_path: Path) -> None:
    ids = {}
    for year in (YEAR - 1, YEAR):
        gen.generate_demo(tmp_path / str(year), year, SEED, SCALE, ["0180"])
        ids[year] = {r["report_id"] for r in _all_rows(tmp_path / str(year)) if r["report_id"]}
    assert len(ids[YEAR]) > 100 and not ids[YEAR - 1] & ids[YEAR]
    assert all(i.startswith(f"SYNT-0180-{YEAR}-") for i in ids[YEAR])


def test_file_names_and_dialect_headers(demo) -> None:
    out, summary = demo
    files = sorted(out.iterdir())
    assert len(files) == summary.files
    seen = Counter()
    for path in files:
        assert _dialect_of()[path.name[:4]] in dialects()
        assert path.stem[5:12].startswith(f"{YEAR}-")
        name, header, rows = _read(path)
        expected = [dialects()[name]["columns"][f][0] for f in FIELDS]
        assert header in (expected, [*expected, dialects()[name]["columns"]["feedback_date"][0]])
        assert rows, path.name
        assert {r["municipality_code"] for r in rows} == {path.name[:4]}
        seen[name] += 1
    assert set(seen) == set(dialects())  # one municipality of each dialect at least
    assert dict(seen) == {k: v for k, v in summary.files_per_dialect.items() if v}


def test_encodings_as_the_dialects_say(demo) -> None:
    out, _ = demo
    for path in out.iterdir():
        name = _dialect_of()[path.name[:4]]
        raw = path.read_bytes()
        if name == "semikolon_utf8":
            assert raw.startswith(b"\xef\xbb\xbf")
        elif name == "komma_cp1252":
            assert not raw.startswith(b"\xef\xbb\xbf")
            raw.decode("cp1252")
            assert b"Ankomstdatum" in raw.splitlines()[0]
        else:
            assert raw.startswith(b"PK")


def test_xlsx_cells_are_text_and_dates(demo) -> None:
    out, _ = demo
    path = next(p for p in sorted(out.iterdir()) if p.suffix == ".xlsx")
    _, _, rows = _read(path)
    identified = [r for r in rows if r["personal_number"] != ""]
    assert identified and all(isinstance(r["personal_number"], str) for r in identified)
    assert all(isinstance(r["municipality_code"], str) and len(r["municipality_code"]) == 4 for r in rows)
    assert all(isinstance(r["date_received"], dt.date) for r in rows)


def test_komma_writes_words_not_codes(demo) -> None:
    out, _ = demo
    rows = [r for r in _all_rows(out) if r["_dialect"] == "komma_cp1252"]
    words = set(dialects()["komma_cp1252"]["values"]["outcome"])
    assert {r["outcome"] for r in rows} - {"Avslutad"} <= words
    assert "Inleds ej" in {r["outcome"] for r in rows}
    assert all("." in r["date_received"] for r in rows)


def test_volume_matches_scale(demo) -> None:
    _, summary = demo
    sizes = population.municipality_sizes(SEED)
    expected = gen.REPORTS_PER_YEAR * SCALE * sum(sizes[c] for c in _subset()) / sum(sizes.values())
    assert 0.8 * expected <= summary.reports <= 1.2 * expected
    assert summary.rows > summary.reports  # late decisions add second rows
    assert 1.6 <= summary.reports / summary.distinct_children <= 2.3


def test_late_decision_appears_twice(demo) -> None:
    out, summary = demo
    by_id: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in _all_rows(out):
        by_id.setdefault((row["municipality_code"], row["report_id"]), []).append(row)
    pairs = [rows for rows in by_id.values() if len({r["_file"] for r in rows}) == 2]
    assert len(pairs) >= 0.9 * summary.late_decision_rows > 0
    good = 0
    for first, second in pairs:
        month_1, month_2 = int(first["_file"][10:12]), int(second["_file"][10:12])
        decided = _date(second["decision_date"], second["_dialect"])
        if (
            month_2 == month_1 + 1
            and _code(first, "outcome") == "ej_beslutat"
            and _date(first["decision_date"], first["_dialect"]) is None
            and _code(second, "outcome") in ("inleds", "inleds_ej")
            and decided is not None
            and decided.month == month_2
            and _digits(first["personal_number"])[-10:] == _digits(second["personal_number"])[-10:]
        ):
            good += 1
    assert good >= 0.9 * len(pairs)


def test_invalid_rows_planted_and_counted(demo) -> None:
    out, summary = demo
    assert set(summary.invalid_rows) == set(extract_rows.INVALID_KINDS)
    assert all(n >= 1 for n in summary.invalid_rows.values())
    rows = _all_rows(out)
    reporters = set(reference._codes()["reporter"])
    unknown_reporter = sum(_code(r, "reporter") not in reporters for r in rows)
    assert unknown_reporter == summary.invalid_rows["unknown_reporter"]
    assert sum(r["report_id"] == "" for r in rows) == summary.invalid_rows["missing_report_id"]
    per_file = Counter((r["_file"], r["report_id"]) for r in rows if r["report_id"])
    assert sum(n - 1 for n in per_file.values()) == summary.invalid_rows["duplicate_report_id"]
    early = sum(
        _date(r["decision_date"], r["_dialect"]) is not None
        and _date(r["decision_date"], r["_dialect"]) < _date(r["date_received"], r["_dialect"])
        for r in rows
    )
    assert early == summary.invalid_rows["decision_before_received"]
    assert all(r["report_id"].startswith("SYNT-") for r in rows if r["report_id"])


def test_personnummer_valid_except_planted(demo) -> None:
    out, summary = demo
    bad, adults, identified, boys, samordning = 0, 0, 0, 0, 0
    for row in _all_rows(out):
        if row["personal_number"] == "":
            continue
        identified += 1
        ok, age = _valid_pnr(row["personal_number"], _date(row["date_received"], row["_dialect"]))
        if not ok:
            bad += 1
            continue
        adults += age >= 18
        digits = "".join(row["personal_number"].split()).replace("-", "")
        boys += int(digits[-2]) % 2
        samordning += int(digits[-6:-4]) > 60
    planted = ("pnr_check_digit", "pnr_impossible_date", "pnr_wrong_length")
    assert bad == sum(summary.invalid_rows[k] for k in planted)
    assert adults == summary.invalid_rows["child_age_18_plus"]
    assert 0.45 < boys / identified < 0.65
    assert samordning > 0


def test_personnummer_module_agrees(demo) -> None:
    pnr = pytest.importorskip("pipelines.stage2_pseudonymise.personnummer")
    out, summary = demo
    rejected = 0
    for row in _all_rows(out):
        if row["personal_number"]:
            try:
                pnr.normalise(row["personal_number"], _date(row["date_received"], row["_dialect"]))
            except ValueError:
                rejected += 1
    planted = ("pnr_check_digit", "pnr_impossible_date", "pnr_wrong_length")
    assert rejected == sum(summary.invalid_rows[k] for k in planted)


def test_org_unit_only_in_big_cities(demo) -> None:
    out, _ = demo
    rows = _all_rows(out)
    for row in rows:
        if row["municipality_code"] in population.BIG_CITIES:
            assert row["org_unit"].startswith("Stadsdel")
        else:
            assert row["org_unit"] in ("", None)


def test_no_security_guard_before_2026(demo) -> None:
    out, _ = demo
    assert all(_code(r, "reporter") != "OVA" for r in _all_rows(out))


def test_no_authority_with_the_new_duty_before_2026(demo) -> None:
    out, _ = demo
    rolled = {r["code"] for r in reference._read_csv("codes/reporters.csv") if r["rolls_up_to"]}
    assert len(rolled) == 7 and not rolled & {_code(r, "reporter") for r in _all_rows(out)}


def test_population_file_has_scb_shape(tmp_path: Path) -> None:
    codes = ["0180", "0114"]
    path = population.generate_population(tmp_path / "pop.csv", YEAR, SEED, codes)
    lines = path.read_bytes().decode("cp1252").splitlines()
    assert "SYNTETISKA DEMODATA" in lines[0] and "inte SCB:s statistik" in lines[0]
    assert lines[1] == ""
    table = list(csv.reader(lines[2:]))
    assert table[0] == ["region", "ålder", "kön", str(YEAR)]
    body = table[1:]
    assert len(body) == len(codes) * 18 * 2
    assert {r[0] for r in body} == {"0180 Stockholm", "0114 Upplands Väsby"}
    assert {r[1] for r in body} == {f"{a} år" for a in range(18)}
    assert {r[2] for r in body} == {"män", "kvinnor"}
    total = sum(int(r[3]) for r in body if r[0].startswith("0180"))
    assert total == population.municipality_sizes(SEED)["0180"]


def test_population_sizes_heavy_tailed_with_big_three_on_top() -> None:
    sizes = population.municipality_sizes(SEED)
    ranked = sorted(sizes, key=sizes.get, reverse=True)
    assert set(ranked[:3]) == set(population.BIG_CITIES)
    assert 2_000_000 < sum(sizes.values()) < 2_400_000
    assert sizes[ranked[0]] > 100 * sizes[ranked[-1]]
