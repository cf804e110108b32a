"""Swedish personnummer and samordningsnummer: the reference implementation.

This module is the specification that the vectorised DuckDB version in ``personnummer_sql`` must match
exactly (the tests check that on generated data). It is written in the style of python-stdnum
(``compact`` / ``validate``-like ``normalise`` / ``is_valid``) but does not depend on it: stdnum rejects
samordningsnummer and neither stdnum nor the ``personnummer`` package infers the century from a
reference date, which a historical backfill needs.

Rules, checked in this order; the first one that fails gives the error ``code``:

1. ``format``: after removing whitespace (exactly the characters for which ``str.isspace()`` is true,
   see ``WHITESPACE``), the value is ASCII digits with at most one separator ``-`` or ``+`` standing
   immediately before the last four digits. An empty value is a ``format`` error here (the SQL version
   reports it as ``pnr_empty`` instead).
2. ``length``: 10 or 12 digits.
3. century: 12 digits give the century (a separator is then ignored). For 10 digits:

   * ``-`` or no separator: the year is the latest year <= the reference year ending in YY whose
     birthday (month, day) is not after the reference date, i.e. the person is under 100 at the
     reference date.
   * ``+``: Skatteverket writes ``+`` from the calendar year the person turns 100, so the year is the
     latest year <= (reference year - 100) ending in YY, with no month/day comparison. Someone born
     1925-12-01 writes ``251201+NNNC`` all through 2025, before and after the birthday, and it reads
     back as 1925 on any date of 2025.

   Both forms are then valid in the year of the 100th birthday, before the birthday: the ``-`` form
   also still reads back as the same person (1925 on 2025-06-01). After the birthday only ``+`` does.

   Leap day: when YY is the reference year's, the century of a ``-`` form is chosen by comparing
   (month, day) with the reference date's (month, day), never by building a date in a candidate year.
   29 February is then checked in the year that was chosen: ``000229-NNNC`` read on 2025-06-01 is
   2000-02-29 (valid), but its ``+`` form is 1900-02-29, which does not exist, so it is a ``date``
   error; read on 2000-02-28 the birthday is still to come, so it is 1900-02-29 and a ``date`` error
   as well. ``YY0229`` with YY not divisible by 4 is a ``date`` error in every century. The rule is
   deterministic and is plain integer arithmetic in SQL.
4. ``date``: the birth date (for samordningsnummer, day 61-91 means day 1-31) is a real date in the
   years 1-9999.
5. ``checksum``: the Luhn check digit over YYMMDDNNN (the last ten digits without the check digit).

Error messages never contain the input or any of its digits: they end up in logs.
"""

from __future__ import annotations

import datetime as dt
import re

__all__ = [
    "WHITESPACE",
    "PersonnummerError",
    "birth_date",
    "compact",
    "format_forms",
    "generate",
    "is_coordination_number",
    "is_valid",
    "legal_sex",
    "luhn_check_digit",
    "mask",
    "normalise",
]

# Exactly the characters for which str.isspace() is true, spelled out so that the SQL version can use
# the same class (RE2's \s is ASCII-only and would disagree on e.g. a no-break space from Excel).
WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
    "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
_WHITESPACE_RE = re.compile("[" + re.escape(WHITESPACE) + "]+")
_FORMAT_RE = re.compile(r"[0-9]+|[0-9]*[-+][0-9]{4}")
# Any Unicode decimal digit, not only 0-9: a masked value must not leak e.g. full-width digits.
_ANY_DIGIT_RE = re.compile(r"\d")
_COORDINATION_OFFSET = 60
_ERROR_MESSAGES = {
    "format": "not a personnummer: only digits and one '-' or '+' before the last four digits allowed",
    "length": "not a personnummer: it must have ten or twelve digits",
    "date": "not a personnummer: the digits do not give a real birth date",
    "checksum": "not a personnummer: the check digit is wrong",
}


class PersonnummerError(ValueError):
    """Invalid personnummer. ``code`` is "format", "length", "date" or "checksum".

    The message is fixed per code and never contains the value, so it is safe to log.
    """

    def __init__(self, code: str) -> None:
        if code not in _ERROR_MESSAGES:
            raise ValueError(f"unknown PersonnummerError code {code!r}")
        super().__init__(_ERROR_MESSAGES[code])
        self.code = code


def compact(value: str) -> str:
    """Remove all whitespace (see ``WHITESPACE``)."""
    return _WHITESPACE_RE.sub("", value)


def mask(value: str) -> str:
    """Replace every digit with 'X', for messages and previews.

    A digit is any Unicode decimal digit (category Nd: str.isdecimal, regex \\d), not only 0-9, so
    e.g. full-width digits are hidden too. Everything else, letters included, is kept.
    """
    return _ANY_DIGIT_RE.sub("X", value)


def luhn_check_digit(nine_digits: str) -> str:
    """The Luhn check digit over YYMMDDNNN (weights 2,1,2,1,... from the left)."""
    if len(nine_digits) != 9 or not (nine_digits.isascii() and nine_digits.isdigit()):
        raise ValueError("luhn_check_digit needs exactly nine ASCII digits")
    total = 0
    for position, char in enumerate(nine_digits):
        product = int(char) * (2 if position % 2 == 0 else 1)
        total += product // 10 + product % 10
    return str((10 - total % 10) % 10)


def _days_in_month(year: int, month: int) -> int:
    if month == 2:
        leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
        return 29 if leap else 28
    return 30 if month in (4, 6, 9, 11) else 31


def _infer_year(yy: int, month: int, day: int, plus: bool, reference_date: dt.date) -> int:
    """Full year of a 10-digit number: see rule 3 and the leap-day note in the module docstring."""
    if plus:
        # '+' from the calendar year of the 100th birthday: no month/day comparison.
        latest = reference_date.year - 100
        return latest - (latest - yy) % 100
    year = reference_date.year - (reference_date.year - yy) % 100
    if year == reference_date.year and (month, day) > (reference_date.month, reference_date.day):
        year -= 100  # the birthday is still to come this year: born in the previous century
    return year


def normalise(value: str, reference_date: dt.date) -> str:
    """Return the 12-digit form YYYYMMDDNNNC, or raise PersonnummerError (see module docstring)."""
    text = compact(value)
    if not _FORMAT_RE.fullmatch(text):
        raise PersonnummerError("format")
    digits = text.replace("-", "").replace("+", "")
    if len(digits) not in (10, 12):
        raise PersonnummerError("length")
    month, raw_day = int(digits[-8:-6]), int(digits[-6:-4])
    day = raw_day - _COORDINATION_OFFSET if raw_day > _COORDINATION_OFFSET else raw_day
    if len(digits) == 12:
        year = int(digits[:4])
    else:
        year = _infer_year(int(digits[:2]), month, day, "+" in text, reference_date)
    if not (1 <= year <= 9999 and 1 <= month <= 12 and 1 <= day <= _days_in_month(year, month)):
        raise PersonnummerError("date")
    if luhn_check_digit(digits[-10:-1]) != digits[-1]:
        raise PersonnummerError("checksum")
    return f"{year:04d}{digits[-8:]}"


def is_valid(value: str, reference_date: dt.date) -> bool:
    """True when ``normalise`` accepts the value."""
    try:
        normalise(value, reference_date)
    except PersonnummerError:
        return False
    return True


def _check_normalised(normalised12: str) -> None:
    if len(normalised12) != 12 or not (normalised12.isascii() and normalised12.isdigit()):
        raise PersonnummerError("format")


def is_coordination_number(normalised12: str) -> bool:
    """True for a samordningsnummer (day 61-91)."""
    _check_normalised(normalised12)
    return int(normalised12[6:8]) > _COORDINATION_OFFSET


def birth_date(normalised12: str) -> dt.date:
    """The real birth date (samordningsnummer: day minus 60)."""
    _check_normalised(normalised12)
    day = int(normalised12[6:8])
    if day > _COORDINATION_OFFSET:
        day -= _COORDINATION_OFFSET
    try:
        return dt.date(int(normalised12[:4]), int(normalised12[4:6]), day)
    except ValueError:
        raise PersonnummerError("date") from None  # the stdlib message would contain the digits


def legal_sex(normalised12: str) -> str:
    """SCB code of legal sex: "1" male (second-to-last digit odd), "2" female (even)."""
    _check_normalised(normalised12)
    return "1" if int(normalised12[-2]) % 2 == 1 else "2"


def _age(born: dt.date, on: dt.date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def format_forms(normalised12: str, reference_date: dt.date) -> list[str]:
    """Every written form of the number as of the reference date.

    Always the 12-digit forms without and with '-'. The 10-digit forms are included only when the
    person is born on or before the reference date and they read back to the same number:

    * under 100 years of age: the plain form and the '-' form;
    * from the calendar year of the 100th birthday (reference year - birth year >= 100) up to the
      calendar year of the 199th: only the '+' form, which is how the person writes it. (Before the
      birthday in the 100th year the '-' form still reads back too, but it is no longer how the
      number is written.)
    """
    born = birth_date(normalised12)
    short = normalised12[2:]
    forms = [normalised12, f"{normalised12[:8]}-{normalised12[8:]}"]
    if born > reference_date:
        return forms
    calendar_age = reference_date.year - born.year
    if calendar_age >= 100:
        if calendar_age < 200:
            forms.append(f"{short[:6]}+{short[6:]}")
    else:
        forms.append(short)  # no separator reads as '-'
        forms.append(f"{short[:6]}-{short[6:]}")
    return forms


def generate(birth: dt.date, birth_number: int, coordination: bool = False) -> str:
    """A valid 12-digit number (synthetic data for tests and demos only)."""
    if not 1 <= birth_number <= 999:
        raise ValueError("birth_number must be 1-999")
    day = birth.day + _COORDINATION_OFFSET if coordination else birth.day
    nine = f"{birth.year % 100:02d}{birth.month:02d}{day:02d}{birth_number:03d}"
    return f"{birth.year:04d}{nine[2:]}{luhn_check_digit(nine)}"
