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
    per distinct (code, name) pair and joined back: a chunk has far fewer products than lines.
    """
    keys = ["product_id", "product_name"] if "product_name" in lines.columns else ["product_id"]
    distinct = lines.select(keys).unique()
    code = pl.col("product_id").str.to_uppercase().str.strip_chars()
    kind: Any = pl.when(code.is_in(list(rules.codes))).then(
        code.replace_strict(rules.codes, default=None, return_dtype=pl.String)
    )
    if "product_name" in lines.columns:
        for pattern, label in rules.name_patterns.items():
            kind = kind.when(pl.col("product_name").str.contains(pattern).fill_null(False)).then(
                pl.lit(label)
            )
    named = distinct.with_columns(kind.otherwise(None).alias("_kind"))
    joined = lines.join(named, on=keys, how="left", nulls_equal=True, maintain_order="left")
    price_kind = (
        pl.when(pl.col("unit_price_minor") < 0)
        .then(pl.lit("adjustment"))
        .otherwise(pl.lit("product"))
    )
    return joined.with_columns(pl.coalesce(pl.col("_kind"), price_kind).alias("line_kind")).drop(
        "_kind"
    )
