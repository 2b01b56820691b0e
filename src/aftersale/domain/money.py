"""Money as integer minor units of an ISO 4217 currency, with the currency's own exponent.

JPY has no minor unit, KWD has three decimals; amounts never pass through floats.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from functools import lru_cache

from babel.numbers import get_currency_precision, list_currencies

__all__ = [
    "currency_exponent",
    "is_known_currency",
    "known_currencies",
    "to_major",
    "to_minor",
]


@lru_cache(maxsize=1)
def known_currencies() -> frozenset[str]:
    """Return the ISO 4217 codes aftersale accepts (CLDR's list, upper case)."""
    return frozenset(code.upper() for code in list_currencies())


def is_known_currency(code: str) -> bool:
    """Return True when ``code`` is a known ISO 4217 currency code."""
    return code.upper() in known_currencies()


@lru_cache(maxsize=512)
def currency_exponent(code: str) -> int:
    """Return the number of minor-unit digits of ``code`` (USD 2, JPY 0, KWD 3)."""
    upper = code.upper()
    if upper not in known_currencies():
        raise ValueError(f"unknown currency {code!r}; expected an ISO 4217 code such as EUR")
    return int(get_currency_precision(upper))


def to_minor(amount: str | Decimal | int, currency: str) -> int:
    """Convert a major-unit amount (``"12.34"``) to minor units, rounding half to even."""
    try:
        value = Decimal(amount) if not isinstance(amount, Decimal) else amount
    except InvalidOperation as exc:
        raise ValueError(f"{amount!r} is not a number") from exc
    scaled = value.scaleb(currency_exponent(currency))
    return int(scaled.quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def to_major(amount_minor: int, currency: str) -> Decimal:
    """Convert minor units back to an exact major-unit Decimal."""
    return Decimal(amount_minor).scaleb(-currency_exponent(currency))
