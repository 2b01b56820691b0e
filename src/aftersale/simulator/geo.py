"""Where simulated customers live: countries, IANA zones, names, phones, postcodes and tax."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from aftersale.simulator.names import name_pools

__all__ = [
    "COUNTRIES",
    "ZONES",
    "Country",
    "ascii_fold",
    "fill_pattern",
    "name_pools",
]


@dataclass(frozen=True, slots=True)
class Country:
    """One country customers come from, with what the simulator needs to fake their details."""

    code: str
    name: str
    weight: float
    zones: tuple[tuple[str, float], ...]
    calling_code: str
    mobile_prefix: str
    mobile_digits: int
    zip_pattern: str
    tax_rate: float
    currency: str
    locale: str
    names: str


# fmt: off
COUNTRIES: Final[tuple[Country, ...]] = (
    # code, invoice name, weight, zones (weight), calling code, mobile prefix, digits,
    # postcode pattern, tax rate, currency, locale, name group
    Country("GB", "United Kingdom", 0.34, (("Europe/London", 1.0),), "44", "7400", 6,
            "LLd dLL", 0.2, "GBP", "en-GB", "en"),
    Country("IE", "EIRE", 0.04, (("Europe/Dublin", 1.0),), "353", "850", 6,
            "Ldd LdLd", 0.23, "EUR", "en-IE", "en"),
    Country("DE", "Germany", 0.1, (("Europe/Berlin", 1.0),), "49", "15123", 6,
            "ddddd", 0.19, "EUR", "de-DE", "de"),
    Country("FR", "France", 0.07, (("Europe/Paris", 1.0),), "33", "612", 6,
            "ddddd", 0.2, "EUR", "fr-FR", "fr"),
    Country("NL", "Netherlands", 0.05, (("Europe/Amsterdam", 1.0),), "31", "612", 6,
            "dddd LL", 0.21, "EUR", "nl-NL", "nl"),
    Country("ES", "Spain", 0.04, (("Europe/Madrid", 1.0),), "34", "612", 6,
            "ddddd", 0.21, "EUR", "es-ES", "es"),
    Country("IT", "Italy", 0.04, (("Europe/Rome", 1.0),), "39", "3123", 6,
            "ddddd", 0.22, "EUR", "it-IT", "it"),
    Country("SE", "Sweden", 0.03, (("Europe/Stockholm", 1.0),), "46", "701", 6,
            "ddd dd", 0.25, "SEK", "sv-SE", "sv"),
    Country("AT", "Austria", 0.02, (("Europe/Vienna", 1.0),), "43", "664", 6,
            "dddd", 0.2, "EUR", "de-AT", "de"),
    Country("BE", "Belgium", 0.02, (("Europe/Brussels", 1.0),), "32", "450", 6,
            "dddd", 0.21, "EUR", "fr-BE", "fr"),
    Country("CH", "Switzerland", 0.02, (("Europe/Zurich", 1.0),), "41", "781", 6,
            "dddd", 0.081, "CHF", "de-CH", "de"),
    Country("US", "USA", 0.12,
            (("America/New_York", 0.45), ("America/Chicago", 0.2), ("America/Denver", 0.08),
             ("America/Los_Angeles", 0.27)),
            "1", "2015", 6, "ddddd", 0.07, "USD", "en-US", "en"),
    Country("CA", "Canada", 0.03,
            (("America/Toronto", 0.6), ("America/Vancouver", 0.4)),
            "1", "5062", 6, "LdL dLd", 0.13, "CAD", "en-CA", "en"),
    Country("AU", "Australia", 0.03,
            (("Australia/Sydney", 0.7), ("Australia/Perth", 0.3)),
            "61", "412", 6, "dddd", 0.1, "AUD", "en-AU", "en"),
    Country("NZ", "New Zealand", 0.01, (("Pacific/Auckland", 1.0),), "64", "211", 6,
            "dddd", 0.15, "NZD", "en-NZ", "en"),
    Country("JP", "Japan", 0.02, (("Asia/Tokyo", 1.0),), "81", "9012", 6,
            "ddd-dddd", 0.1, "JPY", "ja-JP", "ja"),
    Country("IN", "India", 0.02, (("Asia/Kolkata", 1.0),), "91", "8123", 6,
            "dddddd", 0.18, "INR", "en-IN", "in"),
)
# fmt: on
"""Customer countries with weights summing to 1; ``name`` is how invoice exports spell it."""

ZONES: Final[tuple[str, ...]] = tuple(z for c in COUNTRIES for z, _ in c.zones)
"""Every IANA zone a customer can have; zone indexes in the simulator point into this."""


def ascii_fold(text: str) -> str:
    """Lower-case ASCII form of a name for email addresses (Müller -> muller)."""
    decomposed = unicodedata.normalize("NFKD", text.replace("ß", "ss"))
    kept = "".join(ch for ch in decomposed if ch.isascii() and (ch.isalnum()))
    return kept.lower()


_LETTERS: Final[bytes] = b"ABCDEFGHJKLMNPRSTUVWXY"
_DIGITS: Final[bytes] = b"0123456789"


def fill_pattern(pattern: str, rng: np.random.Generator, n: int) -> npt.NDArray[np.str_]:
    """Fill ``d`` with random digits and ``L`` with letters, ``n`` times (vectorised)."""
    width = len(pattern)
    if n == 0 or width == 0:
        return np.full(n, pattern, dtype=f"<U{max(width, 1)}")
    chars = np.empty((n, width), dtype=np.uint8)
    draws = rng.random((n, width))
    digits = np.frombuffer(_DIGITS, dtype=np.uint8)
    letters = np.frombuffer(_LETTERS, dtype=np.uint8)
    for i, ch in enumerate(pattern):
        if ch == "d":
            chars[:, i] = digits[(draws[:, i] * len(digits)).astype(np.int64)]
        elif ch == "L":
            chars[:, i] = letters[(draws[:, i] * len(letters)).astype(np.int64)]
        else:
            chars[:, i] = ord(ch)
    return chars.view(f"S{width}").ravel().astype(f"<U{width}")
