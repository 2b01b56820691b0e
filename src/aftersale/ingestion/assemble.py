"""Turn the staged rows of one load into canonical rows, as Ibis expressions.

Runs after every chunk has been staged, so it sees the whole load: exact duplicate rows are
dropped (first row kept), rows that share a natural key but disagree are settled (the latest
row wins, the others are quarantined), order lines get their positions, and orders and
customers are rebuilt from line-level exports. Everything is an Ibis expression, so the same
code runs on any warehouse backend.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import ibis
import ibis.expr.types as ir

from aftersale.ingestion.rollup import ORDER_LEVEL

__all__ = [
    "HASH",
    "Deduped",
    "customers_from_rows",
    "dedupe",
    "lines_with_positions",
    "orders_from_lines",
    "products_from_lines",
]

FILE, ROW, HASH = "_file", "_row", "_h"
_CONTACT = ("email", "phone", "first_name", "last_name", "country", "time_zone")


@dataclass(frozen=True, slots=True)
class Deduped:
    """Rows to keep, rows that were exact duplicates, and conflicting rows to quarantine."""

    kept: ir.Table
    duplicates: ir.Table
    conflicts: ir.Table


def dedupe(
    staged: ir.Table,
    key: str | None,
    on_conflict: Literal["latest", "first"] = "latest",
) -> Deduped:
    """Drop exact duplicates, then settle rows sharing ``key``.

    ``latest`` keeps the last row of a key and sends earlier, different rows to quarantine
    (an update later in the file wins). ``first`` keeps the first row and counts the rest as
    duplicates (Segment ``messageId`` semantics: a resent id is the same event).
    """
    if HASH in staged.columns:
        # A hash of the row's values (computed when staging) stands for all of them; the key
        # joins it so a hash collision would also need the same key.
        identity = [HASH, key] if key else [HASH]
    else:
        identity = [c for c in staged.columns if c not in (FILE, ROW, "source_file")]
    order = [ibis.asc(FILE), ibis.asc(ROW)]
    ranked = staged.mutate(_dup=ibis.row_number().over(group_by=identity, order_by=order))
    distinct = ranked.filter(ranked._dup == 0).drop("_dup")
    exact = ranked.filter(ranked._dup > 0).drop("_dup")
    if key is None:
        empty = distinct.filter(ibis.literal(False))
        return Deduped(distinct, exact, empty)
    direction = [ibis.desc(FILE), ibis.desc(ROW)] if on_conflict == "latest" else order
    keyed = distinct.mutate(
        _rank=ibis.row_number().over(group_by=key, order_by=direction),
        _winner_row=distinct[ROW].first().over(ibis.window(group_by=key, order_by=direction)),
    )
    kept = keyed.filter(keyed._rank == 0).drop("_rank", "_winner_row")
    losers = keyed.filter(keyed._rank > 0).drop("_rank")
    if on_conflict == "first":
        return Deduped(
            kept, exact.union(losers.drop("_winner_row")), losers.filter(ibis.literal(False))
        )
    return Deduped(kept, exact, losers)


def lines_with_positions(lines: ir.Table) -> ir.Table:
    """Number lines 1.. within each order in file order (unless the source numbered them)."""
    numbered = lines.mutate(
        _pos=ibis.row_number().over(group_by="order_id", order_by=[ibis.asc(FILE), ibis.asc(ROW)])
    )
    position = numbered._pos + 1
    if "line_number" in lines.columns:
        position = ibis.coalesce(numbered.line_number, position)
    numbered = numbered.mutate(line_number=position.cast("int64")).drop("_pos")
    return numbered.mutate(
        line_id=numbered.order_id.concat(":", numbered.line_number.cast("string"))
    )


def orders_from_lines(lines: ir.Table, cancellation_prefix: str | None) -> ir.Table:
    """Rebuild one order per ``order_id`` from its lines.

    Order-level fields repeated (or only present on the first line, Shopify-style) are taken
    as the row's non-blank value; amounts not given at order level are summed from the lines
    by kind; a document whose product quantities are all negative is a cancellation (with the
    prefix) or a return.
    """
    cols = set(lines.columns)
    product = lines.line_kind == "product"
    line_total = lines.quantity * lines.unit_price_minor
    agg: dict[str, ir.Value] = {
        "ordered_at": lines.ordered_at.min(),
        "_lines_subtotal": line_total.sum(where=product),
        "_lines_shipping": line_total.sum(where=lines.line_kind == "shipping"),
        "_lines_discount": (-line_total).sum(where=lines.line_kind == "discount"),
        "_lines_total": line_total.sum(),
        "_min_qty": lines.quantity.min(),
        "_max_qty": lines.quantity.max(),
        "item_count": lines.quantity.sum(where=product),
        "_source_file": lines.source_file.max(),
        "source": lines.source.max(),
    }
    for name in ORDER_LEVEL:
        if name in cols:
            agg[name] = lines[name].max()
    grouped = lines.group_by("order_id").aggregate(**agg)
    all_negative = (grouped._max_qty <= 0) & (grouped._min_qty < 0)
    prefix = cancellation_prefix or ""
    if prefix:
        cancelled = grouped.order_id.startswith(prefix) & all_negative
    else:
        cancelled = ibis.literal(False)
    derived_status = ibis.cases(
        (cancelled, "cancelled"), (all_negative, "returned"), else_="completed"
    )
    given = grouped.status if "status" in cols else ibis.null("string")
    shipping = grouped.shipping_minor if "shipping_minor" in cols else ibis.null("int64")
    discount = grouped.discount_minor if "discount_minor" in cols else ibis.null("int64")
    subtotal = grouped.subtotal_minor if "subtotal_minor" in cols else ibis.null("int64")
    total = grouped.total_minor if "total_minor" in cols else ibis.null("int64")
    customer = grouped.customer_id if "customer_id" in cols else ibis.null("string")
    out = grouped.mutate(
        customer_id=customer,
        is_guest=customer.isnull(),
        status=ibis.coalesce(given, derived_status),
        subtotal_minor=ibis.coalesce(subtotal, grouped._lines_subtotal.fill_null(0)),
        shipping_minor=ibis.coalesce(shipping, grouped._lines_shipping.fill_null(0)),
        discount_minor=ibis.coalesce(discount, grouped._lines_discount.fill_null(0)),
        total_minor=ibis.coalesce(total, grouped._lines_total.fill_null(0)),
        source_file=grouped._source_file,
    )
    return out.drop(
        "_lines_subtotal",
        "_lines_shipping",
        "_lines_discount",
        "_lines_total",
        "_min_qty",
        "_max_qty",
        "_source_file",
    )


def customers_from_rows(rows: ir.Table) -> ir.Table:
    """One customer per id from rows that carry contact fields (guests are left out)."""
    known = rows.filter(rows.customer_id.notnull())
    agg: dict[str, ir.Value] = {n: known[n].max() for n in _CONTACT if n in known.columns}
    agg["source_file"] = known.source_file.max()
    agg["source"] = known.source.max()
    return known.group_by("customer_id").aggregate(**agg)


def products_from_lines(lines: ir.Table) -> ir.Table:
    """One product per id seen on product lines (name and category as sold)."""
    sold = lines.filter(lines.line_kind == "product")
    agg: dict[str, ir.Value] = {
        "name": sold.product_name.max() if "product_name" in sold.columns else ibis.null("string"),
        "category": sold.category.max() if "category" in sold.columns else ibis.null("string"),
        "source_file": sold.source_file.max(),
        "source": sold.source.max(),
    }
    return sold.group_by("product_id").aggregate(**agg)
