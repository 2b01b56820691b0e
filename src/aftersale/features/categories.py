"""What each customer buys by category: counts, smoothed shares, the top category, and prices
against the category median.

The per-customer × category counts are aggregates (carried forward by an incremental refresh);
the store's category medians and shares are recomputed at every ``as_of`` because every buyer
moves them, and the customer-level results are derived from both.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from aftersale.features.sources import Views

__all__ = ["category_stats", "category_summary", "store_categories"]


def category_stats(views: Views, customers: ir.Table | None = None) -> ir.Table:
    """Per customer and category: product lines, value and the sum of unit prices paid."""
    lines = views.lines
    if customers is not None:
        lines = lines.semi_join(customers, "customer_id")
    return lines.group_by(["customer_id", "category"]).aggregate(
        lines=lines.count(),
        value_minor=lines.value_minor.sum(),
        unit_price_sum=lines.unit_price.sum(),
    )


def store_categories(views: Views) -> ir.Table:
    """Per category across the store at ``as_of``: lines, share of lines and median unit price."""
    lines = views.lines
    per = lines.group_by("category").aggregate(
        store_lines=lines.count(), median_unit_price=lines.unit_price.median()
    )
    total = per.store_lines.sum().over(ibis.window())
    return per.mutate(store_share=per.store_lines.cast("float64") / total)


def category_shares(stats: ir.Table, store: ir.Table, alpha: float) -> ir.Table:
    """Smoothed shares per customer and category, ranked (1 = strongest affinity).

    share = (lines in category + alpha × store share) / (all lines + alpha): a customer with
    one order leans toward what the store sells, a regular's own mix dominates.
    """
    totals = stats.group_by("customer_id").aggregate(customer_lines=stats.lines.sum())
    joined = stats.join(totals, "customer_id").join(store, "category")
    raw = joined.lines.cast("float64") / joined.customer_lines
    smoothed = (joined.lines + alpha * joined.store_share) / (joined.customer_lines + alpha)
    ranked = joined.select(
        "customer_id",
        "category",
        "lines",
        "value_minor",
        "unit_price_sum",
        share=raw,
        smoothed_share=smoothed,
        price_ratio_sum=joined.unit_price_sum / joined.median_unit_price.nullif(0),
    )
    window = ibis.window(
        group_by="customer_id", order_by=[ibis.desc(ranked.smoothed_share), ranked.category]
    )
    return ranked.mutate(rank=ibis.row_number().over(window) + 1)


def category_summary(shares: ir.Table) -> ir.Table:
    """Per customer: top category and its share, categories bought, price against medians."""
    top = shares.filter(shares.rank == 1).select(
        "customer_id",
        _top_category=shares.category,
        _top_category_share=shares.share,
        _top_category_smoothed=shares.smoothed_share,
    )
    per = shares.group_by("customer_id").aggregate(
        _categories=shares.count(),
        _price_ratio_sum=shares.price_ratio_sum.sum(),
        _product_lines=shares.lines.sum(),
    )
    return per.join(top, "customer_id")
