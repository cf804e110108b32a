"""The reference implementation of personnummer rules (numbers are generated, never copied)."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from pipelines.stage2_pseudonymise import personnummer as pnr
from tests.strategies import (
    child_numbers,
    coordination_numbers,
    hundredth_year_numbers,
    nasty_strings,
    people_numbers,
    reference_dates,
    written_forms,
)

REFERENCE = dt.date(2025, 6, 1)


def _problem(value: str, reference: dt.date) -> str | None:
    try:
        pnr.normalise(value, reference)
    except pnr.PersonnummerError as error:
        return error.code
    return None


@given(child_numbers(), st.data())
def test_every_written_form_normalises_to_the_same_number(
    case: tuple[str, dt.date], data: st.DataObject
) -> None:
    number, reference = case
    form = data.draw(written_forms(number, reference))
    assert pnr.normalise(form, reference) == number


@given(people_numbers())
def test_all_forms_of_anyone_under_200_read_back(case: tuple[str, dt.date]) -> None:
    number, reference = case
    forms = pnr.format_forms(number, reference)
    # 12 plain, 12 with '-', and 10 plain + 10 with '-' (under 100) or only 10 with '+' (from the
    # calendar year of the 100th birthday to that of the 199th).
    assert len(forms) == (4 if "-" in forms[-1][-5:] else 3)
    assert {pnr.normalise(form, reference) for form in forms} == {number}


@given(coordination_numbers())
def test_samordningsnummer(case: tuple[str, dt.date]) -> None:
    number, reference = case
    assert pnr.is_coordination_number(number)
    assert 61 <= int(number[6:8]) <= 91
    born = pnr.birth_date(number)
    assert born.day == int(number[6:8]) - 60
    assert 0 <= (reference - born).days < 18 * 366


@given(child_numbers(coordination=False))
def test_personnummer_is_not_coordination_number(case: tuple[str, dt.date]) -> None:
    number, _ = case
    assert not pnr.is_coordination_number(number)
    assert pnr.birth_date(number).day == int(number[6:8])


@given(child_numbers(), st.integers(0, 11), st.integers(1, 9))
@example(("200002290013", dt.date(2000, 2, 29)), 0, 1)  # generated here: 29 Feb 2000 -> 3000, no leap day
@example(("200001010016", dt.date(2000, 1, 1)), 0, 8)  # found by hypothesis: 2000 -> 0000, no year 0
def test_changing_any_single_digit_is_caught(case: tuple[str, dt.date], position: int, shift: int) -> None:
    number, reference = case
    changed = number[:position] + str((int(number[position]) + shift) % 10) + number[position + 1 :]
    if position < 2:
        # The century is not covered by the check digit: the 12-digit form is a different number, valid
        # unless the birth date is 29 February and the changed year is not a leap year (2000 -> 3000), or
        # the changed year is 0000 (there is no year 0).
        problem = _problem(changed, reference)
        if problem is None:
            assert pnr.normalise(changed, reference) != number
        else:
            assert problem == "date" and (number[4:8] == "0229" or changed[:4] == "0000"), (changed, problem)
        return
    assert _problem(changed, reference) is not None
    assert _problem(changed[2:], reference) is not None


@given(child_numbers(), st.integers(1, 9))
def test_wrong_check_digit_is_always_checksum(case: tuple[str, dt.date], shift: int) -> None:
    number, reference = case
    wrong = number[:-1] + str((int(number[-1]) + shift) % 10)
    assert _problem(wrong, reference) == "checksum"
    assert _problem(wrong[2:], reference) == "checksum"
    assert _problem(f"{wrong[2:8]}-{wrong[8:]}", reference) == "checksum"


@given(child_numbers(), st.sampled_from(["1", "3", "5", "7", "9", "0", "2", "4", "6", "8"]))
def test_legal_sex_from_second_to_last_digit(case: tuple[str, dt.date], digit: str) -> None:
    number, _ = case
    eleven = number[:10] + digit
    changed = eleven + pnr.luhn_check_digit(eleven[2:11])
    assert pnr.legal_sex(changed) == ("1" if int(digit) % 2 else "2")


@given(nasty_strings(), reference_dates())
def test_nasty_strings_never_crash_and_messages_hold_no_digits(value: str, reference: dt.date) -> None:
    try:
        normalised = pnr.normalise(value, reference)
    except pnr.PersonnummerError as error:
        assert error.code in {"format", "length", "date", "checksum"}
        assert not any(char.isdigit() for char in str(error))
    else:
        assert len(normalised) == 12
        assert normalised.isdigit()


@given(st.text())
def test_mask_hides_every_digit(value: str) -> None:
    masked = pnr.mask(value)
    assert len(masked) == len(value)
    assert not any(char.isdecimal() for char in masked)


# --- century inference -----------------------------------------------------------------------------


def test_child_number_read_with_reference_date() -> None:
    number = pnr.generate(dt.date(2010, 7, 15), 123)
    assert pnr.normalise(number[2:], REFERENCE) == number
    assert pnr.normalise(f"{number[2:8]}-{number[8:]}", REFERENCE) == number
    # A historical backfill: read in 2012, the same ten digits are still a child born in 2010.
    assert pnr.normalise(number[2:], dt.date(2012, 1, 1)) == number
    # Read before the birth date, the number belongs to the previous century.
    assert pnr.normalise(number[2:], dt.date(2010, 7, 14)) == "19" + number[2:]


def test_plus_form_of_a_centenarian() -> None:
    number = pnr.generate(dt.date(1920, 3, 4), 456)
    assert pnr.normalise(f"{number[2:8]}+{number[8:]}", REFERENCE) == number
    assert pnr.normalise(f"{number[2:8]}-{number[8:]}", REFERENCE) == "20" + number[2:]
    assert f"{number[2:8]}+{number[8:]}" in pnr.format_forms(number, REFERENCE)


# '+' from the calendar year of the 100th birthday (DOMAIN.md), not from the birthday itself.
TURNS_100_IN_DECEMBER = dt.date(1925, 12, 1)


def test_plus_form_in_the_year_of_the_100th_birthday_before_the_birthday() -> None:
    number = pnr.generate(TURNS_100_IN_DECEMBER, 457)
    plus, dash = f"{number[2:8]}+{number[8:]}", f"{number[2:8]}-{number[8:]}"
    # On 2025-06-01 the person is 99, but 2025 is the year they turn 100: their form is '+'.
    assert pnr.normalise(plus, REFERENCE) == number
    # The '-' form (and the plain one) still reads back to the same 12 digits before the birthday.
    assert pnr.normalise(dash, REFERENCE) == number
    assert pnr.normalise(number[2:], REFERENCE) == number
    # The written 10-digit form in that year is only '+'.
    assert pnr.format_forms(number, REFERENCE) == [number, f"{number[:8]}-{number[8:]}", plus]


@pytest.mark.parametrize(
    "reference", [dt.date(2025, 1, 1), dt.date(2025, 11, 30), dt.date(2025, 12, 1), dt.date(2025, 12, 31)]
)
def test_plus_form_reads_back_all_year_of_the_100th_birthday(reference: dt.date) -> None:
    number = pnr.generate(TURNS_100_IN_DECEMBER, 457)
    assert pnr.normalise(f"{number[2:8]}+{number[8:]}", reference) == number


def test_plus_form_before_the_year_of_the_100th_birthday_is_a_century_earlier() -> None:
    number = pnr.generate(TURNS_100_IN_DECEMBER, 457)
    # On 2024-12-31 the person will turn 99 only: a '+' with these digits is someone born in 1825.
    assert pnr.normalise(f"{number[2:8]}+{number[8:]}", dt.date(2024, 12, 31)) == "18" + number[2:]
    assert pnr.normalise(f"{number[2:8]}-{number[8:]}", dt.date(2024, 12, 31)) == number
    assert f"{number[2:8]}+{number[8:]}" not in pnr.format_forms(number, dt.date(2024, 12, 31))


def test_dash_form_after_the_100th_birthday_is_a_newborn() -> None:
    number = pnr.generate(TURNS_100_IN_DECEMBER, 457)
    after = dt.date(2025, 12, 2)
    assert pnr.normalise(f"{number[2:8]}-{number[8:]}", after) == "20" + number[2:]
    assert pnr.normalise(f"{number[2:8]}+{number[8:]}", after) == number


def test_plus_form_up_to_the_year_of_the_199th_birthday() -> None:
    number = pnr.generate(TURNS_100_IN_DECEMBER, 457)
    plus = f"{number[2:8]}+{number[8:]}"
    assert pnr.normalise(plus, dt.date(2124, 12, 31)) == number
    assert plus in pnr.format_forms(number, dt.date(2124, 1, 1))
    # From the calendar year of the 200th birthday the same '+' digits are someone born in 2025.
    assert pnr.normalise(plus, dt.date(2125, 1, 1)) == "20" + number[2:]
    assert pnr.format_forms(number, dt.date(2125, 1, 1)) == [number, f"{number[:8]}-{number[8:]}"]


@given(hundredth_year_numbers())
def test_plus_form_reads_back_in_the_hundredth_year(case: tuple[str, dt.date]) -> None:
    number, reference = case
    assert pnr.normalise(f"{number[2:8]}+{number[8:]}", reference) == number
    assert pnr.format_forms(number, reference)[2:] == [f"{number[2:8]}+{number[8:]}"]


def test_born_on_the_reference_date_is_age_zero() -> None:
    number = pnr.generate(REFERENCE, 1)
    assert pnr.normalise(number[2:], REFERENCE) == number


def test_leap_day_rule() -> None:
    number = pnr.generate(dt.date(2000, 2, 29), 789)
    assert pnr.normalise(number[2:], REFERENCE) == number
    # The '+' form points to 1900-02-29, which does not exist.
    assert _problem(f"{number[2:8]}+{number[8:]}", REFERENCE) == "date"
    # Read on 2000-02-28 the birthday lies after the reference date: 1900 again, not a date.
    assert _problem(number[2:], dt.date(2000, 2, 28)) == "date"
    assert pnr.normalise(number[2:], dt.date(2000, 2, 29)) == number
    # 2004-02-29 read in 2103 (age 99) is valid; 2001-02-29 never is.
    leap = pnr.generate(dt.date(2004, 2, 29), 10)
    assert pnr.normalise(leap[2:], dt.date(2103, 3, 1)) == leap
    assert _problem("010229123" + pnr.luhn_check_digit("010229123"), REFERENCE) == "date"
    assert _problem("20010229123" + pnr.luhn_check_digit("010229123"), REFERENCE) == "date"


# --- rules and order of checks ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("", "format"),
        ("   ", "format"),
        ("12345a7890", "format"),
        ("123456--7890", "format"),
        ("12345-67890", "format"),
        ("1234567890-", "format"),
        ("-+1234", "format"),
        ("１２３４５６７８９０", "format"),
        ("-1234", "length"),
        ("123456789", "length"),
        ("12345678901", "length"),
        ("1234567890123", "length"),
        ("1234", "length"),
    ],
)
def test_format_and_length(value: str, code: str) -> None:
    assert _problem(value, REFERENCE) == code


def test_separator_in_a_12_digit_number_is_ignored() -> None:
    number = pnr.generate(dt.date(1920, 3, 4), 456)
    assert pnr.normalise(f"{number[:8]}+{number[8:]}", REFERENCE) == number


def test_date_before_checksum() -> None:
    # Month 13 with a wrong check digit is reported as a date problem (date is checked first).
    assert _problem("20131301123" + "0", REFERENCE) == "date"
    assert _problem("20131301123" + "1", REFERENCE) == "date"


@given(child_numbers())
def test_whitespace_of_any_kind_is_removed(case: tuple[str, dt.date]) -> None:
    number, reference = case
    spaced = f"\u00a0{number[:4]} {number[4:8]}\t-\u202f{number[8:]}\n"
    assert pnr.compact(spaced) == f"{number[:8]}-{number[8:]}"
    assert pnr.normalise(spaced, reference) == number


def test_luhn_check_digit_known_values() -> None:
    # Computed by hand: 8 1 1 2 1 8 9 8 7 -> weights 2 1 2 1 2 1 2 1 2
    # 16->7, 1, 2, 2, 2, 8, 18->9, 8, 14->5: total 44, check digit 6.
    assert pnr.luhn_check_digit("811218987") == "6"
    with pytest.raises(ValueError):
        pnr.luhn_check_digit("81121898")


def test_generate_rejects_bad_birth_numbers() -> None:
    with pytest.raises(ValueError):
        pnr.generate(REFERENCE, 0)
    with pytest.raises(ValueError):
        pnr.generate(REFERENCE, 1000)


def test_is_valid() -> None:
    number = pnr.generate(dt.date(2015, 1, 31), 42)
    assert pnr.is_valid(number, REFERENCE)
    assert not pnr.is_valid(number[:-1], REFERENCE)


def test_helpers_reject_unnormalised_input() -> None:
    with pytest.raises(pnr.PersonnummerError):
        pnr.legal_sex("1234567890")
    with pytest.raises(pnr.PersonnummerError) as caught:
        pnr.birth_date("201302301234")
    assert caught.value.code == "date"
    assert not any(char.isdigit() for char in str(caught.value))


def test_future_12_digit_number_has_only_12_digit_forms() -> None:
    number = pnr.generate(dt.date(2030, 1, 1), 5)
    assert pnr.format_forms(number, REFERENCE) == [number, f"{number[:8]}-{number[8:]}"]


@given(child_numbers())
def test_error_is_a_value_error(case: tuple[str, dt.date]) -> None:
    number, reference = case
    assume(number[-1] != "0")
    with pytest.raises(ValueError):
        pnr.normalise(number[:-1] + "0", reference)
