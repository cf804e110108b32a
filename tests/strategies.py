"""Reusable hypothesis strategies for personnummer and samordningsnummer.

Every number is generated with ``personnummer.generate`` from a random birth date and birth number:
fixtures never contain numbers copied from the web (some published examples belong to real people).
"""

from __future__ import annotations

import datetime as dt

from hypothesis import strategies as st

from pipelines.stage2_pseudonymise.personnummer import WHITESPACE, format_forms, generate, luhn_check_digit

MIN_REFERENCE = dt.date(1950, 1, 1)
MAX_REFERENCE = dt.date(2100, 12, 31)


def reference_dates() -> st.SearchStrategy[dt.date]:
    """Report dates wide enough to cross 1999/2000 and 2099/2100."""
    return st.dates(MIN_REFERENCE, MAX_REFERENCE)


def _years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February in a non-leap year
        return day.replace(year=day.year - years, day=28)


@st.composite
def child_numbers(
    draw: st.DrawFn, reference_date: dt.date | None = None, coordination: bool | None = None
) -> tuple[str, dt.date]:
    """(valid 12-digit number, reference date) for a child aged 0-17 at the reference date."""
    reference = reference_date if reference_date is not None else draw(reference_dates())
    earliest = _years_before(reference, 18) + dt.timedelta(days=1)
    birth = draw(st.dates(earliest, reference))
    is_coordination = draw(st.booleans()) if coordination is None else coordination
    return generate(birth, draw(st.integers(1, 999)), is_coordination), reference


def coordination_numbers(reference_date: dt.date | None = None) -> st.SearchStrategy[tuple[str, dt.date]]:
    """(valid 12-digit samordningsnummer, reference date) for a child."""
    return child_numbers(reference_date, coordination=True)


@st.composite
def people_numbers(draw: st.DrawFn) -> tuple[str, dt.date]:
    """(valid 12-digit number, reference date) for anyone aged 0-199, so '+' forms occur too."""
    reference = draw(reference_dates())
    birth = draw(st.dates(_years_before(reference, 199), reference))
    return generate(birth, draw(st.integers(1, 999)), draw(st.booleans())), reference


@st.composite
def hundredth_year_numbers(draw: st.DrawFn) -> tuple[str, dt.date]:
    """(valid 12-digit number, reference date) for someone in the calendar year of their 100th birthday.

    The reference date is anywhere in that year, before or after the birthday: the person writes '+'
    all year (Skatteverket's rule), so the '+' form must read back throughout.
    """
    reference = draw(reference_dates())
    first = dt.date(reference.year - 100, 1, 1)
    birth = draw(st.dates(first, first.replace(month=12, day=31)))
    return generate(birth, draw(st.integers(1, 999)), draw(st.booleans())), reference


def _sprinkle_whitespace(draw: st.DrawFn, text: str) -> str:
    """Insert whitespace (incl. no-break and ideographic spaces) at random positions."""
    chars = list(text)
    for _ in range(draw(st.integers(0, 3))):
        position = draw(st.integers(0, len(chars)))
        chars.insert(position, draw(st.sampled_from(WHITESPACE)))
    return "".join(chars)


@st.composite
def written_forms(draw: st.DrawFn, number: str, reference_date: dt.date) -> str:
    """One written form of ``number`` as of ``reference_date``, possibly with stray whitespace."""
    return _sprinkle_whitespace(draw, draw(st.sampled_from(format_forms(number, reference_date))))


@st.composite
def valid_values(draw: st.DrawFn) -> tuple[str, dt.date]:
    """(some written form of a valid number, reference date)."""
    number, reference = draw(st.one_of(child_numbers(), people_numbers(), hundredth_year_numbers()))
    return draw(written_forms(number, reference)), reference


def _with_check_digit(first_nine_or_eleven: str) -> str:
    return first_nine_or_eleven + luhn_check_digit(first_nine_or_eleven[-9:])


@st.composite
def _wrong_check_digit(draw: st.DrawFn) -> str:
    number, reference = draw(child_numbers())
    wrong = draw(st.sampled_from([d for d in "0123456789" if d != number[-1]]))
    return draw(written_forms(number[:-1] + wrong, reference))


@st.composite
def _bad_date(draw: st.DrawFn) -> str:
    """Correct Luhn digit but an impossible date: month 0/13, day 0/32/60/92, 29 Feb off leap years."""
    year = draw(st.integers(1900, 2099))
    month, day = draw(
        st.sampled_from([(0, 10), (13, 10), (99, 1), (1, 0), (1, 32), (4, 31), (6, 60), (6, 92), (2, 30)])
        | st.just((2, 29 if year % 4 else 30))
        | st.just((2, 89 if year % 4 else 90))  # samordningsnummer version of the same
    )
    eleven = f"{year:04d}{month:02d}{day:02d}{draw(st.integers(0, 999)):03d}"
    number = _with_check_digit(eleven)
    return draw(st.sampled_from([number, number[2:], f"{number[2:8]}-{number[8:]}"]))


@st.composite
def _wrong_length(draw: st.DrawFn) -> str:
    number, _ = draw(child_numbers())
    digits = draw(st.sampled_from([number[:-1], number[1:], number + "0", number[2:-1], number[3:], ""]))
    digits = digits or draw(st.text("0123456789", max_size=20))
    if len(digits) >= 4 and draw(st.booleans()):
        return f"{digits[:-4]}{draw(st.sampled_from('-+'))}{digits[-4:]}"
    return digits


_STRAY = "ABCabcåäöÅÄÖ/._,:;*#'\"\u200b\u2013\u2212１٣߀\x00é"


@st.composite
def _stray_characters(draw: st.DrawFn) -> str:
    """A valid written form with one character inserted or replaced, or the separator misplaced."""
    number, reference = draw(child_numbers())
    text = draw(written_forms(number, reference))
    position = draw(st.integers(0, len(text)))
    stray = draw(st.sampled_from(_STRAY + "-+"))
    kind = draw(st.sampled_from(["insert", "replace", "double_separator"]))
    if kind == "insert":
        return text[:position] + stray + text[position:]
    if kind == "replace" and text:
        position = min(position, len(text) - 1)
        return text[:position] + stray + text[position + 1 :]
    return f"{number[2:8]}--{number[8:]}"


def nasty_strings() -> st.SearchStrategy[str]:
    """Near misses: wrong check digit, bad date, wrong length, stray characters, blanks, junk."""
    return st.one_of(
        _wrong_check_digit(),
        _bad_date(),
        _wrong_length(),
        _stray_characters(),
        st.text(WHITESPACE, max_size=3),
        st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=16),
    )


@st.composite
def mixed_values(draw: st.DrawFn) -> tuple[str | None, dt.date]:
    """(value, reference date): valid forms, near misses and the odd NULL."""
    value = draw(st.one_of(valid_values().map(lambda pair: pair[0]), nasty_strings(), st.none()))
    return value, draw(reference_dates())
