"""The standard customer features (see ``docs/FEATURES.md``, generated from this registry).

Units: money in the orders' minor units (one store currency is assumed; amounts in other
currencies are summed as they are), durations in days or hours, timestamps in UTC.
"""

from __future__ import annotations

from collections.abc import Callable

import ibis
import ibis.expr.types as ir

from aftersale.domain.slices import SLICES
from aftersale.features.config import SignalEvents
from aftersale.features.registry import Feature, FeatureRegistry
from aftersale.features.sources import (
    FeatureContext,
    json_number,
    seconds,
)

__all__ = ["EVIDENCE_KINDS", "STANDARD_FEATURES", "evidence_column", "standard_registry"]

EVIDENCE_KINDS: tuple[str, ...] = ("question", "search", "topic")
"""Text kinds whose words count as evidence of a buyer slice."""

Where = Callable[[ir.Table, FeatureContext], ir.BooleanValue]
_HOUR = 3_600.0
_ALL = "all history"
_NOW = "at as_of"


def evidence_column(kind: str, slice_name: str) -> str:
    """Name of the feature counting ``kind`` texts classified as ``slice_name``."""
    return f"{kind}_{slice_name}_hits"


def _count(where: ir.BooleanValue) -> ir.IntegerValue:
    return where.cast("int64").sum()


def _recent(ctx: FeatureContext, t: ir.NumericValue, days: int) -> ir.BooleanValue:
    return ctx.since_days_ago(t, days)


def _ratio(num: ir.NumericValue, den: ir.NumericValue) -> ir.FloatingValue:
    return num.cast("float64") / den.cast("float64").nullif(0)


def _days_since(ctx: FeatureContext, at: ir.TimestampValue) -> ir.FloatingValue:
    return ctx.days_since(seconds(at))


def _hours_between(start: ir.TimestampValue, end: ir.TimestampValue) -> ir.FloatingValue:
    hours = (seconds(end) - seconds(start)) / _HOUR
    return ibis.ifelse(hours < 0, 0.0, hours)  # null stays null: no event, no duration


def _order_features() -> list[Feature]:
    def f(name: str, dtype: str, unit: str, description: str, expr, default=None) -> Feature:  # type: ignore[no-untyped-def]
        return Feature(name, dtype, unit, _ALL, description, "orders", expr, default)  # type: ignore[arg-type]

    return [
        f("first_order_at", "timestamp", "UTC", "When the first purchase was placed.",
          lambda t, c: t.at.min()),
        f("last_order_at", "timestamp", "UTC", "When the latest purchase was placed.",
          lambda t, c: t.at.max()),
        f("orders", "int64", "orders", "Purchases placed (cancelled orders excluded).",
          lambda t, c: t.count(), 0),
        f("monetary_minor", "int64", "minor units", "Total paid over all purchases.",
          lambda t, c: t.total_minor.sum(), 0),
        f("last_order_minor", "int64", "minor units", "Value of the latest purchase.",
          lambda t, c: t.total_minor.argmax(t.seq)),
        f("discounted_orders", "int64", "orders", "Purchases with a discount or a code.",
          lambda t, c: _count(t.discounted), 0),
        f("coupon_orders", "int64", "orders", "Purchases with a discount code (coupon use).",
          lambda t, c: _count(t.coupon), 0),
        f("refunded_orders", "int64", "orders", "Purchases refunded in full or in part.",
          lambda t, c: _count(t.refund_minor > 0), 0),
        f("refund_minor", "int64", "minor units", "Amount refunded so far.",
          lambda t, c: t.refund_minor.sum(), 0),
        f("first_offer_tier", "string", "", "Offer tier of the first purchase (starter, pro...).",
          lambda t, c: t.offer_tier.argmin(t.seq)),
        f("first_sales_channel", "string", "", "Sales channel of the first purchase.",
          lambda t, c: t.sales_channel.argmin(t.seq)),
        f("last_sales_channel", "string", "", "Sales channel of the latest purchase.",
          lambda t, c: t.sales_channel.argmax(t.seq)),
    ]  # fmt: skip


def _gap_features() -> list[Feature]:
    def f(name: str, description: str, expr, unit: str = "days", dtype: str = "float64") -> Feature:  # type: ignore[no-untyped-def]
        return Feature(name, dtype, unit, _ALL, description, "gaps", expr)  # type: ignore[arg-type]

    return [
        f("gap_count", "Gaps between consecutive purchases (purchases - 1).",
          lambda t, c: t.gap_days.count(), "gaps", "int64"),
        f("gap_mean_days", "Mean days between consecutive purchases.",
          lambda t, c: t.gap_days.mean()),
        f("gap_median_days", "Median days between consecutive purchases.",
          lambda t, c: t.gap_days.median()),
        f("gap_std_days", "Standard deviation of the days between purchases.",
          lambda t, c: t.gap_days.std()),
        f("last_gap_days", "Days between the latest purchase and the one before it.",
          lambda t, c: t.gap_days.argmax(t.seq)),
    ]  # fmt: skip


def _line_features() -> list[Feature]:
    return [
        Feature("product_lines", "int64", "lines", _ALL, "Product lines bought.", "lines",
                lambda t, c: t.count(), 0),
        Feature("full_price_lines", "int64", "lines", _ALL,
                "Product lines bought without any discount.", "lines",
                lambda t, c: _count(t.full_price), 0),
    ]  # fmt: skip


def _configured_counts(signals: SignalEvents) -> list[Feature]:
    """One count per ``[signals.counts]`` entry, plus help-page views (``help_paths``)."""

    recent = signals.recent_days
    return [
        *[
            Feature(name, "int64", "events", _ALL, f"{rule.describe()} events.", "events",
                    (lambda flag: lambda t, c: _count(t[flag]))(f"is_count_{name}"), 0)
            for name, rule in signals.counts.items()
        ],
        Feature("help_page_views_recent", "int64", "views", f"last {recent} days",
                "Help / FAQ page views lately (signals.help_paths).", "events",
                lambda t, c: _count(t.is_help_page & _recent(c, t.t, c.signals.recent_days)),
                0),
    ]  # fmt: skip


def _event_features(recent: int, long: int, usage: int) -> list[Feature]:
    def count(name: str, unit: str, window: str, description: str, where) -> Feature:  # type: ignore[no-untyped-def]
        return Feature(name, "int64", unit, window, description, "events",
                       lambda t, c: _count(where(t, c)), 0)  # fmt: skip

    def at(name: str, description: str, expr) -> Feature:  # type: ignore[no-untyped-def]
        return Feature(name, "timestamp", "UTC", _ALL, description, "events", expr)

    def activation(t: ir.Table, c: FeatureContext) -> ir.BooleanValue:
        return t.is_activation

    def first_win(t: ir.Table, c: FeatureContext) -> ir.BooleanValue:
        return t.is_first_win

    def key(t: ir.Table, c: FeatureContext) -> ir.BooleanValue:
        return t.is_key_action

    last_recent = f"last {recent} days"
    last_long = f"last {long} days"

    def named(name: str) -> Where:
        return lambda t, c: t.event == name

    def named_recent(name: str, days: int) -> Where:
        return lambda t, c: (t.event == name) & _recent(c, t.t, days)

    return [
        at("activated_at", "First activation event (configurable: signals.activation).",
           lambda t, c: t.at.min(where=activation(t, c))),
        count("onboarding_steps", "steps", _ALL, "Activation / onboarding events done.",
              activation),
        at("first_win_at", "First first-win event (configurable: signals.first_win).",
           lambda t, c: t.at.min(where=first_win(t, c))),
        count("key_actions", "actions", _ALL, "Key actions done (configurable).", key),
        count("key_actions_recent", "actions", f"last {usage} days",
              "Key actions in the usage window (signals.usage_days).",
              lambda t, c: key(t, c) & _recent(c, t.t, c.signals.usage_days)),
        at("last_key_action_at", "Latest key action.",
           lambda t, c: t.at.max(where=key(t, c))),
        count("email_opens_recent", "opens", last_recent, "Marketing emails opened.",
              named_recent("Email Opened", recent)),
        count("email_opens_long", "opens", last_long, "Marketing emails opened.",
              named_recent("Email Opened", long)),
        count("email_clicks_recent", "clicks", last_recent, "Email links clicked.",
              named_recent("Email Link Clicked", recent)),
        count("email_clicks_long", "clicks", last_long, "Email links clicked.",
              named_recent("Email Link Clicked", long)),
        count("searches", "searches", _ALL, "Site searches.", named("Products Searched")),
        count("searches_recent", "searches", last_recent, "Site searches.",
              named_recent("Products Searched", recent)),
        count("checkout_questions", "questions", _ALL, "Questions asked at checkout.",
              named("Checkout Question Asked")),
        count("pricing_views", "views", _ALL, "Pricing page views.", named("Pricing Viewed")),
        count("pricing_views_recent", "views", last_recent,
              "Pricing / upgrade page views lately (upgrade intent).",
              named_recent("Pricing Viewed", recent)),
        count("referrals_shared", "shares", _ALL, "Referral links shared.",
              named("Referral Shared")),
        count("reviews", "reviews", _ALL, "Reviews written.", named("Review Submitted")),
        Feature("review_rating_mean", "float64", "stars", _ALL, "Mean review rating.", "events",
                lambda t, c: json_number(t.properties, "rating").mean(
                    where=t.event == "Review Submitted")),
        count("refund_requests", "requests", _ALL, "Refund requests.",
              named("Refund Requested")),
        count("refund_requests_recent", "requests", last_recent, "Refund requests.",
              named_recent("Refund Requested", recent)),
        count("support_tickets", "tickets", _ALL, "Support tickets opened.",
              named("Support Ticket Created")),
        count("support_tickets_recent", "tickets", last_recent, "Support tickets opened.",
              named_recent("Support Ticket Created", recent)),
        count("unsubscribes", "events", _ALL, "Unsubscribe events (any channel).",
              named("Unsubscribed")),
        at("last_event_at", "Latest behaviour event of any kind.", lambda t, c: t.at.max()),
    ]  # fmt: skip


def _text_features(recent: int) -> list[Feature]:
    def count(name: str, window: str, description: str, where, evidence: bool = False) -> Feature:  # type: ignore[no-untyped-def]
        return Feature(name, "int64", "texts", window, description, "texts",
                       lambda t, c: _count(where(t, c)), 0, evidence)  # fmt: skip

    def text(name: str, description: str, expr) -> Feature:  # type: ignore[no-untyped-def]
        return Feature(name, "string", "", _ALL, description, "texts", expr)

    last_recent = f"last {recent} days"
    evidence = [
        count(evidence_column(kind, s), _ALL, f"{kind.capitalize()} texts in {s} words.",
              (lambda k, s_: lambda t, c: (t.kind == k) & (t.slice == s_))(kind, s), True)
        for kind in EVIDENCE_KINDS
        for s in SLICES
    ]  # fmt: skip

    def tone(kinds: tuple[str, ...], tones: tuple[str, ...], days: int | None = None) -> Where:
        def where(t: ir.Table, c: FeatureContext) -> ir.BooleanValue:
            cond = t.kind.isin(kinds) & t.tone.isin(tones)
            return cond & _recent(c, t.t, days) if days else cond

        return where

    complaint = ("ticket", "refund_reason", "review")

    def survey(t: ir.Table) -> ir.BooleanValue:
        return t.kind == "survey"

    return [
        *evidence,
        text("survey_answer", "Latest answer to the one-question survey.",
             lambda t, c: t.text.argmax(t.seq, where=survey(t))),
        text("survey_slice", "Slice the latest survey answer points to (lexicons).",
             lambda t, c: t.slice.argmax(t.seq, where=survey(t))),
        text("last_clicked_topic", "Topic of the latest email link clicked.",
             lambda t, c: t.text.argmax(t.seq, where=t.kind == "topic")),
        Feature("topics_clicked", "int64", "topics", _ALL, "Distinct email topics clicked.",
                "texts", lambda t, c: t.text.nunique(where=t.kind == "topic"), 0),
        count("tickets_confused", _ALL, "Tickets in a confused tone.",
              tone(("ticket",), ("confusion",))),
        count("tickets_angry", _ALL, "Tickets in an angry tone.", tone(("ticket",), ("anger",))),
        count("confused_texts_recent", last_recent, "Confused tickets lately.",
              tone(("ticket",), ("confusion",), recent)),
        count("angry_texts_recent", last_recent, "Angry tickets or reviews lately.",
              tone(complaint, ("anger",), recent)),
        count("disappointed_texts_recent", last_recent,
              "Tickets, refund reasons or reviews saying it is not what they expected.",
              tone(complaint, ("disappointment",), recent)),
        count("refund_language_recent", last_recent, "Texts asking for money back.",
              tone(complaint, ("refund",), recent)),
        Feature("ticket_sentiment_min", "float64", "compound", _ALL,
                "Most negative ticket (VADER compound score, -1..1).", "texts",
                lambda t, c: t.sentiment.min(where=t.kind == "ticket")),
        text("last_ticket_tone", "Tone of the latest support ticket.",
             lambda t, c: t.tone.argmax(t.seq, where=t.kind == "ticket")),
    ]  # fmt: skip


def _derived_features() -> list[Feature]:
    def d(name: str, dtype: str, unit: str, description: str, expr, default=None) -> Feature:  # type: ignore[no-untyped-def]
        return Feature(name, dtype, unit, _NOW, description, "derived", expr, default)  # type: ignore[arg-type]

    return [
        d("recency_days", "float64", "days", "Days since the latest purchase (RFM recency).",
          lambda w, c: _days_since(c, w.last_order_at)),
        d("tenure_days", "float64", "days", "Days since the first purchase.",
          lambda w, c: _days_since(c, w.first_order_at)),
        d("frequency", "int64", "orders", "Repeat purchases (purchases after the first).",
          lambda w, c: w.orders - 1),
        d("aov_minor", "float64", "minor units", "Average order value.",
          lambda w, c: _ratio(w.monetary_minor, w.orders)),
        d("gap_cv", "float64", "ratio", "Coefficient of variation of the days between purchases.",
          lambda w, c: _ratio(w.gap_std_days, w.gap_mean_days)),
        d("discount_share", "float64", "share", "Share of purchases with a discount.",
          lambda w, c: _ratio(w.discounted_orders, w.orders), 0.0),
        d("full_price_share", "float64", "share", "Share of product lines bought at full price.",
          lambda w, c: _ratio(w.full_price_lines, w.product_lines)),
        d("value_vs_category_median", "float64", "ratio",
          "Mean unit price paid against the median unit price of the same category (1 = typical).",
          lambda w, c: _ratio(w._price_ratio_sum, w._product_lines)),
        d("categories_bought", "int64", "categories", "Distinct categories bought.",
          lambda w, c: w._categories, 0),
        d("top_category", "string", "", "Category with the strongest (smoothed) affinity.",
          lambda w, c: w._top_category),
        d("top_category_share", "float64", "share", "Share of product lines in the top category.",
          lambda w, c: w._top_category_share),
        d("refund_rate", "float64", "share", "Share of purchases refunded.",
          lambda w, c: _ratio(w.refunded_orders, w.orders), 0.0),
        d("hours_to_activation", "float64", "hours", "Hours from first purchase to activation.",
          lambda w, c: _hours_between(w.first_order_at, w.activated_at)),
        d("hours_to_first_win", "float64", "hours",
          "Hours from first purchase to the first win (time-to-first-win).",
          lambda w, c: _hours_between(w.first_order_at, w.first_win_at)),
        d("hours_since_first_order", "float64", "hours", "Hours since the first purchase.",
          lambda w, c: _days_since(c, w.first_order_at) * 24.0),
        d("days_since_key_action", "float64", "days", "Days since the latest key action.",
          lambda w, c: _days_since(c, w.last_key_action_at)),
        d("days_of_silence", "float64", "days",
          "Days since the customer last did anything we saw (purchase or event).",
          lambda w, c: _days_since(c, ibis.greatest(
              w.last_order_at, w.last_event_at.fill_null(w.last_order_at)))),
        d("expected_gap_days", "float64", "days",
          "The customer's own purchase rhythm: median gap shrunk toward the store's median.",
          lambda w, c: (w.gap_count.fill_null(0) * w.gap_median_days.fill_null(0)
                        + w._gap_prior_weight * w._store_gap_median)
          / (w.gap_count.fill_null(0) + w._gap_prior_weight)),
        d("lateness", "float64", "ratio",
          "Days since the latest purchase against the expected gap (1 = due now).",
          lambda w, c: _ratio(w.recency_days, w.expected_gap_days)),
        d("last_gap_lateness", "float64", "ratio",
          "The gap before the latest purchase against the expected gap (won-back test).",
          lambda w, c: _ratio(w.last_gap_days, w.expected_gap_days)),
        *[
            Feature(f"{s}_evidence", "int64", "texts", _ALL,
                    f"Searches, questions and clicked topics in {s} words.", "derived",
                    (lambda s_: lambda w, c: sum(
                        (w[evidence_column(k, s_)] for k in EVIDENCE_KINDS[1:]),
                        w[evidence_column(EVIDENCE_KINDS[0], s_)]))(s),
                    0, True)
            for s in SLICES
        ],
    ]  # fmt: skip


_PREDICTIONS: tuple[tuple[str, str, str, str], ...] = (
    ("p_alive", "float64", "probability", "Chance the customer is still active (BG/NBD)."),
    ("expected_purchases_90d", "float64", "purchases", "Purchases expected in the next 90 days."),
    ("clv_12m", "float64", "minor units",
     "Discounted 12-month customer lifetime value (BG/NBD x Gamma-Gamma, at the set margin)."),
    ("next_order_at", "timestamp", "UTC", "When the next purchase is expected."),
    ("next_order_lower_at", "timestamp", "UTC", "Early end of the next-purchase interval."),
    ("next_order_upper_at", "timestamp", "UTC", "Late end of the next-purchase interval."),
    ("purchase_model", "string", "", "Which purchase model served (after any fallback)."),
    ("next_need_at", "timestamp", "UTC", "Earliest next-need date over the categories bought."),
    ("next_need_category", "string", "", "The category needed first."),
    ("cross_sell_item", "string", "", "Best complementary product for a recent buyer."),
    ("cross_sell_candidates", "int64", "products", "Complementary products worth offering."),
)  # fmt: skip


def _prediction_features() -> list[Feature]:
    """Model outputs joined into the feature table (null when the models were skipped)."""
    return [
        Feature(name, dtype, unit, _NOW, description + " (model)", "derived",  # type: ignore[arg-type]
                (lambda n: lambda w, c: w[f"_pred_{n}"])(name),
                0 if name == "cross_sell_candidates" else None)
        for name, dtype, unit, description in _PREDICTIONS
    ]  # fmt: skip


def standard_registry(signals: SignalEvents | None = None) -> FeatureRegistry:
    """The registry of standard features with the windows of ``signals`` (defaults when None)."""
    signals = signals or SignalEvents()
    recent, long, usage = signals.recent_days, signals.long_days, signals.usage_days
    return FeatureRegistry(
        [
            *_order_features(),
            *_gap_features(),
            *_line_features(),
            *_event_features(recent, long, usage),
            *_configured_counts(signals),
            *_text_features(recent),
            *_derived_features(),
            *_prediction_features(),
        ]
    )


STANDARD_FEATURES = standard_registry()
"""The standard registry with the default windows (documented in docs/FEATURES.md)."""
