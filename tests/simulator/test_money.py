"""Money helpers: exact decimal text, decimals for parquet, shop-like list prices."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from aftersale.simulator.money import (
    EXPONENTS,
    charm_price_minor,
    convert_minor,
    decimal_array,
    format_major,
    minor_from_eur,
)


def test_format_major_per_row_exponents() -> None:
    text = format_major(np.array([1250, -5, 0, 1200, -100_000]), [2, 2, 2, 0, 3]).to_pylist()
    assert text == ["12.50", "-0.05", "0.00", "1200", "-100.000"]


@given(
    st.lists(st.integers(-(10**12), 10**12), min_size=1, max_size=30), st.sampled_from([0, 2, 3])
)
def test_format_major_is_exact(values: list[int], exponent: int) -> None:
    text = format_major(np.array(values, dtype=np.int64), exponent).to_pylist()
    assert [Decimal(t) * 10**exponent for t in text] == [Decimal(v) for v in values]


def test_decimal_array_keeps_exact_values() -> None:
    arr = decimal_array(np.array([1250, -5, 1200]), np.array([2, 2, 0]), 2)
    assert arr.to_pylist() == [Decimal("12.50"), Decimal("-0.05"), Decimal("1200.00")]


def test_zero_decimal_currency_prices_are_whole_tens() -> None:
    prices = charm_price_minor(np.array([0.5, 9.99, 12.3, 250.0]), "JPY")
    assert EXPONENTS["JPY"] == 0
    assert np.all(prices % 10 == 0)
    assert np.all(prices >= 10)


def test_two_decimal_prices_end_like_shop_prices() -> None:
    prices = charm_price_minor(np.linspace(1, 300, 500), "GBP")
    assert set(np.unique(prices % 100)) <= {0, 49, 99}


def test_conversion_goes_through_fixed_rates() -> None:
    assert minor_from_eur(np.array([1.0]), "JPY")[0] == 162
    assert convert_minor(np.array([1000]), "EUR", "EUR")[0] == 1000
    assert convert_minor(np.array([100]), "EUR", "GBP")[0] == 86
