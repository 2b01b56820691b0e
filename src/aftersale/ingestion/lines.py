"""Rules for order lines: which lines are not products, and how orders are rebuilt from lines.

Real exports mix product lines with postage, fees, discounts and manual adjustments, and mark
cancellations with negative quantities or an id prefix. These rules decide, on purpose and in
one place, what each line is; the load report counts every case.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import polars as pl

__all__ = ["LineRules", "classify_lines"]

_DEFAULT_CODES: dict[str, str] = {
    "POST": "shipping",
    "DOT": "shipping",
    "C2": "shipping",
    "SHIPPING": "shipping",
    "D": "discount",
    "DISCOUNT": "discount",
    "M": "adjustment",
    "ADJUST": "adjustment",
    "B": "adjustment",
    "S": "adjustment",
    "BANK CHARGES": "fee",
    "AMAZONFEE": "fee",
    "CRUK": "fee",
    "PADS": "fee",
    "FEE": "fee",
}
_DEFAULT_NAME_PATTERNS: dict[str, str] = {
    r"(?i)\b(postage|carriage|shipping|delivery charge)\b": "shipping",
    r"(?i)^discount\b": "discount",
    r"(?i)\b(manual|adjust(ment)?|bad debt)\b": "adjustment",
    r"(?i)\b(bank charges|amazon fee|fee|commission)\b": "fee",
}


@dataclass(frozen=True, slots=True)
class LineRules:
    """Codes and name patterns of non-product lines, and the cancellation id prefix."""

    codes: dict[str, str] = field(default_factory=lambda: dict(_DEFAULT_CODES))
    name_patterns: dict[str, str] = field(default_factory=lambda: dict(_DEFAULT_NAME_PATTERNS))
    cancellation_prefix: str | None = "C"


def classify_lines(lines: pl.DataFrame, rules: LineRules) -> pl.DataFrame:
    """Add ``line_kind``: product, shipping, fee, discount or adjustment.

    A known code wins, then a name pattern, then a negative unit price (an adjustment such as
    a written-off debt); everything else is a product line. Codes and names are classified once
    per distinct value and mapped back: a chunk has far fewer products than lines.
    """
    by_code = _kinds_of(lines, "product_id", _code_kind(rules))
    found = [pl.col("product_id").replace_strict(by_code, default=None, return_dtype=pl.String)]
    if "product_name" in lines.columns and rules.name_patterns:
        by_name = _kinds_of(lines, "product_name", _name_kind(rules))
        found.append(
            pl.col("product_name").replace_strict(by_name, default=None, return_dtype=pl.String)
        )
    price_kind = (
        pl.when(pl.col("unit_price_minor") < 0)
        .then(pl.lit("adjustment"))
        .otherwise(pl.lit("product"))
    )
    return lines.with_columns(pl.coalesce(*found, price_kind).alias("line_kind"))


def _code_kind(rules: LineRules) -> pl.Expr:
    code = pl.col("value").str.to_uppercase().str.strip_chars()
    return code.replace_strict(rules.codes, default=None, return_dtype=pl.String)


def _name_kind(rules: LineRules) -> pl.Expr:
    kind: Any = None
    for pattern, label in rules.name_patterns.items():
        hit = pl.col("value").str.contains(pattern)
        kind = (kind.when(hit) if kind is not None else pl.when(hit)).then(pl.lit(label))
    result: pl.Expr = kind.otherwise(None)
    return result


def _kinds_of(lines: pl.DataFrame, column: str, kind: pl.Expr) -> dict[str, str]:
    """``{value: kind}`` for the distinct non-blank values of ``column`` that have a kind."""
    distinct = lines.select(pl.col(column).drop_nulls().unique().alias("value"))
    named = distinct.with_columns(kind.alias("kind")).filter(pl.col("kind").is_not_null())
    return dict(zip(named["value"].to_list(), named["kind"].to_list(), strict=True))
