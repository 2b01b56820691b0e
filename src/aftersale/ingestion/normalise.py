"""Turn text chunks into typed columns, vectorised with polars, and split off untrustworthy rows.

Each field is parsed by its :class:`~aftersale.ingestion.schema.Field` parser. A value that cannot
be parsed sends its whole row to quarantine with the field, a reason code and a detail naming
the value. Values that are merely unusable but not essential (an invalid email or phone, an
unknown time zone) are cleared and counted instead, so the rest of the row still lands.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
import polars as pl

from aftersale.domain.money import currency_exponent, known_currencies
from aftersale.ingestion.readers import ROW
from aftersale.ingestion.schema import Field

__all__ = [
    "ENUM_SYNONYMS",
    "TIMESTAMP_FORMATS",
    "NormalisedChunk",
    "ParseOptions",
    "normalise_chunk",
]

ERR = "_err"

# Tried in order when no format is given; offsets become UTC, naive times use the zone option.
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

ENUM_SYNONYMS: dict[str, dict[str, str]] = {
    "status": {
        "paid": "completed",
        "complete": "completed",
        "fulfilled": "completed",
        "authorized": "pending",
        "partially_paid": "pending",
        "voided": "cancelled",
        "canceled": "cancelled",
        "partially_refunded": "partially_refunded",
        "opt_in": "opt_in",
        "opted_in": "opt_in",
        "optin": "opt_in",
        "subscribed": "opt_in",
        "yes": "opt_in",
        "true": "opt_in",
        "opt_out": "opt_out",
        "opted_out": "opt_out",
        "optout": "opt_out",
        "unsubscribed": "opt_out",
        "no": "opt_out",
        "false": "opt_out",
    },
    "channel": {"e_mail": "email", "mail": "email", "text": "sms", "inapp": "in_app"},
}


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


@dataclass(slots=True)
class NormalisedChunk:
    """Typed good rows, quarantined bad rows (with reasons) and counters for the report."""

    good: pl.DataFrame
    bad: pl.DataFrame
    notes: Counter[str] = field(default_factory=Counter)


def normalise_chunk(
    raw: pl.DataFrame, matched: dict[str, str], fields: tuple[Field, ...], options: ParseOptions
) -> NormalisedChunk:
    """Parse the matched columns of ``raw`` into typed fields; see the module docstring."""
    notes: Counter[str] = Counter()
    by_name = {f.name: f for f in fields}
    text = _clean_text(raw, matched, notes)
    exprs: list[pl.Expr] = []
    errors: list[pl.Expr] = []
    counters: dict[str, pl.Expr] = {}
    frame = _with_currency(text, by_name, options, notes)
    if "currency" in frame.columns:
        exprs.append(pl.col("currency"))
        errors.append(
            pl.when(pl.col("_currency_bad")).then(
                _err("currency", "unknown_currency", pl.col("_currency_raw"))
            )
        )
    present = [n for n in matched if n in by_name and n != "currency"]
    for name in present:
        f = by_name[name]
        value, error, counts = _parse(frame, f, options, notes)
        exprs.append(value.alias(f.target))
        if error is not None:
            errors.append(error)
        for key, expr in counts.items():
            counters[key] = counters[key] + expr if key in counters else expr
    for f in fields:
        if f.required:
            missing = pl.col(f.name).is_null() if f.name in frame.columns else pl.lit(True)
            errors.append(
                pl.when(missing & _alt_missing(frame, f)).then(
                    _err(f.name, "missing_value", pl.lit(""))
                )
            )
    # One lazy pass: common subexpressions (a parsed value and the check of that value, the
    # counters) are computed once.
    marker = "__count__"
    typed_lazy = frame.lazy().select(
        pl.col(ROW),
        *exprs,
        (pl.coalesce(errors) if errors else pl.lit(None)).alias(ERR),
        *(expr.fill_null(0).cast(pl.Int64).alias(marker + key) for key, expr in counters.items()),
    )
    typed = typed_lazy.collect()
    if typed.height:
        for key in counters:
            notes[key] += int(typed[0, marker + key] or 0)
    typed = typed.drop([marker + key for key in counters])
    typed = _retry_timestamps(raw, matched, fields, options, typed)
    good = typed.filter(pl.col(ERR).is_null()).drop(ERR)
    bad_rows = typed.filter(pl.col(ERR).is_not_null()).select(
        pl.col(ROW),
        pl.col(ERR).struct.field("field").alias("field"),
        pl.col(ERR).struct.field("reason").alias("reason"),
        pl.col(ERR).struct.field("detail").alias("detail"),
    )
    if bad_rows.height:
        raws = raw.filter(pl.col(ROW).is_in(bad_rows[ROW].implode())).select(
            pl.col(ROW),
            pl.struct(pl.all().exclude(ROW)).struct.json_encode().alias("raw"),
        )
        bad_rows = bad_rows.join(raws, on=ROW, how="left")
    else:
        bad_rows = bad_rows.with_columns(pl.lit(None, dtype=pl.String).alias("raw"))
    return NormalisedChunk(good=good, bad=bad_rows, notes=notes)


def _retry_timestamps(
    raw: pl.DataFrame,
    matched: dict[str, str],
    fields: tuple[Field, ...],
    options: ParseOptions,
    typed: pl.DataFrame,
) -> pl.DataFrame:
    """Re-parse rows whose timestamps failed with the formats sampled from the chunk.

    The first pass tries only the formats seen in a sample (fast); a rare row written another
    way is retried here with every known format before it is called unparseable.
    """
    if options.exhaustive or options.timestamp_format:
        return typed
    failed = typed.filter(
        pl.col(ERR).is_not_null() & (pl.col(ERR).struct.field("reason") == "unparseable_timestamp")
    )
    if failed.height == 0:
        return typed
    again = normalise_chunk(
        raw.filter(pl.col(ROW).is_in(failed[ROW].implode())),
        matched,
        fields,
        replace(options, exhaustive=True),
    )
    fixed = again.good.with_columns(pl.lit(None).alias(ERR)).select(typed.columns)
    return pl.concat(
        [typed.filter(~pl.col(ROW).is_in(fixed[ROW].implode())), fixed], how="vertical_relaxed"
    ).sort(ROW)


def _alt_missing(frame: pl.DataFrame, f: Field) -> pl.Expr:
    """A required money field may come as ``x`` or ``x_minor``: missing only if both are."""
    if f.parser == "money" and f"{f.name}_minor" in frame.columns:
        return pl.col(f"{f.name}_minor").is_null()
    return pl.lit(True)


def _err(field_name: str, reason: str, value: pl.Expr) -> pl.Expr:
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


def _clean_text(raw: pl.DataFrame, matched: dict[str, str], notes: Counter[str]) -> pl.DataFrame:
    """Trim every matched column (blank -> null) and count the cells that changed, in one pass."""
    stripped = {src: pl.col(src).cast(pl.String).str.strip_chars() for src in matched.values()}
    changed = [
        (pl.col(src).cast(pl.String) != stripped[src]).fill_null(False).cast(pl.Int64).sum()
        for src in stripped
    ]
    cleaned = (
        raw.lazy()
        .select(
            pl.col(ROW),
            *(
                pl.when(stripped[src] == "").then(None).otherwise(stripped[src]).alias(name)
                for name, src in matched.items()
            ),
            (pl.sum_horizontal(changed) if changed else pl.lit(0)).alias("__trimmed"),
        )
        .collect()
    )
    if cleaned.height:
        notes["cells_trimmed"] += int(cleaned["__trimmed"][0] or 0)
    return cleaned.drop("__trimmed")


def _with_currency(
    frame: pl.DataFrame, by_name: dict[str, Field], options: ParseOptions, notes: Counter[str]
) -> pl.DataFrame:
    """Add the parsed ``currency`` and ``_exp`` (minor digits) columns every money field needs."""
    has_money = any(f.parser == "money" for f in by_name.values() if f.name in frame.columns)
    if "currency" not in frame.columns and not has_money and "currency" not in by_name:
        return frame
    default = options.default_currency.upper() if options.default_currency else None
    raw = pl.col("currency") if "currency" in frame.columns else pl.lit(None, dtype=pl.String)
    upper = raw.str.to_uppercase()
    known = sorted(known_currencies())
    code = pl.coalesce(upper, pl.lit(default, dtype=pl.String))
    frame = frame.with_columns(
        raw.alias("_currency_raw"),
        (upper.is_not_null() & ~upper.is_in(known)).alias("_currency_bad"),
        pl.when(code.is_in(known)).then(code).otherwise(None).alias("currency"),
    )
    exponents = {c: currency_exponent(c) for c in frame["currency"].drop_nulls().unique().to_list()}
    notes.update({f"currency:{c}": n for c, n in frame["currency"].value_counts().iter_rows() if c})
    return frame.with_columns(
        pl.col("currency")
        .replace_strict(exponents, default=None, return_dtype=pl.Int64)
        .alias("_exp")
    )


def _parse(
    frame: pl.DataFrame, f: Field, options: ParseOptions, notes: Counter[str]
) -> tuple[pl.Expr, pl.Expr | None, dict[str, pl.Expr]]:
    """Return the value, the error (a reason struct or null) and counters (aggregates)."""
    value, error, *rest = _parse_one(frame, f, options, notes)
    return value, error, (rest[0] if rest else {})


def _parse_one(
    frame: pl.DataFrame, f: Field, options: ParseOptions, notes: Counter[str]
) -> tuple[Any, ...]:
    col = pl.col(f.name)
    parser = f.parser
    if parser in ("id", "text"):
        value = col
        counts: dict[str, pl.Expr] = {}
        if parser == "id" and _any(frame, col.str.ends_with(".0")):
            value = col.str.replace(r"^(\d+)\.0+$", "$1")
        if parser == "text" and _any(frame, col.str.contains(r"\s\s|[\t\r\n]")):
            # Runs of spaces, tabs or line breaks inside text become one space.
            stray = col.str.contains(r"\s\s|[\t\r\n]")
            value = pl.when(stray).then(col.str.replace_all(r"\s+", " ")).otherwise(col)
            counts["whitespace_collapsed"] = stray.sum()
        too_long = col.str.len_chars() > options.max_field_chars
        return (
            value,
            pl.when(too_long).then(
                _err(f.name, "enormous_field", pl.format("{} characters", col.str.len_chars()))
            ),
            counts,
        )
    if parser == "int":
        value = col.cast(pl.Int64, strict=False)
        if _any(frame, col.is_not_null() & value.is_null()):  # separators, "3.0" …
            cleaned = col.str.replace_all(r"[,_\s']", "").str.replace(r"^([+-]?\d+)\.0*$", "$1")
            value = cleaned.cast(pl.Int64, strict=False)
        return value, pl.when(col.is_not_null() & value.is_null()).then(
            _err(f.name, "not_an_integer", col)
        )
    if parser == "float":
        pct = col.str.ends_with("%")
        number = (
            col.str.replace_all(r"[%\s]", "").str.replace(",", ".").cast(pl.Float64, strict=False)
        )
        value = pl.when(pct).then(number / 100).otherwise(number)
        return value, pl.when(col.is_not_null() & value.is_null()).then(
            _err(f.name, "not_a_number", col)
        )
    if parser == "money_minor":
        value = col.str.replace_all(r"[,_\s']", "").cast(pl.Int64, strict=False)
        return value, pl.when(col.is_not_null() & value.is_null()).then(
            _err(f.name, "not_an_integer", col)
        )
    if parser == "money":
        return _parse_money(frame, f, options, notes)
    if parser == "timestamp":
        return _parse_timestamp(frame, f, options, notes)
    if parser == "email":
        lowered = col.str.to_lowercase()
        ok = lowered.str.contains(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
        return (
            pl.when(ok).then(lowered),
            None,
            {"cleared:invalid_email": (col.is_not_null() & ~ok).sum()},
        )
    if parser == "phone":
        return _parse_phone(frame, f, options, notes), None
    if parser == "time_zone":
        zones = {z: z for z in frame[f.name].drop_nulls().unique().to_list() if _is_zone(z)}
        value = col.replace_strict(zones, default=None, return_dtype=pl.String)
        return (
            value,
            None,
            {"cleared:unknown_time_zone": (col.is_not_null() & value.is_null()).sum()},
        )
    if parser == "bool":
        lowered = col.str.to_lowercase()
        value = (
            pl.when(lowered.is_in(["true", "yes", "y", "1", "t"]))
            .then(True)
            .when(lowered.is_in(["false", "no", "n", "0", "f"]))
            .then(False)
        )
        return value, pl.when(col.is_not_null() & value.is_null()).then(
            _err(f.name, "not_a_boolean", col)
        )
    if parser == "json":
        bad_values = [v for v in frame[f.name].drop_nulls().unique().to_list() if not _is_json(v)]
        too_long = col.str.len_chars() > options.max_field_chars
        return col, pl.when(too_long).then(
            _err(f.name, "enormous_field", pl.format("{} characters", col.str.len_chars()))
        ).when(col.is_in(bad_values)).then(_err(f.name, "malformed_json", col))
    if parser == "enum":
        folded = col.str.to_lowercase().str.replace_all(r"[\s\-]+", "_")
        synonyms = ENUM_SYNONYMS.get(f.name, {})
        mapped = folded.replace(synonyms) if synonyms else folded
        value = pl.when(mapped.is_in(list(f.choices))).then(mapped)
        return value, pl.when(col.is_not_null() & value.is_null()).then(
            _err(
                f.name,
                "invalid_value",
                pl.format("{}; expected one of {}", col, pl.lit(", ".join(f.choices))),
            )
        )
    raise AssertionError(f"unhandled parser {parser}")  # pragma: no cover


def _parse_money(
    frame: pl.DataFrame, f: Field, options: ParseOptions, notes: Counter[str]
) -> tuple[pl.Expr, pl.Expr, dict[str, pl.Expr]]:
    """Decimal major units -> integer minor units in each row's currency, exact (no floats)."""
    col = pl.col(f.name)
    plain = frame.select(
        (col.is_null() | col.str.contains(r"^-?\d{1,14}(\.\d{0,4})?$")).all()
    ).item()
    if plain and options.decimal == ".":
        return _parse_plain_money(f, frame)
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
    error = (
        pl.when(col.is_null())
        .then(None)
        .when(~valid)
        .then(_err(f.name, "not_a_number", col))
        .when(too_big)
        .then(_err(f.name, "amount_out_of_range", col))
        .when(exp.is_null())
        .then(_err(f.name, "missing_currency", col))
    )
    counters = {
        "numbers_with_separators": (
            col.is_not_null() & (has_comma | (has_dot & comma_decimal))
        ).sum(),
        "amounts_rounded": (col.is_not_null() & valid & (frac.str.len_chars() > exp))
        .fill_null(False)
        .sum(),
    }
    return value.cast(pl.Int64), error, counters


def _parse_plain_money(
    f: Field, frame: pl.DataFrame
) -> tuple[pl.Expr, pl.Expr, dict[str, pl.Expr]]:
    """Fast path for a chunk whose amounts are all plain decimals (``-12.5``): no regexes."""
    col = pl.col(f.name)
    parts = col.str.strip_chars_start("-").str.split_exact(".", 1)
    whole = parts.struct.field("field_0").cast(pl.Int64, strict=False).fill_null(0)
    frac = parts.struct.field("field_1").fill_null("")
    frac4 = pl.concat_str(frac, pl.lit("0000")).str.slice(0, 4).cast(pl.Int64)
    exp = _exponent_expr(frame)
    divisor = pl.lit(10, dtype=pl.Int64).pow(pl.lit(4, dtype=pl.Int64) - exp)
    minor = (whole * 10_000 + frac4 + divisor // 2) // divisor
    value = pl.when(col.str.starts_with("-")).then(-minor).otherwise(minor)
    value = pl.when(col.is_not_null() & exp.is_not_null()).then(value)
    error = pl.when(col.is_not_null() & exp.is_null()).then(_err(f.name, "missing_currency", col))
    rounded = (col.is_not_null() & (frac.str.len_chars() > exp)).fill_null(False).sum()
    return value.cast(pl.Int64), error, {"amounts_rounded": rounded}


def _any(frame: pl.DataFrame, condition: pl.Expr) -> bool:
    """True when ``condition`` holds for some row (a cheap scan that decides the work to do)."""
    return bool(frame.select(condition.fill_null(False).any()).item())


def _exponent_expr(frame: pl.DataFrame) -> pl.Expr:
    """The minor-unit digits per row; a literal when the chunk has one currency (faster)."""
    exponents = frame["_exp"].unique().to_list() if "_exp" in frame.columns else [None]
    if len(exponents) == 1 and exponents[0] is not None:
        return pl.lit(exponents[0], dtype=pl.Int64)
    return pl.col("_exp")


def _parse_timestamp(
    frame: pl.DataFrame, f: Field, options: ParseOptions, notes: Counter[str]
) -> tuple[pl.Expr, pl.Expr, dict[str, pl.Expr]]:
    """Parse with the given format or the known ones; offsets -> UTC, naive -> option zone."""
    col = pl.col(f.name)
    s = col
    if _any(frame, col.str.ends_with("Z") | col.str.ends_with("z")):
        s = s.str.replace(r"[Zz]$", "+00:00")
    if _any(frame, col.str.contains("T", literal=True)):
        s = s.str.replace(r"^(\d{4}-\d{2}-\d{2})T", "$1 ")
    if options.timestamp_format:
        formats: tuple[str, ...] = (options.timestamp_format,)
    else:
        formats = tuple(_DAYFIRST.get(x, x) if options.dayfirst else x for x in TIMESTAMP_FORMATS)
        if not options.exhaustive:
            formats = _formats_seen(frame, s, formats)
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
    implausible = (value.dt.year() < 1900) | (value.dt.year() > 2200)
    error = (
        pl.when(col.is_not_null() & value.is_null())
        .then(_err(f.name, "unparseable_timestamp", col))
        .when(implausible)
        .then(_err(f.name, "implausible_timestamp", col))
    )
    return value, error, counters


def _formats_seen(frame: pl.DataFrame, s: pl.Expr, formats: tuple[str, ...]) -> tuple[str, ...]:
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


def _parse_phone(
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
        e164 = _e164(phone, region or options.default_region)
        if e164 is None:
            bad += 1
        else:
            mapping[f"{phone}\x1f{region or ''}"] = e164
    notes["cleared:invalid_phone"] += bad
    key = pl.concat_str(
        pl.col(f.name),
        pl.lit("\x1f"),
        (pl.col(region_col) if region_col else pl.lit("")).fill_null(""),
    )
    return key.replace_strict(mapping, default=None, return_dtype=pl.String)


@lru_cache(maxsize=100_000)
def _e164(phone: str, region: str | None) -> str | None:
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
def _is_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _is_json(text: Any) -> bool:
    try:
        json.loads(text)
    except (TypeError, ValueError):
        return False
    return True
