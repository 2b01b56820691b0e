"""Shopify's orders export CSV: one row per line item, order fields on the first row only.

Headers are matched case-insensitively. Order-level fields are carried down to the order's
later rows (also across chunk boundaries), Shopify's ``Financial Status`` and ``Cancelled at``
give the status, the customer is identified by the lower-cased email (the export has no
customer id), a blank SKU falls back to the line item name, and ``Accepts Marketing`` becomes
an email-marketing consent at the order's time.
"""

from __future__ import annotations

import polars as pl

from aftersale.errors import SchemaError
from aftersale.ingestion.readers import ROW
from aftersale.ingestion.schema import normalise_header

__all__ = ["SHOPIFY_COLUMNS", "ShopifyRows", "consent_rows"]

SHOPIFY_COLUMNS: dict[str, str] = {
    "name": "order_id",
    "email": "email",
    "financial status": "status",
    "created at": "ordered_at",
    "currency": "currency",
    "subtotal": "subtotal",
    "shipping": "shipping",
    "taxes": "tax",
    "total": "total",
    "discount code": "discount_code",
    "discount amount": "discount",
    "lineitem quantity": "quantity",
    "lineitem name": "product_name",
    "lineitem price": "unit_price",
    "lineitem sku": "product_id",
    "billing name": "_billing_name",
    "billing phone": "phone",
    "billing country": "country",
    "cancelled at": "cancelled_at",
    "refunded amount": "refund",
    "source": "sales_channel",
    "accepts marketing": "_accepts_marketing",
}
_REQUIRED = ("Name", "Created at", "Lineitem quantity", "Lineitem price")
_LINE_LEVEL = frozenset({"quantity", "product_name", "unit_price", "product_id"})


class ShopifyRows:
    """Stateful adapter: raw Shopify chunks in, rows keyed by aftersale field names out."""

    def __init__(self, columns: tuple[str, ...], path: str) -> None:
        folded = {normalise_header(c): c for c in columns}
        missing = [c for c in _REQUIRED if normalise_header(c) not in folded]
        if missing:
            raise SchemaError(
                f"{path}: not a Shopify orders export; missing column(s) {', '.join(missing)}; "
                f"columns found: {', '.join(columns)}",
                path=path,
                missing=missing,
                found=columns,
            )
        self.sources = {
            field: folded[normalise_header(header)]
            for header, field in SHOPIFY_COLUMNS.items()
            if normalise_header(header) in folded
        }
        self._carry: pl.DataFrame | None = None

    def __call__(self, raw: pl.DataFrame) -> pl.DataFrame:
        """Rename, carry order-level fields down within each order, derive ids and status."""
        text = raw.select(
            pl.col(ROW),
            *(
                pl.when(pl.col(src).str.strip_chars() == "")
                .then(None)
                .otherwise(pl.col(src).str.strip_chars().str.strip_chars_start("'"))
                .alias(field)
                for field, src in self.sources.items()
            ),
        )
        order_level = [
            c for c in text.columns if c not in _LINE_LEVEL and c not in (ROW, "order_id")
        ]
        if self._carry is not None:
            text = pl.concat([self._carry, text], how="vertical_relaxed")
        text = text.with_columns(pl.col(c).forward_fill().over("order_id") for c in order_level)
        if self._carry is not None:
            text = text.slice(1)
        if text.height:
            self._carry = text.tail(1).with_columns(
                pl.lit(None, dtype=pl.String).alias(c) for c in _LINE_LEVEL if c in text.columns
            )
        cancelled = (
            pl.col("cancelled_at").is_not_null()
            if "cancelled_at" in text.columns
            else pl.lit(False)
        )
        name = (
            pl.col("_billing_name") if "_billing_name" in text.columns else pl.lit(None, pl.String)
        )
        status = pl.col("status") if "status" in text.columns else pl.lit(None, pl.String)
        sku = pl.col("product_id") if "product_id" in text.columns else pl.lit(None, pl.String)
        return text.with_columns(
            pl.col("email").str.to_lowercase().alias("customer_id")
            if "email" in text.columns
            else pl.lit(None, pl.String).alias("customer_id"),
            pl.when(cancelled).then(pl.lit("cancelled")).otherwise(status).alias("status"),
            name.str.extract(r"^(\S+)", 1).alias("first_name"),
            name.str.extract(r"^\S+\s+(.+)$", 1).alias("last_name"),
            pl.coalesce(sku, pl.col("product_name")).alias("product_id"),
        ).drop("_billing_name", strict=False)


def consent_rows(rows: pl.DataFrame) -> pl.DataFrame:
    """Email-marketing consent text rows from ``Accepts Marketing`` (one per order row)."""
    if "_accepts_marketing" not in rows.columns:
        return pl.DataFrame()
    flag = pl.col("_accepts_marketing").str.to_lowercase()
    picked = rows.filter(
        pl.col("customer_id").is_not_null() & flag.is_in(["yes", "no", "true", "false"])
    )
    return picked.select(
        pl.col(ROW),
        pl.col("customer_id"),
        pl.lit("email").alias("channel"),
        pl.lit("marketing").alias("purpose"),
        pl.when(flag.is_in(["yes", "true"]))
        .then(pl.lit("opt_in"))
        .otherwise(pl.lit("opt_out"))
        .alias("status"),
        pl.col("ordered_at").alias("recorded_at"),
        pl.lit("shopify export: Accepts Marketing").alias("method"),
    ).unique(subset=["customer_id", "recorded_at"], keep="first", maintain_order=True)
