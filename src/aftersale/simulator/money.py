"""Currencies for the simulator: minor units, fixed exchange rates and exact decimal text."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "EUR_RATES",
    "EXPONENTS",
    "charm_price_minor",
    "convert_minor",
    "decimal_array",
    "format_major",
    "minor_from_eur",
]

EXPONENTS: Final[dict[str, int]] = {
    "AUD": 2,
    "CAD": 2,
    "CHF": 2,
    "DKK": 2,
    "EUR": 2,
    "GBP": 2,
    "INR": 2,
    "JPY": 0,
    "KWD": 3,
    "NOK": 2,
    "NZD": 2,
    "PLN": 2,
    "SEK": 2,
    "USD": 2,
}
"""ISO 4217 minor-unit exponent: amounts are stored as ``major * 10**exponent`` integers."""

EUR_RATES: Final[dict[str, float]] = {
    "AUD": 1.65,
    "CAD": 1.48,
    "CHF": 0.95,
    "DKK": 7.46,
    "EUR": 1.0,
    "GBP": 0.86,
    "INR": 90.0,
    "JPY": 162.0,
    "KWD": 0.33,
    "NOK": 11.6,
    "NZD": 1.8,
    "PLN": 4.3,
    "SEK": 11.4,
    "USD": 1.09,
}
"""Units of each currency per euro; fixed so that simulated prices never drift."""

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


def minor_from_eur(eur: FloatArray, currency: str) -> IntArray:
    """Convert euro amounts to whole minor units of ``currency`` (rounded half away from 0)."""
    scaled = np.asarray(eur, dtype=np.float64) * EUR_RATES[currency] * 10 ** EXPONENTS[currency]
    return np.asarray(np.sign(scaled) * np.floor(np.abs(scaled) + 0.5), dtype=np.int64)


def charm_price_minor(eur: FloatArray, currency: str) -> IntArray:
    """List prices as shops set them: x.99 / x.49 / x.00 endings, or tens for zero-decimal money."""
    exponent = EXPONENTS[currency]
    major = np.asarray(eur, dtype=np.float64) * EUR_RATES[currency]
    if exponent == 0:
        step = np.where(major >= 1_000, 100, 10)
        whole = np.maximum(np.round(major / step) * step, step) - np.where(major >= 1_000, 20, 0)
        return np.asarray(np.maximum(whole, 10), dtype=np.int64)
    unit = 10**exponent
    whole = np.maximum(np.floor(major), 1.0)
    frac = major - np.floor(major)
    cents = np.select(
        [frac < 0.25, frac < 0.7],
        [0.0, 0.49 * unit],
        default=0.99 * unit,
    )
    return np.asarray(whole * unit + np.round(cents), dtype=np.int64)


def convert_minor(amount_minor: IntArray, src: str, dst: str) -> IntArray:
    """Convert minor units between currencies through the fixed euro rates."""
    if src == dst:
        return np.asarray(amount_minor, dtype=np.int64)
    eur = np.asarray(amount_minor, dtype=np.float64) / 10 ** EXPONENTS[src] / EUR_RATES[src]
    return minor_from_eur(eur, dst)


_FRACTIONS: dict[int, pa.Array] = {}


def _fraction_pool(exponent: int) -> pa.Array:
    """Zero-padded fraction texts ``00`` .. ``99`` (or three digits), built once."""
    pool = _FRACTIONS.get(exponent)
    if pool is None:
        pool = pa.array([str(i).zfill(exponent) for i in range(10**exponent)], pa.string())
        _FRACTIONS[exponent] = pool
    return pool


def _format_fixed(minor: IntArray, exponent: int) -> pa.Array:
    """Exact decimal text for one exponent, e.g. 1250 -> '12.50', -5 -> '-0.05'."""
    minor = np.asarray(minor, dtype=np.int64)
    magnitude = np.abs(minor)
    unit = 10**exponent
    whole = pa.array(magnitude // unit).cast(pa.string())
    if exponent == 0:
        text = whole
    else:
        frac = _fraction_pool(exponent).take(pa.array(magnitude % unit))
        text = pc.binary_join_element_wise(whole, frac, ".")
    negative = minor < 0
    if negative.any():
        text = pc.if_else(pa.array(negative), pc.binary_join_element_wise("-", text, ""), text)
    return text


def format_major(minor: IntArray, exponents: int | Sequence[int] | IntArray) -> pa.Array:
    """Render minor-unit integers as exact decimal text in major units, row by row.

    ``exponents`` is one exponent for all rows or one per row (mixed-currency files).
    """
    minor = np.asarray(minor, dtype=np.int64)
    if isinstance(exponents, int):
        return _format_fixed(minor, exponents)
    exps = np.asarray(exponents, dtype=np.int64)
    distinct = np.unique(exps)
    if len(distinct) == 0:
        return pa.array([], pa.string())
    if len(distinct) == 1:
        return _format_fixed(minor, int(distinct[0]))
    text = _format_fixed(minor, int(distinct[0]))
    for exp in distinct[1:]:
        text = pc.if_else(pa.array(exps == exp), _format_fixed(minor, int(exp)), text)
    return text


def decimal_array(minor: IntArray, exponents: IntArray | int, scale: int) -> pa.Array:
    """Exact ``decimal128(18, scale)`` array in major units for parquet files."""
    minor = np.asarray(minor, dtype=np.int64)
    shift = scale - np.asarray(exponents, dtype=np.int64)
    if np.any(shift < 0):
        raise ValueError("scale is smaller than a currency exponent")
    unscaled = minor * (10**shift)
    words = np.empty((len(unscaled), 2), dtype="<i8")
    words[:, 0] = unscaled
    words[:, 1] = np.where(unscaled < 0, -1, 0)
    buffer = pa.py_buffer(np.ascontiguousarray(words).tobytes())
    return pa.Array.from_buffers(pa.decimal128(18, scale), len(unscaled), [None, buffer])
