"""Compose the feature table at ``as_of``: a full run, or an incremental refresh that carries
forward the aggregates of customers with nothing new since the previous snapshot.

Correctness of the carry-forward: an aggregate changes between two snapshots only when the
customer has an order, order update or event inside the longest window before the previous
snapshot or later, or rows loaded after it (late data). Those customers are *touched* and
recomputed; everyone else's aggregates are provably the same, and the derived features are
recomputed for all. A test checks the refresh against a full run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import ibis
import ibis.expr.types as ir

from aftersale.clock import ensure_utc
from aftersale.domain.events import ENGINE_SOURCE
from aftersale.features.categories import (
    category_shares,
    category_stats,
    category_summary,
    store_categories,
)
from aftersale.features.predictions import PREDICTION_COLUMNS
from aftersale.features.registry import FeatureRegistry
from aftersale.features.sources import FeatureContext, Materialise, Sources, prepare_views

__all__ = ["CATEGORY_STAT_COLUMNS", "FeatureTables", "Previous", "feature_tables", "touched"]

CATEGORY_STAT_COLUMNS = ("customer_id", "category", "lines", "value_minor", "unit_price_sum")


@dataclass(frozen=True)
class Previous:
    """The previous snapshot an incremental refresh builds on."""

    as_of: datetime
    computed_at: datetime
    features: ir.Table
    categories: ir.Table


@dataclass(frozen=True)
class FeatureTables:
    """Features per customer, and the per-customer × category affinity table."""

    features: ir.Table
    categories: ir.Table
    touched: ir.Table | None


def touched(sources: Sources, since: datetime, loaded_after: datetime) -> ir.Table:
    """Customers with any order, order change or event from ``since`` on, or rows loaded after
    ``loaded_after`` (late-arriving history)."""
    t_since = ibis.literal(ensure_utc(since), type="timestamp('UTC')")
    t_loaded = ibis.literal(ensure_utc(loaded_after), type="timestamp('UTC')")
    o = sources.orders
    changed = o.filter(
        o.customer_id.notnull(),
        (o.ordered_at >= t_since)
        | (o.updated_at >= t_since)
        | (o.cancelled_at >= t_since)
        | (o.loaded_at > t_loaded),
    ).select("customer_id")
    lines = sources.order_lines
    late_lines = lines.filter(lines.loaded_at > t_loaded).select("order_id").distinct()
    via_lines = o.semi_join(late_lines, "order_id").filter(o.customer_id.notnull())
    e = sources.events
    active = e.filter(
        e.customer_id.notnull(),
        e.source != ENGINE_SOURCE,
        (e.occurred_at >= t_since) | (e.loaded_at > t_loaded),
    ).select("customer_id")
    return changed.union(via_lines.select("customer_id"), active).distinct()


def _constants(views_gaps: ir.Table, prior_weight: float) -> ir.Table:
    """A one-row table of store-level values the derived features need."""
    gaps = views_gaps.filter(views_gaps.gap_days.notnull())
    return gaps.aggregate(
        _store_gap_median=gaps.gap_days.median().fill_null(30.0),
        _gap_prior_weight=ibis.literal(float(prior_weight)),
    )


def _with_predictions(wide: ir.Table, predictions: ir.Table | None) -> ir.Table:
    """Join the model outputs as ``_pred_*`` columns (typed nulls when there are none)."""
    if predictions is None:
        return wide.mutate(**{f"_pred_{n}": ibis.null(t) for n, t in PREDICTION_COLUMNS.items()})
    renamed = predictions.select(
        "customer_id",
        **{f"_pred_{n}": predictions[n].cast(t) for n, t in PREDICTION_COLUMNS.items()},
    )
    joined = wide.left_join(renamed, "customer_id")
    return joined.select(wide, *[renamed[f"_pred_{n}"] for n in PREDICTION_COLUMNS])


def feature_tables(
    sources: Sources,
    ctx: FeatureContext,
    registry: FeatureRegistry,
    *,
    affinity_alpha: float = 2.0,
    gap_prior_weight: float = 2.0,
    previous: Previous | None = None,
    predictions: ir.Table | None = None,
    materialise: Materialise | None = None,
) -> FeatureTables:
    """Build the feature and category tables at ``ctx.as_of`` (incremental when ``previous``).

    ``materialise`` stores the shared views once on the backend (see ``prepare_views``).
    """
    views = prepare_views(sources, ctx, materialise=materialise)
    changed: ir.Table | None = None
    if previous is None:
        aggregates = registry.aggregates(views, ctx)
        stats = category_stats(views)
    else:
        window = max(ctx.signals.recent_days, ctx.signals.long_days, ctx.signals.usage_days)
        since = ensure_utc(previous.as_of) - timedelta(days=window)
        changed = touched(sources, since, previous.computed_at)
        names = ["customer_id", *registry.aggregate_names()]
        fresh = registry.aggregates(views, ctx, customers=changed)
        kept = previous.features.select(names).anti_join(changed, "customer_id")
        aggregates = fresh.select(names).union(kept.cast(fresh.select(names).schema()))
        fresh_stats = category_stats(views, customers=changed)
        old_stats = previous.categories.select(*CATEGORY_STAT_COLUMNS).anti_join(
            changed, "customer_id"
        )
        stats = fresh_stats.union(old_stats.cast(fresh_stats.schema()))
    shares = category_shares(stats, store_categories(views), affinity_alpha)
    summary = category_summary(shares)
    wide = aggregates.left_join(summary, "customer_id").select(
        aggregates, *[summary[c] for c in summary.columns if c != "customer_id"]
    )
    wide = wide.cross_join(_constants(views.gaps, gap_prior_weight))
    wide = _with_predictions(wide, predictions)
    wide = registry.derive(wide, ctx)
    features = wide.select("customer_id", *registry.names())
    return FeatureTables(features=features, categories=shares, touched=changed)
