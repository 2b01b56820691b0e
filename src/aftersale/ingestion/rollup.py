"""Orders rolled up from order lines while an order-contiguous file streams.

When an export lists each order's lines together (see :mod:`aftersale.ingestion.sequence`), an
order is complete as soon as the next order starts, so orders can be built chunk by chunk with a
carry of one open order instead of grouping every line of the load at the end. The result
equals :func:`aftersale.ingestion.assemble.orders_from_lines` on the same lines; it is used only
when the load proves contiguous. The load report's counts of line and order kinds are kept too.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import polars as pl

from aftersale.ingestion.sequence import RUN

__all__ = ["ORDER_LEVEL", "Rollup"]

ORDER_LEVEL = (
    "customer_id",
    "status",
    "currency",
    "subtotal_minor",
    "discount_minor",
    "shipping_minor",
    "tax_minor",
    "total_minor",
    "refund_minor",
    "discount_code",
    "offer_tier",
    "sales_channel",
    "cancelled_at",
    "updated_at",
)


@dataclass(slots=True)
class Rollup:
    """Stateful: feed it the kept lines (no repeats) of every chunk in file order, with ``RUN``.

    ``orders`` False builds only the order id of each run (enough to prove contiguity).
    """

    cancellation_prefix: str | None = "C"
    orders: bool = True
    notes: Counter[str] = field(default_factory=Counter)
    _open: pl.DataFrame | None = None

    def __call__(self, lines: pl.DataFrame) -> pl.DataFrame:
        """Roll up one chunk into the orders it completed; the last order stays open until a
        later chunk or :meth:`finish`."""
        if self.orders:
            self._count_lines(lines)
        pending = lines
        if self._open is not None and self._open.height:
            pending = pl.concat([self._open, lines], how="diagonal_relaxed")
        if pending.height:
            last = pending[RUN][-1]
            done = pending.filter(pl.col(RUN) != last)
            self._open = pending.filter(pl.col(RUN) == last)
        else:
            done = pending
        return self._build_orders(done)

    def finish(self) -> pl.DataFrame:
        """The orders still open at the end of the load (the last one)."""
        rest = self._open if self._open is not None else pl.DataFrame()
        self._open = None
        return self._build_orders(rest) if rest.height else pl.DataFrame()

    def _count_lines(self, lines: pl.DataFrame) -> None:
        kinds = lines.filter(pl.col("line_kind") != "product")["line_kind"].value_counts()
        for kind, n in kinds.iter_rows():
            self.notes[f"non_product_lines:{kind}"] += int(n)
        stats = lines.select(
            (pl.col("unit_price_minor") == 0).sum().alias("zero_price_lines"),
            (pl.col("unit_price_minor") < 0).sum().alias("negative_price_lines"),
            (pl.col("quantity") < 0).sum().alias("negative_quantity_lines"),
        )
        for name, value in stats.row(0, named=True).items():
            if value:
                self.notes[name] += int(value)

    def _build_orders(self, lines: pl.DataFrame) -> pl.DataFrame:
        if not self.orders:
            return lines.group_by(RUN, maintain_order=True).agg(pl.col("order_id").first())
        orders = _orders(lines, self.cancellation_prefix)
        stats = orders.select(
            pl.col("is_guest").sum().alias("guest_orders"),
            (pl.col("status") == "cancelled").sum().alias("cancelled_orders"),
            (pl.col("status") == "returned").sum().alias("return_orders"),
        )
        for name, value in stats.row(0, named=True).items():
            if value:
                self.notes[name] += int(value)
        return orders


def _orders(lines: pl.DataFrame, cancellation_prefix: str | None) -> pl.DataFrame:
    """One order per run of lines, as :func:`assemble.orders_from_lines` builds it."""
    cols = set(lines.columns)
    kind = pl.col("line_kind")
    product = kind == "product"
    line_total = pl.col("quantity") * pl.col("unit_price_minor")
    given = [pl.col(n).max().alias(n) for n in ORDER_LEVEL if n in cols]
    grouped = lines.group_by(RUN, maintain_order=True).agg(
        pl.col("order_id").first(),
        pl.col("ordered_at").min(),
        line_total.filter(product).sum().alias("_lines_subtotal"),
        line_total.filter(kind == "shipping").sum().alias("_lines_shipping"),
        (-line_total).filter(kind == "discount").sum().alias("_lines_discount"),
        line_total.sum().alias("_lines_total"),
        pl.col("quantity").min().alias("_min_qty"),
        pl.col("quantity").max().alias("_max_qty"),
        pl.when(product.any()).then(pl.col("quantity").filter(product).sum()).alias("item_count"),
        pl.col("source_file").max(),
        pl.col("source").max(),
        *given,
    )
    all_negative = (pl.col("_max_qty") <= 0) & (pl.col("_min_qty") < 0)
    prefix = cancellation_prefix or ""
    cancelled = (
        pl.col("order_id").str.starts_with(prefix) & all_negative if prefix else pl.lit(False)
    )
    derived = (
        pl.when(cancelled)
        .then(pl.lit("cancelled"))
        .when(all_negative)
        .then(pl.lit("returned"))
        .otherwise(pl.lit("completed"))
    )

    def given_or(name: str, dtype: pl.DataType) -> pl.Expr:
        return pl.col(name) if name in cols else pl.lit(None, dtype=dtype)

    customer = given_or("customer_id", pl.String())
    return grouped.with_columns(
        customer.alias("customer_id"),
        customer.is_null().alias("is_guest"),
        pl.coalesce(given_or("status", pl.String()), derived).alias("status"),
        pl.coalesce(given_or("subtotal_minor", pl.Int64()), "_lines_subtotal").alias(
            "subtotal_minor"
        ),
        pl.coalesce(given_or("shipping_minor", pl.Int64()), "_lines_shipping").alias(
            "shipping_minor"
        ),
        pl.coalesce(given_or("discount_minor", pl.Int64()), "_lines_discount").alias(
            "discount_minor"
        ),
        pl.coalesce(given_or("total_minor", pl.Int64()), "_lines_total").alias("total_minor"),
    ).drop(
        RUN,
        "_lines_subtotal",
        "_lines_shipping",
        "_lines_discount",
        "_lines_total",
        "_min_qty",
        "_max_qty",
    )
