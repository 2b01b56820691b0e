"""The feature registry: each feature's name, type, unit, window, meaning and Ibis expression.

A feature is either an *aggregate* (a reduction over one point-in-time view, per customer) or
*derived* (a column expression over the aggregates, the category table and ``as_of``).
Aggregates only change when the customer has new data or a windowed event ages out, so an
incremental refresh recomputes them for touched customers only; derived features are cheap and
always recomputed for everyone. The registry builds both as Ibis expressions, so one definition
runs on every backend and is documented from the same place (``docs/FEATURES.md``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

import ibis
import ibis.expr.types as ir

from aftersale.errors import ConfigError
from aftersale.features.sources import FeatureContext, Views

__all__ = ["DTYPES", "Feature", "FeatureRegistry", "Source"]

Source = Literal["orders", "gaps", "lines", "events", "texts", "derived"]
DType = Literal["int64", "float64", "string", "timestamp", "boolean"]

DTYPES: dict[str, str] = {
    "int64": "int64",
    "float64": "float64",
    "string": "string",
    "timestamp": "timestamp('UTC')",
    "boolean": "boolean",
}
_AGGREGATE_SOURCES: tuple[Source, ...] = ("orders", "gaps", "lines", "events", "texts")


@dataclass(frozen=True)
class Feature:
    """One customer feature and the Ibis expression that computes it."""

    name: str
    dtype: DType
    unit: str
    window: str
    description: str
    source: Source
    expr: Callable[[ir.Table, FeatureContext], ir.Value]
    default: int | float | bool | None = None
    evidence: bool = False
    """Evidence columns feed slices and health; profiles show them only on request."""

    def build(self, table: ir.Table, ctx: FeatureContext) -> ir.Value:
        """The expression over ``table`` cast to the declared type."""
        return self.expr(table, ctx).cast(DTYPES[self.dtype]).name(self.name)


class FeatureRegistry:
    """An ordered, name-unique set of features (derived ones may use any earlier feature)."""

    def __init__(self, features: Iterable[Feature]) -> None:
        self._features: dict[str, Feature] = {}
        for feature in features:
            if feature.name in self._features:
                raise ConfigError(f"feature {feature.name!r} is defined twice", key=feature.name)
            if not feature.name.isidentifier() or feature.name != feature.name.lower():
                raise ConfigError(
                    f"feature name {feature.name!r} must be a lower-case identifier",
                    key=feature.name,
                )
            self._features[feature.name] = feature

    def __iter__(self) -> Iterator[Feature]:
        return iter(self._features.values())

    def __len__(self) -> int:
        return len(self._features)

    def __contains__(self, name: object) -> bool:
        return name in self._features

    def __getitem__(self, name: str) -> Feature:
        return self._features[name]

    def names(self) -> list[str]:
        """Every feature name in definition order."""
        return list(self._features)

    def aggregate_names(self) -> list[str]:
        """Names of the aggregate (carried-forward) features."""
        return [f.name for f in self if f.source != "derived"]

    def from_source(self, source: Source) -> list[Feature]:
        """The features computed from one view."""
        return [f for f in self if f.source == source]

    def aggregates(
        self, views: Views, ctx: FeatureContext, customers: ir.Table | None = None
    ) -> ir.Table:
        """One row per buyer known at ``as_of`` with every aggregate feature.

        ``customers`` (a one-column table of ``customer_id``) limits the work to those
        customers; the incremental refresh passes the touched ones.
        """
        purchases = views.purchases
        if customers is not None:
            purchases = purchases.semi_join(customers, "customer_id")
        population = purchases.select("customer_id").distinct()
        tables = {
            "orders": purchases,
            "gaps": views.gaps,
            "lines": views.lines,
            "events": views.events,
            "texts": views.texts,
        }
        result = population
        for source in _AGGREGATE_SOURCES:
            features = self.from_source(source)
            if not features:
                continue
            table = tables[source]
            if source != "orders":
                table = table.semi_join(population, "customer_id")
            per_customer = table.group_by("customer_id").aggregate(
                [f.build(table, ctx) for f in features]
            )
            result = result.left_join(per_customer, "customer_id").select(
                result, *[per_customer[f.name] for f in features]
            )
        fills = {f.name: f.default for f in self if f.source != "derived" and f.default is not None}
        return result.fill_null(fills) if fills else result

    def derive(self, table: ir.Table, ctx: FeatureContext) -> ir.Table:
        """Add every derived feature to ``table`` (aggregates joined with category stats)."""
        for feature in self.from_source("derived"):
            table = table.mutate(feature.build(table, ctx))
            if feature.default is not None:
                table = table.mutate(
                    ibis.coalesce(table[feature.name], feature.default).name(feature.name)
                )
        return table
