"""Figures formatted the Swedish way read back as the number they show; symbols pass through unchanged."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pipelines.core.schemas import publishing_spec
from pipelines.stage6_publishing.release_tables import NBSP, formatted


def _read_back(text: str, fmt: str) -> float:
    spec = publishing_spec()["formats"][fmt]
    number = text.removesuffix(spec.get("suffix", "").replace(" ", NBSP)).replace(NBSP, "").replace(",", ".")
    return float(number) / spec.get("scale", 1)


@given(
    value=st.floats(0, 10_000_000, allow_nan=False),
    fmt=st.sampled_from(["count", "ratio", "decimal1", "percent"]),
)
def test_a_formatted_figure_reads_back_within_its_rounding(value: float, fmt: str) -> None:
    text = formatted(value, "", fmt)
    spec = publishing_spec()["formats"][fmt]
    assert "." not in text and " " not in text  # decimal comma, non-breaking spaces between thousands
    assert abs(_read_back(text, fmt) - value) <= 0.5 * 10 ** -spec["decimals"] / spec.get("scale", 1) + 1e-9


@given(value=st.one_of(st.none(), st.integers(0, 10**6)), status=st.sampled_from(["..", "-", "."]))
def test_a_hidden_figure_shows_its_symbol_whatever_the_value(value, status: str) -> None:
    assert formatted(value, status, "count") == status


def test_a_missing_value_without_a_status_is_shown_as_missing() -> None:
    assert formatted(None, "", "percent") == "-" and formatted(float("nan"), "", "count") == "-"
