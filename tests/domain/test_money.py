"""Money: currency exponents and exact conversion between major and minor units."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aftersale.domain.money import currency_exponent, is_known_currency, to_major, to_minor


@pytest.mark.parametrize(
    ("code", "exponent"), [("USD", 2), ("EUR", 2), ("JPY", 0), ("KWD", 3), ("gbp", 2)]
)
def test_exponent_follows_the_currency(code: str, exponent: int) -> None:
    assert currency_exponent(code) == exponent


def test_unknown_currency_is_named() -> None:
    assert not is_known_currency("XYZ")
    with pytest.raises(ValueError, match="unknown currency 'XYZ'"):
        currency_exponent("XYZ")


def test_to_minor_rounds_half_to_even() -> None:
    assert to_minor("0.125", "USD") == 12
    assert to_minor("0.135", "USD") == 14
    assert to_minor("1234", "JPY") == 1234
    assert to_minor("1.2345", "KWD") == 1234


@given(st.integers(-(10**12), 10**12), st.sampled_from(["USD", "JPY", "KWD", "EUR", "BHD", "CLP"]))
def test_minor_major_round_trip(amount: int, code: str) -> None:
    assert to_minor(to_major(amount, code), code) == amount
    assert isinstance(to_major(amount, code), Decimal)
