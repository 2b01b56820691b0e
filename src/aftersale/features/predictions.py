"""Model outputs as customer features: P(alive), expected purchases, CLV, next order date,
next-need dates per category and cross-sell candidates.

The inputs are Ibis expressions (point in time, like every feature); the models are the
project's own numpy/scipy ones, so this step runs in Python on the executed inputs and hands
back plain frames that the feature table joins. Fits that fail or meet too little data warn
and fall back inside the models; with too few buyers the step is skipped and the features are
null (the value tier then uses spend instead of CLV).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from datetime import datetime

import ibis.expr.types as ir
import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from aftersale.clock import ensure_utc
from aftersale.features.rfm import TIME_UNITS, rfm_summary
from aftersale.features.sources import FeatureContext, Sources, Views
from aftersale.models import BasketRules, BetaGeoModel, GammaGammaModel, ReplenishmentModel

__all__ = [
    "PREDICTION_COLUMNS",
    "PredictionSettings",
    "Predictions",
    "cross_sell",
    "customer_predictions",
    "predict",
    "prediction_inputs",
    "replenishment",
]

PREDICTION_COLUMNS: dict[str, str] = {
    "p_alive": "float64",
    "expected_purchases_90d": "float64",
    "clv_12m": "float64",
    "next_order_at": "timestamp('UTC')",
    "next_order_lower_at": "timestamp('UTC')",
    "next_order_upper_at": "timestamp('UTC')",
    "purchase_model": "string",
    "next_need_at": "timestamp('UTC')",
    "next_need_category": "string",
    "cross_sell_item": "string",
    "cross_sell_candidates": "int64",
}
"""Customer-level prediction columns and their Ibis types."""


class PredictionSettings(BaseModel):
    """How the customer-base models are fitted and scored inside a snapshot."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    min_buyers: int = Field(default=200, ge=20, description="Fewer buyers: no predictions.")
    horizon_days: int = Field(default=90, ge=1, description="Window of expected_purchases_90d.")
    clv_months: int = Field(default=12, ge=1, le=120)
    discount_rate: float = Field(default=0.01, ge=0, lt=1, description="Monthly discount rate.")
    margin: float = Field(default=0.3, gt=0, le=1, description="Gross margin applied to spend.")
    interval_level: float = Field(default=0.8, gt=0, lt=1)
    cross_sell_min_support: float = Field(default=0.002, gt=0, lt=1)
    cross_sell_min_confidence: float = Field(default=0.1, gt=0, le=1)
    cross_sell_top: int = Field(default=3, ge=1, le=20)
    cross_sell_window_days: int = Field(
        default=30, ge=1, description="Offer cross-sell to customers who bought this recently."
    )


@dataclass
class Predictions:
    """Per-customer predictions, next-need rows per category, cross-sell rows, and warnings."""

    customers: pd.DataFrame
    needs: pd.DataFrame
    offers: pd.DataFrame
    warnings: list[str] = field(default_factory=list)
    skipped: str | None = None


def prediction_inputs(sources: Sources, ctx: FeatureContext, views: Views) -> dict[str, ir.Table]:
    """The point-in-time inputs of every model, as Ibis expressions."""
    lines = views.lines
    orders = views.purchases
    product = sources.order_lines.filter(
        sources.order_lines.line_kind == "product", sources.order_lines.product_id.notnull()
    )
    basket = product.join(orders, product.order_id == orders.order_id).select(
        order_id=orders.order_id,
        customer_id=orders.customer_id,
        item=product.product_id,
        t=orders.t,
    )
    return {
        "rfm": rfm_summary(sources.orders, ctx.as_of, "W"),
        "category_purchases": lines.select("customer_id", "category", purchased_at=lines.t),
        "baskets": basket.distinct(),
    }


def customer_predictions(
    rfm: pd.DataFrame, as_of: datetime, settings: PredictionSettings
) -> tuple[pd.DataFrame, list[str]]:
    """P(alive), expected purchases, CLV and next order dates for every buyer in ``rfm``."""
    caught: list[str] = []
    x = rfm["frequency"].to_numpy(dtype=float)
    t_x = rfm["recency"].to_numpy(dtype=float)
    age = rfm["T"].to_numpy(dtype=float)
    spend = rfm["monetary_value"].to_numpy(dtype=float)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        counts = BetaGeoModel().fit(x, t_x, age)
        p_alive = counts.probability_alive(x, t_x, age)
        horizon = settings.horizon_days / TIME_UNITS["W"]
        expected = counts.expected_purchases(horizon, x, t_x, age)
        repeat = x > 0
        clv = np.full(len(x), np.nan)
        if repeat.sum() >= 20:
            money = GammaGammaModel().fit(x[repeat], spend[repeat])
            clv = money.clv(
                counts, x, t_x, age, np.where(repeat, spend, 0.0),
                horizon_months=settings.clv_months, discount_rate=settings.discount_rate,
                margin=settings.margin, time_unit="W",
            )  # fmt: skip
        nxt = counts.expected_next_purchase(
            x, t_x, age, level=settings.interval_level,
            as_of=pd.Timestamp(ensure_utc(as_of)), time_unit="W",
        )  # fmt: skip
    caught += [f"{type(w.message).__name__}: {w.message}" for w in seen]
    frame = pd.DataFrame(
        {
            "customer_id": rfm["customer_id"].astype(str).to_numpy(),
            "p_alive": p_alive,
            "expected_purchases_90d": expected,
            "clv_12m": clv,
            "next_order_at": nxt["expected_date"].to_numpy(),
            "next_order_lower_at": nxt["date_lower"].to_numpy(),
            "next_order_upper_at": nxt["date_upper"].to_numpy(),
            "purchase_model": str(counts.model_used_),
        }
    )
    return frame, sorted(set(caught))


def replenishment(purchases: pd.DataFrame, as_of: datetime) -> pd.DataFrame:
    """Next-need date per customer and category (empirical-Bayes shrunk intervals)."""
    frame = pd.DataFrame(
        {
            "customer_id": purchases["customer_id"].astype(str),
            "category": purchases["category"].astype(str),
            "purchased_at": pd.to_datetime(purchases["purchased_at"], unit="s", utc=True),
        }
    )
    model = ReplenishmentModel(key="category").fit(frame)
    needs = model.predict(frame, as_of=pd.Timestamp(ensure_utc(as_of)))
    for column in ("last_purchase_at", "next_need_at", "next_need_lower_at", "next_need_upper_at"):
        needs[column] = needs[column].dt.round("s").astype("datetime64[us, UTC]")
    return needs


def cross_sell(
    baskets: pd.DataFrame, as_of: datetime, settings: PredictionSettings
) -> pd.DataFrame:
    """Complementary products for recent buyers, from basket rules, with the rule behind each."""
    rules = BasketRules(
        min_support=settings.cross_sell_min_support,
        min_confidence=settings.cross_sell_min_confidence,
    ).fit(baskets, basket_col="order_id", item_col="item")
    recent_from = ensure_utc(as_of).timestamp() - settings.cross_sell_window_days * 86_400.0
    last_t = baskets.groupby("customer_id")["t"].transform("max")
    latest = baskets[(baskets["t"] == last_t) & (baskets["t"] >= recent_from)]
    if latest.empty or rules.rules_ is None or rules.rules_.empty:
        return pd.DataFrame(
            columns=["customer_id", "rank", "item", "antecedents", "confidence", "lift", "support"]
        )
    offers = rules.recommend(
        baskets[["customer_id", "item"]],
        latest[["customer_id", "item"]],
        top_k=settings.cross_sell_top,
    )
    offers["antecedents"] = offers["antecedents"].map(lambda a: ", ".join(sorted(map(str, a))))
    return offers[["customer_id", "rank", "item", "antecedents", "confidence", "lift", "support"]]


def predict(
    inputs: dict[str, pd.DataFrame], as_of: datetime, settings: PredictionSettings
) -> Predictions:
    """Run every model on the executed inputs; skip (with the reason) when data are too few."""
    rfm = inputs["rfm"]
    if not settings.enabled:
        return _empty("predictions are disabled ([predictions] enabled = false)")
    if len(rfm) < settings.min_buyers:
        return _empty(
            f"only {len(rfm):,} buyers before {ensure_utc(as_of):%Y-%m-%d}; the models need at "
            f"least {settings.min_buyers:,} ([predictions] min_buyers)"
        )
    customers, caught = customer_predictions(rfm, as_of, settings)
    needs = replenishment(inputs["category_purchases"], as_of)
    upcoming = needs.sort_values(["customer_id", "next_need_at"]).drop_duplicates("customer_id")
    customers = customers.merge(
        upcoming[["customer_id", "next_need_at", "category"]].rename(
            columns={"category": "next_need_category"}
        ),
        on="customer_id",
        how="left",
    )
    offers = cross_sell(inputs["baskets"], as_of, settings)
    top = offers[offers["rank"] == 1][["customer_id", "item"]]
    counts = offers.groupby("customer_id").size().rename("cross_sell_candidates").reset_index()
    customers = customers.merge(top.rename(columns={"item": "cross_sell_item"}), how="left")
    customers = customers.merge(counts, how="left", on="customer_id")
    customers["cross_sell_candidates"] = (
        customers["cross_sell_candidates"].fillna(0).astype("int64")
    )
    return Predictions(customers[["customer_id", *PREDICTION_COLUMNS]], needs, offers, caught)


def _empty(reason: str) -> Predictions:
    empty = pd.DataFrame({"customer_id": pd.Series([], dtype="str")})
    return Predictions(empty, pd.DataFrame(), pd.DataFrame(), [], skipped=reason)
