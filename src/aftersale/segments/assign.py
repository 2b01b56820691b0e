"""Turn the feature table into segments, slices and health grades, and explain any one of them.

:func:`segment_table` is one Ibis expression over the feature table (any backend);
:func:`explain` evaluates the same rules on one customer's values and returns the reasons.
Quantile-based values (RFM scores, value tier) depend on everyone at the same ``as_of``, so
their explanation reads the assigned score instead of recomputing it.
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from difflib import get_close_matches
from typing import Any

import ibis
import ibis.expr.types as ir

from aftersale.domain.slices import SLICE_LABELS
from aftersale.errors import ConfigError
from aftersale.segments.config import SegmentationConfig
from aftersale.segments.lifecycle import lifecycle_rules
from aftersale.segments.rfm import cell_rules, score
from aftersale.segments.rules import Signal, format_reason, matched, points
from aftersale.segments.slices import explain_slice, slice_columns, slice_evidence

__all__ = ["SEGMENT_COLUMNS", "Explanation", "check_features", "explain", "segment_table"]

SEGMENT_COLUMNS = (
    "customer_id",
    "lifecycle",
    "rfm_r",
    "rfm_f",
    "rfm_m",
    "rfm_cell",
    "value_tier",
    "persona",
    "price_sensitive_points",
    "premium_points",
    "top_category",
    "slice",
    "slice_confidence",
    "slice_signals",
    "health_grade",
    "health_score",
)


def check_features(cfg: SegmentationConfig, known: Iterable[str]) -> None:
    """Raise a ConfigError naming the rule and suggesting a name for any unknown feature."""
    names = set(known) | set(SEGMENT_COLUMNS)
    used: list[tuple[str, set[str]]] = [("value.basis", {cfg.value.basis})]
    for group, signals in (
        ("persona.price_sensitive", cfg.persona.price_sensitive),
        ("persona.premium", cfg.persona.premium),
        ("health.red", cfg.health.red),
        ("health.yellow", cfg.health.yellow),
        ("health.green", cfg.health.green),
    ):
        used += [(f"{group}.{s.name}", s.features()) for s in signals]
    for e in slice_evidence(cfg):
        refs = {c.feature for c in e.when} | set(_template_fields(e.reason))
        if e.count_feature:
            refs.add(e.count_feature)
        used.append((f"slices.{e.name}", refs))
    problems = []
    for where, features in used:
        for feature in sorted(features - names):
            close = get_close_matches(feature, sorted(names), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            problems.append(f"{where}: unknown feature {feature!r}{hint}")
    if problems:
        raise ConfigError(
            f"segmentation rules ({cfg.source}) use unknown features: " + "; ".join(problems),
            key=problems[0].split(":", 1)[0],
        )


def _template_fields(template: str) -> list[str]:
    """Field names used in a reason template."""
    return [name for _, name, _, _ in string.Formatter().parse(template) if name]


def _first_match(table: ir.Table, rules: list[tuple[str, Signal]], default: str) -> ir.StringValue:
    return ibis.cases(*[(rule.to_ibis(table), name) for name, rule in rules], else_=default)


def _health(table: ir.Table, cfg: SegmentationConfig) -> dict[str, ir.Value]:
    red, yellow = cfg.health.red, cfg.health.yellow
    any_red = ibis.or_(*[s.to_ibis(table) for s in red]) if red else ibis.literal(False)
    any_yellow = ibis.or_(*[s.to_ibis(table) for s in yellow]) if yellow else ibis.literal(False)
    penalty = points([*red, *yellow], table)
    return {
        "health_grade": ibis.cases((any_red, "red"), (any_yellow, "yellow"), else_="green"),
        "health_score": ibis.greatest(100.0 - penalty, 0.0),
    }


def segment_table(features: ir.Table, cfg: SegmentationConfig) -> ir.Table:
    """One row per customer with every segment, the slice and the health grade."""
    lifecycle = lifecycle_rules(cfg.lifecycle)
    scored = features.mutate(
        rfm_r=score(features.recency_days, higher_is_better=False),
        rfm_f=score(features.frequency),
        rfm_m=score(features.monetary_minor),
        _value_share=ibis.cume_dist().over(ibis.window(order_by=features[cfg.value.basis])),
        price_sensitive_points=points(cfg.persona.price_sensitive, features),
        premium_points=points(cfg.persona.premium, features),
    )
    ps, pr, floor = scored.price_sensitive_points, scored.premium_points, cfg.persona.min_points
    out = scored.mutate(
        lifecycle=_first_match(scored, lifecycle, "active"),
        rfm_cell=_first_match(scored, cell_rules(), "hibernating"),
        value_tier=ibis.cases(
            (scored._value_share >= cfg.value.high, "high"),
            (scored._value_share >= cfg.value.medium, "medium"),
            else_="low",
        ),
        persona=ibis.cases(
            ((ps >= floor) & (ps > pr), "price_sensitive"),
            ((pr >= floor) & (pr > ps), "premium"),
            else_="neutral",
        ),
        **slice_columns(scored, cfg),
        **_health(scored, cfg),
    )
    return out.select(*SEGMENT_COLUMNS)


@dataclass
class Explanation:
    """Every value assigned to one customer with the reasons that produced it."""

    customer_id: str
    values: dict[str, Any]
    reasons: dict[str, list[str]] = field(default_factory=dict)


def _rule_reason(rules: list[tuple[str, Signal]], stage: str, row: Mapping[str, Any]) -> list[str]:
    for name, rule in rules:
        if name == stage:
            return [format_reason(rule.reason, row)]
    return []


def explain(
    features: Mapping[str, Any], segments: Mapping[str, Any], cfg: SegmentationConfig
) -> Explanation:
    """Reasons for each segment value of one customer (``features`` and ``segments`` rows)."""
    row = {**features, **segments}
    lifecycle = lifecycle_rules(cfg.lifecycle)
    stage = str(segments["lifecycle"])
    reasons: dict[str, list[str]] = {}
    reasons["lifecycle"] = _rule_reason(lifecycle, stage, row) or [
        f"{row.get('orders')} purchases, last one {row.get('recency_days', 0):.0f} days ago, "
        "on rhythm"
    ]
    reasons["rfm_cell"] = _rule_reason(cell_rules(), str(segments["rfm_cell"]), row)
    basis = cfg.value.basis
    reasons["value_tier"] = [
        f"{basis} {format_reason('{' + basis + '}', row)} puts them in the "
        f"{segments['value_tier']} tier (cut points: top {1 - cfg.value.high:.0%} high, "
        f"next {cfg.value.high - cfg.value.medium:.0%} medium)"
    ]
    side = {
        "price_sensitive": cfg.persona.price_sensitive,
        "premium": cfg.persona.premium,
    }.get(str(segments["persona"]))
    if side is None:
        reasons["persona"] = [
            f"neither side reached {cfg.persona.min_points:g} points "
            f"(price-sensitive {row.get('price_sensitive_points', 0):g}, "
            f"premium {row.get('premium_points', 0):g})"
        ]
    else:
        reasons["persona"] = [reason for _, reason in matched(side, row)]
    if row.get("top_category"):
        reasons["top_category"] = [
            f"{row['top_category']}: {row.get('top_category_share', 0):.0%} of product lines"
        ]
    verdict = explain_slice(row, cfg)
    reasons["slice"] = verdict.reasons
    grade = str(segments["health_grade"])
    signals = {"red": cfg.health.red, "yellow": cfg.health.yellow, "green": cfg.health.green}
    held = [reason for _, reason in matched(signals[grade], row)]
    if grade == "green" and not held:
        held = ["no warning signs"]
    reasons["health_grade"] = held
    values = {k: segments[k] for k in segments if k != "customer_id"}
    values["slice_label"] = SLICE_LABELS.get(str(segments["slice"]), str(segments["slice"]))
    return Explanation(str(segments["customer_id"]), values, reasons)
