"""Turn text chunks into typed columns, vectorised with polars, and split off untrustworthy rows.

Each field is parsed by its :class:`~aftersale.ingestion.schema.Field` parser. A value that cannot
be parsed sends its whole row to quarantine with the field, a reason code and a detail naming
the value. Values that are merely unusable but not essential (an invalid email or phone, an
unknown time zone) are cleared and counted instead, so the rest of the row still lands.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any

import polars as pl

from aftersale.domain.money import currency_exponent, known_currencies
from aftersale.ingestion.readers import ROW
from aftersale.ingestion.schema import Field
from aftersale.ingestion.values import (
    ERROR_TYPE,
    PLAIN_MONEY,
    TIMESTAMP_FORMATS,
    ErrorCodes,
    ErrorFactory,
    ParseOptions,
    is_json,
    is_zone,
    parse_money,
    parse_phone,
    parse_timestamp,
    timestamp_probes,
)

__all__ = [
    "ENUM_SYNONYMS",
    "TIMESTAMP_FORMATS",
    "NormalisedChunk",
    "ParseOptions",
    "normalise_chunk",
]


ERR = "err"

# Tried in order when no format is given; offsets become UTC, naive times use the zone option.


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


@dataclass(slots=True)
class NormalisedChunk:
    """Typed good rows, quarantined bad rows (with reasons) and counters for the report."""

    good: pl.DataFrame
    bad: pl.DataFrame
    notes: Counter[str] = field(default_factory=Counter)


def normalise_chunk(
    raw: pl.DataFrame, matched: dict[str, str], fields: tuple[Field, ...], options: ParseOptions
) -> NormalisedChunk:
    """Parse the matched columns of ``raw`` into typed fields; see the module docstring.

    Three passes over the chunk: trim the text, one scan of every chunk-wide check that decides
    which parsers are needed (:func:`_probe`), then one pass computing every value, the first
    failing check of each row (as a small code) and the counters. Error details are formatted
    only for the rows that failed.
    """
    notes: Counter[str] = Counter()
    by_name = {f.name: f for f in fields}
    text = _clean_text(raw, matched, notes)
    frame = _with_currency(text, by_name, options, notes)
    present = [n for n in matched if n in by_name and n != "currency"]
    flags = _probe(frame, [by_name[n] for n in present], options)
    codes = ErrorCodes()
    exprs: list[pl.Expr] = []
    errors: list[pl.Expr] = []
    counters: dict[str, pl.Expr] = {}
    if "currency" in frame.columns:
        exprs.append(pl.col("currency"))
        errors.append(
            pl.when(pl.col("_currency_bad")).then(
                codes("currency", "unknown_currency", pl.col("_currency_raw"))
            )
        )
    for name in present:
        f = by_name[name]
        value, error, counts = _parse(frame, f, options, notes, flags, codes)
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
                    codes(f.name, "missing_value", pl.lit(""))
                )
            )
    # One lazy pass: common subexpressions (a parsed value and the check of that value, the
    # counters) are computed once.
    marker = "__count__"
    typed_lazy = frame.lazy().select(
        pl.col(ROW),
        *exprs,
        (pl.coalesce(errors) if errors else pl.lit(None, dtype=pl.Int32)).alias(ERR),
        *(expr.fill_null(0).cast(pl.Int64).alias(marker + key) for key, expr in counters.items()),
    )
    typed = typed_lazy.collect()
    if typed.height:
        for key in counters:
            notes[key] += int(typed[0, marker + key] or 0)
    typed = _describe_errors(frame, typed.drop([marker + key for key in counters]), codes)
    typed = _retry_timestamps(raw, matched, fields, options, typed)
    good = typed.filter(pl.col(ERR).is_null()).drop(ERR)
    bad_rows = typed.filter(pl.col(ERR).is_not_null()).select(
        pl.col(ROW),
        pl.col(ERR).struct.field("field").alias("field"),
        pl.col(ERR).struct.field("reason").alias("reason"),
        pl.col(ERR).struct.field("detail").alias("detail"),
    )
    if bad_rows.height:
        values = [c for c in raw.columns if c != ROW]
        as_json = pl.struct(values).struct.json_encode() if values else pl.lit("{}")
        raws = raw.filter(pl.col(ROW).is_in(bad_rows[ROW].implode())).select(
            pl.col(ROW), as_json.alias("raw")
        )
        bad_rows = bad_rows.join(raws, on=ROW, how="left")
    else:
        bad_rows = bad_rows.with_columns(pl.lit(None, dtype=pl.String).alias("raw"))
    return NormalisedChunk(good=good, bad=bad_rows, notes=notes)


def _describe_errors(frame: pl.DataFrame, typed: pl.DataFrame, codes: ErrorCodes) -> pl.DataFrame:
    """Replace each row's error code by its error struct (field, reason, detail).

    ``typed`` is row-aligned with ``frame``; the details are formatted on the failed rows only.
    """
    failed = typed.get_column(ERR).is_not_null()
    if not failed.any():
        return typed.with_columns(pl.lit(None, dtype=ERROR_TYPE).alias(ERR))
    struct = codes.describe(pl.col(ERR))
    described = (
        frame.filter(failed)
        .with_columns(typed.get_column(ERR).filter(failed).alias(ERR))
        .select(struct.alias(ERR))
        .with_columns(pl.Series("__i", failed.arg_true(), dtype=pl.UInt32))
    )
    return (
        typed.drop(ERR)
        .with_row_index("__i")
        .join(described, on="__i", how="left", maintain_order="left")
        .drop("__i")
        .select(typed.columns)
    )


def _probe(frame: pl.DataFrame, fields: list[Field], options: ParseOptions) -> dict[str, Any]:
    """Every chunk-wide check that decides which parsers a chunk needs, in one scan.

    Keys are ``"<field>.<check>"``: ``dot0`` (ids exported as floats), ``ws`` (stray
    whitespace in text), ``dirty`` (integers that need cleaning), ``plain`` (every amount a
    plain decimal), ``zulu`` / ``t`` (timestamp rewriting) and ``bytes`` (the longest value,
    which rules out over-long fields without counting characters).
    """
    probes: dict[str, pl.Expr] = {}
    for f in fields:
        col = pl.col(f.name)
        if f.parser in ("id", "text", "json"):
            probes[f"{f.name}.bytes"] = col.str.len_bytes().max()
        if f.parser == "id":
            probes[f"{f.name}.dot0"] = col.str.ends_with(".0").fill_null(False).any()
        elif f.parser == "text":
            probes[f"{f.name}.ws"] = col.str.contains(r"\s\s|[\t\r\n]").fill_null(False).any()
        elif f.parser == "int":
            dirty = col.is_not_null() & col.cast(pl.Int64, strict=False).is_null()
            probes[f"{f.name}.dirty"] = dirty.fill_null(False).any()
        elif f.parser == "money":
            probes[f"{f.name}.plain"] = (col.is_null() | col.str.contains(PLAIN_MONEY)).all()
        elif f.parser == "timestamp":
            for key, expr in timestamp_probes(f.name).items():
                probes[f"{f.name}.{key}"] = expr
    if not probes:
        return {}
    return frame.select(**probes).row(0, named=True)


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


def _unparsed(
    name: str, value: pl.Expr, reason: str, error: ErrorFactory, detail: pl.Expr | None = None
) -> pl.Expr:
    """The error of a value that was given but could not be read as the field's type."""
    col = pl.col(name)
    return pl.when(col.is_not_null() & value.is_null()).then(
        error(name, reason, col if detail is None else detail)
    )


def _too_long(
    f: Field, options: ParseOptions, flags: dict[str, Any], error: ErrorFactory
) -> pl.Expr | None:
    """The ``enormous_field`` check, or None when no value of the chunk has that many bytes."""
    key = f"{f.name}.bytes"
    if key in flags and (flags[key] is None or flags[key] <= options.max_field_chars):
        return None
    col = pl.col(f.name)
    return pl.when(col.str.len_chars() > options.max_field_chars).then(
        error(f.name, "enormous_field", pl.format("{} characters", col.str.len_chars()))
    )


def _alt_missing(frame: pl.DataFrame, f: Field) -> pl.Expr:
    """A required money field may come as ``x`` or ``x_minor``: missing only if both are."""
    if f.parser == "money" and f"{f.name}_minor" in frame.columns:
        return pl.col(f"{f.name}_minor").is_null()
    return pl.lit(True)


def _clean_text(raw: pl.DataFrame, matched: dict[str, str], notes: Counter[str]) -> pl.DataFrame:
    """Trim every matched column (blank -> null) and count the cells that changed.

    Eager steps: polars' lazy engine was about three times slower here (it could not share the
    trimmed column between the count and the output).
    """
    sources = list(dict.fromkeys(matched.values()))
    original = raw.select(
        pl.col(src) if raw.schema[src] == pl.String else pl.col(src).cast(pl.String)
        for src in sources
    )
    stripped = original.select(pl.col(src).str.strip_chars() for src in sources)
    if raw.height:
        notes["cells_trimmed"] += sum(
            int((original.get_column(src) != stripped.get_column(src)).sum()) for src in sources
        )
    blank_to_null = (
        pl.when(pl.col(src) == "").then(None).otherwise(pl.col(src)).alias(name)
        for name, src in matched.items()
    )
    return raw.select(pl.col(ROW)).with_columns(stripped.select(*blank_to_null).get_columns())


def _with_currency(
    frame: pl.DataFrame, by_name: dict[str, Field], options: ParseOptions, notes: Counter[str]
) -> pl.DataFrame:
    """Add the parsed ``currency`` and ``_exp`` (minor digits) columns every money field needs."""
    has_money = any(f.parser == "money" for f in by_name.values() if f.name in frame.columns)
    if "currency" not in frame.columns and not has_money and "currency" not in by_name:
        return frame
    default = options.default_currency.upper() if options.default_currency else None
    if "currency" not in frame.columns:
        # Every row has the default currency (or none): constants, no per-row work.
        fixed = default if default in known_currencies() else None
        if fixed is not None and frame.height:
            notes[f"currency:{fixed}"] += frame.height
        exponent = currency_exponent(fixed) if fixed is not None else None
        return frame.with_columns(
            pl.lit(None, dtype=pl.String).alias("_currency_raw"),
            pl.lit(False).alias("_currency_bad"),
            pl.lit(fixed, dtype=pl.String).alias("currency"),
            pl.lit(exponent, dtype=pl.Int64).alias("_exp"),
        )
    raw = pl.col("currency")
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
    frame: pl.DataFrame,
    f: Field,
    options: ParseOptions,
    notes: Counter[str],
    flags: dict[str, Any],
    error: ErrorFactory,
) -> tuple[pl.Expr, pl.Expr | None, dict[str, pl.Expr]]:
    """Return the value, the error (a code or null) and counters (aggregates)."""
    col = pl.col(f.name)
    parser = f.parser
    if parser in ("id", "text"):
        value = col
        counts: dict[str, pl.Expr] = {}
        if parser == "id" and flags[f"{f.name}.dot0"]:
            value = col.str.replace(r"^(\d+)\.0+$", "$1")
        if parser == "text" and flags[f"{f.name}.ws"]:
            # Runs of spaces, tabs or line breaks inside text become one space.
            stray = col.str.contains(r"\s\s|[\t\r\n]")
            value = pl.when(stray).then(col.str.replace_all(r"\s+", " ")).otherwise(col)
            counts["whitespace_collapsed"] = stray.sum()
        return value, _too_long(f, options, flags, error), counts
    if parser == "int":
        value = col.cast(pl.Int64, strict=False)
        if flags[f"{f.name}.dirty"]:  # separators, "3.0" …
            cleaned = col.str.replace_all(r"[,_\s']", "").str.replace(r"^([+-]?\d+)\.0*$", "$1")
            value = cleaned.cast(pl.Int64, strict=False)
        return value, _unparsed(f.name, value, "not_an_integer", error), {}
    if parser == "float":
        pct = col.str.ends_with("%")
        number = (
            col.str.replace_all(r"[%\s]", "").str.replace(",", ".").cast(pl.Float64, strict=False)
        )
        value = pl.when(pct).then(number / 100).otherwise(number)
        return value, _unparsed(f.name, value, "not_a_number", error), {}
    if parser == "money_minor":
        value = col.str.replace_all(r"[,_\s']", "").cast(pl.Int64, strict=False)
        return value, _unparsed(f.name, value, "not_an_integer", error), {}
    if parser == "money":
        return parse_money(frame, f, options, notes, flags[f"{f.name}.plain"], error)
    if parser == "timestamp":
        probes = {key: flags[f"{f.name}.{key}"] for key in ("zulu", "t")}
        return parse_timestamp(frame, f, options, notes, probes, error)
    if parser == "email":
        lowered = col.str.to_lowercase()
        ok = lowered.str.contains(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
        return (
            pl.when(ok).then(lowered),
            None,
            {"cleared:invalid_email": (col.is_not_null() & ~ok).sum()},
        )
    if parser == "phone":
        return parse_phone(frame, f, options, notes), None, {}
    if parser == "time_zone":
        zones = {z: z for z in frame[f.name].drop_nulls().unique().to_list() if is_zone(z)}
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
        return value, _unparsed(f.name, value, "not_a_boolean", error), {}
    if parser == "json":
        bad_values = [v for v in frame[f.name].drop_nulls().unique().to_list() if not is_json(v)]
        too_long = col.str.len_chars() > options.max_field_chars
        failure = (
            pl.when(too_long)
            .then(error(f.name, "enormous_field", pl.format("{} characters", col.str.len_chars())))
            .when(col.is_in(bad_values))
            .then(error(f.name, "malformed_json", col))
        )
        return col, failure, {}
    if parser == "enum":
        folded = col.str.to_lowercase().str.replace_all(r"[\s\-]+", "_")
        synonyms = ENUM_SYNONYMS.get(f.name, {})
        mapped = folded.replace(synonyms) if synonyms else folded
        value = pl.when(mapped.is_in(list(f.choices))).then(mapped)
        expected = pl.format("{}; expected one of {}", col, pl.lit(", ".join(f.choices)))
        return value, _unparsed(f.name, value, "invalid_value", error, expected), {}
    raise AssertionError(f"unhandled parser {parser}")  # pragma: no cover
