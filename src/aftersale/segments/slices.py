"""Buyer slices: Pain-Now, Proof-Seeker, Time-Poor, Budget-Starter, Status-Chaser, or unknown.

Each piece of evidence adds a weight to one slice's score: the offer tier bought, the survey
answer (which outweighs the rest), checkout questions, searches and clicked email topics in a
slice's words (each kind capped), discount habit and prices paid. A softmax over the scores
(divided by a temperature) gives the confidence; weak or no evidence gives "unknown". The same
evidence list computes the Ibis columns and the plain-word reasons.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import ibis
import ibis.expr.types as ir

from aftersale.domain.slices import SLICE_LABELS, SLICES, UNKNOWN_SLICE
from aftersale.features.definitions import EVIDENCE_KINDS, evidence_column
from aftersale.segments.config import SegmentationConfig
from aftersale.segments.rules import Condition, format_reason

__all__ = ["Evidence", "SliceVerdict", "explain_slice", "slice_columns", "slice_evidence"]

_KIND_WORDS = {
    "question": "checkout question",
    "search": "search",
    "topic": "clicked email topic",
}


@dataclass(frozen=True)
class Evidence:
    """Adds ``weight`` × min(count, cap) to ``slice`` (count = 1 when ``when`` holds)."""

    slice: str
    name: str
    weight: float
    reason: str
    count_feature: str | None = None
    cap: int = 1
    when: tuple[Condition, ...] = ()

    def to_ibis(self, table: ir.Table) -> ir.FloatingValue:
        """This evidence's count (capped) as an Ibis column."""
        if self.count_feature is not None:
            value = table[self.count_feature].fill_null(0)
            return ibis.least(value, self.cap).cast("float64")
        held = self.when[0].to_ibis(table)
        for condition in self.when[1:]:
            held &= condition.to_ibis(table)
        return ibis.ifelse(held, 1.0, 0.0)

    def count(self, row: Mapping[str, Any]) -> float:
        """The same count for one customer."""
        if self.count_feature is not None:
            value = row.get(self.count_feature)
            if value is None or (isinstance(value, float) and math.isnan(value)):
                return 0.0
            return float(min(value, self.cap))
        return 1.0 if all(c.holds(row) for c in self.when) else 0.0


def slice_evidence(cfg: SegmentationConfig) -> list[Evidence]:
    """Every kind of evidence the configuration defines, for every slice."""
    sc = cfg.slices
    evidence: list[Evidence] = []
    for tier, tw in sc.tier_weights.items():
        evidence.append(
            Evidence(
                tw.slice,
                f"tier_{tier}",
                tw.weight,
                f"bought the {tier} offer first",
                when=(Condition(feature="first_offer_tier", op="==", value=tier),),
            )
        )
    for s in SLICES:
        evidence.append(
            Evidence(
                s,
                f"survey_{s}",
                sc.survey_weight,
                'answered the survey: "{survey_answer}"',
                when=(Condition(feature="survey_slice", op="==", value=s),),
            )
        )
        for kind in EVIDENCE_KINDS:
            column = evidence_column(kind, s)
            evidence.append(
                Evidence(
                    s,
                    f"{kind}_{s}",
                    sc.kind_weights.get(kind, 0.0),
                    f"{{{column}}} {_KIND_WORDS[kind]}(s) in {SLICE_LABELS[s]} words",
                    count_feature=column,
                    cap=sc.hit_cap,
                )
            )
    for fe in sc.feature_evidence:
        evidence.append(
            Evidence(
                fe.slice, fe.feature, fe.weight, fe.reason, count_feature=fe.feature, cap=fe.cap
            )
        )
    evidence.append(
        Evidence(
            "budget_starter",
            "discount_habit",
            sc.discount_weight,
            "used a discount on {discount_share:.0%} of orders",
            when=(Condition(feature="discount_share", op=">=", value=0.5),),
        )
    )
    evidence.append(
        Evidence(
            "status_chaser",
            "premium_prices",
            sc.premium_price_weight,
            "pays {value_vs_category_median:.2f}x the category's median price",
            when=(Condition(feature="value_vs_category_median", op=">=", value=1.4),),
        )
    )
    return [e for e in evidence if e.weight > 0]


def slice_columns(table: ir.Table, cfg: SegmentationConfig) -> dict[str, ir.Value]:
    """``slice``, ``slice_confidence`` and ``slice_signals`` as Ibis columns over ``table``."""
    evidence = slice_evidence(cfg)
    temperature = cfg.slices.temperature
    scores: dict[str, ir.FloatingValue] = {s: ibis.literal(0.0) for s in SLICES}
    signals: ir.FloatingValue = ibis.literal(0.0)
    for e in evidence:
        count = e.to_ibis(table)
        scores[e.slice] = scores[e.slice] + e.weight * count
        signals = signals + count
    exps = {s: (scores[s] / temperature).exp() for s in SLICES}
    total = sum(exps.values(), ibis.literal(0.0))
    probs = {s: exps[s] / total for s in SLICES}
    best = probs[SLICES[0]]
    for s in SLICES[1:]:
        best = ibis.greatest(best, probs[s])
    branches = [(probs[s] >= best, s) for s in SLICES]
    winner = ibis.cases(*branches, else_=UNKNOWN_SLICE)
    known = (signals > 0) & (best >= cfg.slices.min_confidence)
    return {
        "slice": ibis.ifelse(known, winner, UNKNOWN_SLICE),
        "slice_confidence": best,
        "slice_signals": signals.cast("int64"),
    }


@dataclass(frozen=True)
class SliceVerdict:
    """One customer's slice with the confidence per slice and the reasons for the winner."""

    slice: str
    confidence: float
    probabilities: dict[str, float]
    signals: int
    reasons: list[str]


def explain_slice(row: Mapping[str, Any], cfg: SegmentationConfig) -> SliceVerdict:
    """The same scoring as :func:`slice_columns` for one customer, with its reasons."""
    scores = dict.fromkeys(SLICES, 0.0)
    signals = 0.0
    contributions: list[tuple[float, str, str]] = []
    for e in slice_evidence(cfg):
        count = e.count(row)
        if count <= 0:
            continue
        scores[e.slice] += e.weight * count
        signals += count
        contributions.append((e.weight * count, e.slice, format_reason(e.reason, row)))
    t = cfg.slices.temperature
    top = max(scores.values())
    exps = {s: math.exp((v - top) / t) for s, v in scores.items()}
    total = sum(exps.values())
    probs = {s: v / total for s, v in exps.items()}
    winner = max(SLICES, key=lambda s: (probs[s], -SLICES.index(s)))
    confidence = probs[winner]
    known = signals > 0 and confidence >= cfg.slices.min_confidence
    chosen = winner if known else UNKNOWN_SLICE
    reasons = [r for w, s, r in sorted(contributions, key=lambda c: -c[0]) if s == winner]
    if not known:
        reasons = (
            ["no slice evidence yet"]
            if signals == 0
            else [f"evidence too mixed (best {SLICE_LABELS[winner]} at {confidence:.0%})"]
        )
    return SliceVerdict(chosen, confidence, probs, int(signals), reasons[:3])
