"""Lifecycle stage, judged against each customer's own purchase rhythm where there is one.

Stages apply in this order, first match wins: lapsed, at_risk, won_back, new, onboarding,
loyal, mid_tenure, active. "Late" means days since the latest purchase divided by the
customer's expected gap (their median gap shrunk toward the store's), so a weekly coffee buyer
is at risk after a few weeks and a yearly buyer is not.
"""

from __future__ import annotations

from aftersale.segments.config import LifecycleConfig
from aftersale.segments.rules import Condition, Signal

__all__ = ["STAGES", "lifecycle_rules"]

STAGES = (
    "lapsed",
    "at_risk",
    "won_back",
    "new",
    "onboarding",
    "loyal",
    "mid_tenure",
    "active",
)


def _c(feature: str, op: str, value: float | None = None) -> Condition:
    return Condition.model_validate({"feature": feature, "op": op, "value": value})


def lifecycle_rules(cfg: LifecycleConfig) -> list[tuple[str, Signal]]:
    """The ordered (stage, rule) pairs; customers matching none are ``active``."""
    return [
        ("lapsed", Signal(
            name="lapsed",
            when=[_c("lateness", ">=", cfg.lapsed_lateness),
                  _c("recency_days", ">=", cfg.lapsed_min_days)],
            reason="{recency_days:.0f} days since the last purchase, {lateness:.1f}x their "
                   "expected gap of {expected_gap_days:.0f} days")),
        ("at_risk", Signal(
            name="at_risk",
            when=[_c("lateness", ">=", cfg.at_risk_lateness),
                  _c("recency_days", ">=", cfg.new_days)],
            reason="{recency_days:.0f} days since the last purchase, {lateness:.1f}x their "
                   "expected gap of {expected_gap_days:.0f} days")),
        ("won_back", Signal(
            name="won_back",
            when=[_c("orders", ">=", 2),
                  _c("last_gap_lateness", ">=", cfg.won_back_gap_lateness),
                  _c("last_gap_days", ">=", cfg.lapsed_min_days),
                  _c("recency_days", "<=", cfg.won_back_days)],
            reason="bought again {recency_days:.0f} days ago after a {last_gap_days:.0f}-day gap")),
        ("new", Signal(
            name="new",
            when=[_c("tenure_days", "<", cfg.new_days)],
            reason="first purchase {tenure_days:.0f} days ago")),
        ("onboarding", Signal(
            name="onboarding",
            when=[_c("orders", "==", 1), _c("tenure_days", "<", cfg.onboarding_days)],
            reason="one purchase, {tenure_days:.0f} days ago")),
        ("loyal", Signal(
            name="loyal",
            when=[_c("orders", ">=", cfg.loyal_orders), _c("tenure_days", ">=", cfg.loyal_days)],
            reason="{orders} purchases over {tenure_days:.0f} days")),
        ("mid_tenure", Signal(
            name="mid_tenure",
            when=[_c("orders", ">=", 2), _c("tenure_days", ">=", cfg.mid_tenure_days)],
            reason="{orders} purchases, customer for {tenure_days:.0f} days")),
    ]  # fmt: skip
