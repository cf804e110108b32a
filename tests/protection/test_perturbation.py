"""The perturbation table and the cell-key lookup (``perturbation.py``), and the cell-key rules."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.stage5_protection import cells as c
from pipelines.stage5_protection.cell_key import Parameters, check_consistency, check_table, perturb
from pipelines.stage5_protection.perturbation import KEY_MODULUS, build_ptable, noise
from pipelines.stage5_protection.primary import Rules

PARAMS = Parameters.from_spec()
TABLE = PARAMS.ptable()


def test_every_row_is_a_distribution_with_mean_zero_and_the_configured_variance() -> None:
    n = TABLE.noises
    assert TABLE.probs[0, TABLE.max_noise] == 1.0  # no reports, no noise
    for x in range(1, TABLE.max_noise + 1):
        row = TABLE.probs[x]
        assert abs(row.sum() - 1) < 1e-12
        assert abs(row @ n) < 1e-9, x  # unbiased
        assert abs(row @ n**2 - PARAMS.variance) < 0.01, x
        support = n[row > 0]
        # every published value x + n >= 0 is possible, and nothing else
        assert support.min() == -min(x, TABLE.max_noise) and support.max() == TABLE.max_noise
        assert row[row > 0].min() >= PARAMS.floor * 0.99


def test_the_bottom_band_is_rare_and_above_one_key_step() -> None:
    assert PARAMS.bottom_band_probability(4.0) < 5e-8
    assert PARAMS.floor > 1 / KEY_MODULUS  # every noise of the support is drawn by some key


def test_uniform_keys_draw_the_row_s_distribution() -> None:
    rng = np.random.default_rng(5)
    keys = rng.integers(0, 2**40, 200_000)
    drawn = noise(TABLE, np.full(len(keys), 30), keys)
    frequencies = pd.Series(drawn).value_counts(normalize=True)
    expected = pd.Series(TABLE.probs[TABLE.max_noise], index=TABLE.noises)
    for value in range(-3, 4):
        assert abs(frequencies.get(value, 0) - expected[value]) < 0.005, value


@settings(max_examples=200, deadline=None)
@given(
    counts=st.lists(st.integers(0, 10_000), min_size=1, max_size=50),
    keys=st.lists(st.integers(-(2**62), 2**62), min_size=50, max_size=50),
)
def test_a_draw_is_bounded_never_negative_and_depends_only_on_count_and_key(counts, keys) -> None:
    counts = np.array(counts)
    keys = np.array(keys[: len(counts)], dtype=np.int64)
    drawn = noise(TABLE, counts, keys)
    assert (np.abs(drawn) <= TABLE.max_noise).all() and (counts + drawn >= 0).all()
    assert (drawn[counts == 0] == 0).all()
    again = noise(TABLE, counts, keys + KEY_MODULUS)  # the key is the sum modulo 2^32
    assert (again == drawn).all()


def test_a_ptable_of_other_parameters_is_another_table() -> None:
    other = build_ptable(16, 1.0, 1e-9)
    assert abs(other.probs[10] @ other.noises**2 - 1.0) < 0.01
    assert not np.allclose(other.probs, TABLE.probs)


def _cells(values: list[int], keys: list[int]) -> pd.DataFrame:
    return pd.DataFrame({c.VALUE: values, c.KEY: keys})


def test_published_values_one_to_four_are_hidden_and_the_checks_pass() -> None:
    rng = np.random.default_rng(2)
    frame = _cells(rng.integers(0, 40, 5000).tolist(), rng.integers(0, 2**50, 5000).tolist())
    rules = Rules()
    table = perturb(frame, rules, PARAMS)
    assert (table.mask == ((table.shown >= 1) & (table.shown <= 4))).all()
    assert table.mask.any() and not check_table("t", frame, table, rules, PARAMS)


def test_the_checks_catch_a_bottom_band_noise_and_unequal_values_for_equal_reports() -> None:
    frame = _cells([20, 20], [7, 7])
    rules = Rules()
    table = perturb(frame, rules, PARAMS)
    table.shown[0] = 20 - 10  # a noise of -10: in the bottom band (below -8)
    assert any("bottom band" in p for p in check_table("t", frame, table, rules, PARAMS))
    assert check_consistency({"t": frame}, {"t": table})
