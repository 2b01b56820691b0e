"""Vectorised parsers for one kind of value each: money, timestamps, phones, zones, JSON.

Each returns polars expressions (the value, the error, counters) so the normaliser can evaluate
every field of a chunk in one pass. Errors are small integer codes handed out by
:class:`ErrorCodes` (cheap to evaluate on every row); the text naming the value is built only for
the rows that failed.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
import polars as pl

from aftersale.ingestion.schema import Field

__all__ = [
    "ERROR_TYPE",
    "PLAIN_MONEY",
    "TIMESTAMP_FORMATS",
    "ErrorCodes",
    "ErrorFactory",
    "ParseOptions",
    "e164",
    "err",
    "exponent_expr",
    "formats_seen",
    "is_json",
    "is_zone",
    "parse_money",
    "parse_phone",
    "parse_plain_money",
    "parse_timestamp",
    "timestamp_probes",
]

TIMESTAMP_FORMATS: tuple[str, ...] = (
    "%Y-%m-%d %H:%M:%S%.f%#z",
    "%Y-%m-%d %H:%M:%S %#z",
    "%Y-%m-%d %H:%M%#z",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y",
    "%d.%m.%Y %H:%M:%S",
    "%d.%m.%Y %H:%M",
    "%d.%m.%Y",
)


_DAYFIRST = {
    "%m/%d/%Y %H:%M:%S": "%d/%m/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M": "%d/%m/%Y %H:%M",
    "%m/%d/%Y": "%d/%m/%Y",
}


PLAIN_MONEY = r"^-?\d{1,14}(\.\d{0,4})?$"
_EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)  # years before 1900 are implausible
_AFTER_LATEST = datetime(2201, 1, 1, tzinfo=UTC)  # and so are years after 2200

ERROR_TYPE = pl.Struct({"field": pl.String, "reason": pl.String, "detail": pl.String})
"""The type of an error: which field, the reason code and a detail naming the value."""

ErrorFactory = Callable[[str, str, pl.Expr], pl.Expr]
"""``(field, reason, value) -> error expression``: :func:`err` or an :class:`ErrorCodes`."""


@dataclass(frozen=True, slots=True)
class ParseOptions:
    """How to read values of one file (from the mapping's ``[options]`` and settings)."""

    time_zone: str = "UTC"
    timestamp_format: str | None = None
    dayfirst: bool = False
    decimal: str = "."
    default_currency: str | None = None
    max_field_chars: int = 65_536
    default_region: str | None = None
    exhaustive: bool = False  # try every timestamp format on every value (second pass)


def err(field_name: str, reason: str, value: pl.Expr) -> pl.Expr:
    """The error struct of one check: field, reason and a detail naming the value."""
    return pl.struct(
        pl.lit(field_name).alias("field"),
        pl.lit(reason).alias("reason"),
        pl.format(
            "{}: {} ({})",
            pl.lit(field_name),
            pl.lit(reason.replace("_", " ")),
            value.fill_null("blank").str.slice(0, 80),
        ).alias("detail"),
    )


@dataclass(slots=True)
class ErrorCodes:
    """An error factory handing out integer codes; :meth:`describe` turns codes into errors.

    Checks are evaluated on every row, so they should be cheap: a literal code per check is,
    while formatting a detail text for every row (only to keep a handful) is not.
    """

    entries: list[tuple[str, str, pl.Expr]] = field(default_factory=list)

    def __call__(self, field_name: str, reason: str, value: pl.Expr) -> pl.Expr:
        """Register one check's error and return its code as a literal."""
        self.entries.append((field_name, reason, value))
        return pl.lit(len(self.entries) - 1, dtype=pl.Int32)

    def describe(self, code: pl.Expr) -> pl.Expr:
        """The error struct (field, reason, detail) of each row's code (null: no error)."""
        if not self.entries:
            return pl.lit(None, dtype=ERROR_TYPE)
        chain: Any = None
        for i, (name, reason, value) in enumerate(self.entries):
            hit = code == i
            chain = (chain.when(hit) if chain is not None else pl.when(hit)).then(
                err(name, reason, value)
            )
        described: pl.Expr = chain.otherwise(None)
        return described


def parse_money(
    frame: pl.DataFrame,
    f: Field,
    options: ParseOptions,
    notes: Counter[str],
    plain: bool | None = None,
    error: ErrorFactory = err,
) -> tuple[pl.Expr, pl.Expr, dict[str, pl.Expr]]:
    """Decimal major units -> integer minor units in each row's currency, exact (no floats).

    ``plain`` says every value of the chunk matches :data:`PLAIN_MONEY` (scanned here when not
    given; the normaliser scans every field's checks in one pass), which allows the fast path.
    """
    col = pl.col(f.name)
    if plain is None:
        plain = bool(frame.select((col.is_null() | col.str.contains(PLAIN_MONEY)).all()).item())
    if plain and options.decimal == ".":
        return parse_plain_money(f, frame, error)
    s = col.str.replace_all(r"[\s\u00a0'’]", "")
    neg = (
        s.str.starts_with("-")
        | (s.str.starts_with("(") & s.str.ends_with(")"))
        | s.str.ends_with("-")
    )
    # Currency symbols anywhere and ISO codes at either end ("EUR 12", "12 USD", "-$1").
    s = s.str.replace_all(r"[$€£¥₹₩₽¢₪₫₺₴₦฿₱]|^[A-Za-z]{3}|[A-Za-z]{3}$", "")
    s = s.str.replace_all(r"[()+\-]", "")
    has_comma = s.str.contains(",", literal=True)
    has_dot = s.str.contains(".", literal=True)
    if options.decimal == ",":
        comma_decimal = has_comma
    else:
        # "1.234,50": the last separator is the decimal one. A lone comma is a decimal comma
        # unless exactly three digits follow it ("12,50" is 12.50, "1,234" is 1234).
        comma_decimal = (has_comma & has_dot & s.str.contains(r"\.[^,]*,\d*$")) | (
            has_comma & ~has_dot & s.str.contains(r"^\d+,(\d{1,2}|\d{4,})$")
        )
    normal = (
        pl.when(comma_decimal)
        .then(s.str.replace_all(".", "", literal=True).str.replace(",", ".", literal=True))
        .otherwise(s.str.replace_all(",", "", literal=True))
    )
    valid = normal.str.contains(r"^(\d+(\.\d*)?|\.\d+)$")
    int_part = normal.str.extract(r"^(\d*)", 1)
    frac = normal.str.extract(r"\.(\d*)$", 1).fill_null("")
    too_big = int_part.str.len_chars() > 14
    whole = (
        pl.when(int_part == "").then(pl.lit("0")).otherwise(int_part).cast(pl.Int64, strict=False)
    )
    frac4 = pl.concat_str(frac, pl.lit("0000")).str.slice(0, 4).cast(pl.Int64, strict=False)
    exp = pl.col("_exp")
    divisor = pl.lit(10, dtype=pl.Int64).pow(pl.lit(4, dtype=pl.Int64) - exp)
    total4 = whole * 10_000 + frac4
    minor = (total4 + divisor // 2) // divisor
    value = pl.when(valid & ~too_big & exp.is_not_null()).then(
        pl.when(neg).then(-minor).otherwise(minor)
    )
    failure = (
        pl.when(col.is_null())
        .then(None)
        .when(~valid)
        .then(error(f.name, "not_a_number", col))
        .when(too_big)
        .then(error(f.name, "amount_out_of_range", col))
        .when(exp.is_null())
        .then(error(f.name, "missing_currency", col))
    )
    counters = {
        "numbers_with_separators": (
            col.is_not_null() & (has_comma | (has_dot & comma_decimal))
        ).sum(),
        "amounts_rounded": (col.is_not_null() & valid & (frac.str.len_chars() > exp))
        .fill_null(False)
        .sum(),
    }
    return value.cast(pl.Int64), failure, counters


def parse_plain_money(
    f: Field, frame: pl.DataFrame, error: ErrorFactory = err
) -> tuple[pl.Expr, pl.Expr, dict[str, pl.Expr]]:
    """Fast path for a chunk whose amounts are all plain decimals (``-12.5``): no regexes.

    The text is read as an exact decimal with four places (plain values have at most four)
    and rounded half away from zero to the currency's minor unit.
    """
    col = pl.col(f.name)
    scaled = col.str.to_decimal(scale=4).to_physical().cast(pl.Int64)  # value x 10^4, exact
    exp = exponent_expr(frame)
    divisor = pl.lit(10, dtype=pl.Int64).pow(pl.lit(4, dtype=pl.Int64) - exp)
    minor = (scaled.abs() + divisor // 2) // divisor
    value = pl.when(col.str.starts_with("-")).then(-minor).otherwise(minor)
    value = pl.when(col.is_not_null() & exp.is_not_null()).then(value)
    failure = pl.when(col.is_not_null() & exp.is_null()).then(
        error(f.name, "missing_currency", col)
    )
    digits = (col.str.len_bytes() - col.str.find(".", literal=True) - 1).fill_null(0)
    rounded = (col.is_not_null() & (digits > exp)).fill_null(False).sum()
    return value.cast(pl.Int64), failure, {"amounts_rounded": rounded}


def exponent_expr(frame: pl.DataFrame) -> pl.Expr:
    """The minor-unit digits per row; a literal when the chunk has one currency (faster)."""
    exponents = frame["_exp"].unique().to_list() if "_exp" in frame.columns else [None]
    if len(exponents) == 1 and exponents[0] is not None:
        return pl.lit(exponents[0], dtype=pl.Int64)
    return pl.col("_exp")


def timestamp_probes(name: str) -> dict[str, pl.Expr]:
    """Chunk-wide checks :func:`parse_timestamp` needs (``zulu``, ``t``), as aggregates."""
    col = pl.col(name)
    return {
        "zulu": (col.str.ends_with("Z") | col.str.ends_with("z")).fill_null(False).any(),
        "t": col.str.contains("T", literal=True).fill_null(False).any(),
    }


def parse_timestamp(
    frame: pl.DataFrame,
    f: Field,
    options: ParseOptions,
    notes: Counter[str],
    probes: dict[str, bool] | None = None,
    error: ErrorFactory = err,
) -> tuple[pl.Expr, pl.Expr, dict[str, pl.Expr]]:
    """Parse with the given format or the known ones; offsets -> UTC, naive -> option zone.

    ``probes`` are the results of :func:`timestamp_probes` for the chunk (scanned here when not
    given).
    """
    col = pl.col(f.name)
    s = col
    if probes is None:
        probes = frame.select(**timestamp_probes(f.name)).row(0, named=True)
    if probes["zulu"]:
        s = s.str.replace(r"[Zz]$", "+00:00")
    if probes["t"]:
        s = s.str.replace(r"^(\d{4}-\d{2}-\d{2})T", "$1 ")
    if options.timestamp_format:
        formats: tuple[str, ...] = (options.timestamp_format,)
    else:
        formats = tuple(_DAYFIRST.get(x, x) if options.dayfirst else x for x in TIMESTAMP_FORMATS)
        if not options.exhaustive:
            formats = formats_seen(frame, s, formats)
    parsed: list[pl.Expr] = []
    for fmt in formats:
        if "z" in fmt:
            parsed.append(
                s.str.to_datetime(fmt, time_unit="us", strict=False).dt.convert_time_zone("UTC")
            )
        else:
            naive = s.str.to_datetime(fmt, time_unit="us", strict=False)
            parsed.append(
                naive.dt.replace_time_zone(
                    options.time_zone, ambiguous="earliest", non_existent="null"
                ).dt.convert_time_zone("UTC")
            )
    if not options.timestamp_format:
        digits = s.str.len_chars()
        number = s.cast(pl.Int64, strict=False)
        epoch_val = (
            pl.when(digits == 13)
            .then(pl.from_epoch(number, time_unit="ms"))
            .when(digits == 10)
            .then(pl.from_epoch(number, time_unit="s"))
        )
        parsed.append(epoch_val.dt.cast_time_unit("us").dt.replace_time_zone("UTC"))
    value = pl.coalesce(parsed) if len(parsed) > 1 else parsed[0]
    counters = {"timestamps_with_offset": s.str.contains(r"[+-]\d{2}:?\d{2}$").sum()}
    implausible = (value < _EARLIEST) | (value >= _AFTER_LATEST)
    failure = (
        pl.when(col.is_not_null() & value.is_null())
        .then(error(f.name, "unparseable_timestamp", col))
        .when(implausible)
        .then(error(f.name, "implausible_timestamp", col))
    )
    return value, failure, counters


def formats_seen(frame: pl.DataFrame, s: pl.Expr, formats: tuple[str, ...]) -> tuple[str, ...]:
    """Keep the formats that parse anything in a sample, so big chunks try few formats."""
    sample = frame.head(20_000).select(s.alias("v")).drop_nulls().unique().head(2000)
    if sample.height == 0:
        return formats[:1]
    hits: list[tuple[int, int, str]] = []
    for order, fmt in enumerate(formats):
        n = sample.select(pl.col("v").str.to_datetime(fmt, strict=False).is_not_null().sum()).item()
        if n:
            hits.append((-int(n), order, fmt))
    if not hits:
        return formats
    chosen = tuple(fmt for _, _, fmt in sorted(hits))
    total = sample.height
    if -hits[0][0] == total or sum(-h[0] for h in hits) >= total:
        return chosen
    return chosen + tuple(f for f in formats if f not in chosen)


def parse_phone(
    frame: pl.DataFrame, f: Field, options: ParseOptions, notes: Counter[str]
) -> pl.Expr:
    region_col = "country" if "country" in frame.columns else None
    pairs = (
        frame.select(
            pl.col(f.name).alias("p"),
            (pl.col(region_col) if region_col else pl.lit(None, dtype=pl.String)).alias("r"),
        )
        .drop_nulls("p")
        .unique()
    )
    mapping: dict[str, str] = {}
    bad = 0
    for phone, region in pairs.iter_rows():
        number = e164(phone, region or options.default_region)
        if number is None:
            bad += 1
        else:
            mapping[f"{phone}\x1f{region or ''}"] = number
    notes["cleared:invalid_phone"] += bad
    key = pl.concat_str(
        pl.col(f.name),
        pl.lit("\x1f"),
        (pl.col(region_col) if region_col else pl.lit("")).fill_null(""),
    )
    return key.replace_strict(mapping, default=None, return_dtype=pl.String)


@lru_cache(maxsize=100_000)
def e164(phone: str, region: str | None) -> str | None:
    text = phone.lstrip("'")
    region_code = region.upper() if region and len(region) == 2 else None
    try:
        number = phonenumbers.parse(text, region_code)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@lru_cache(maxsize=4096)
def is_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def is_json(text: Any) -> bool:
    try:
        json.loads(text)
    except (TypeError, ValueError):
        return False
    return True
