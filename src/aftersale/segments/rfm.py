"""RFM scores (1-5, by quintile at each ``as_of``) and the named RFM cells.

Scores come from the cumulative distribution over all customers at the same ``as_of``, so ties
share a score (every one-time buyer gets the same F) and the result is deterministic on every
backend. Cells follow the common R × F map; "lost" is R = 1 and F = 1.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from aftersale.segments.rules import Condition, Signal

__all__ = ["CELLS", "cell_rules", "score"]

CELLS = (
    "champions",
    "loyal",
    "potential_loyalist",
    "new",
    "promising",
    "needs_attention",
    "about_to_sleep",
    "cant_lose",
    "at_risk",
    "lost",
    "hibernating",
)


def score(column: ir.NumericValue, higher_is_better: bool = True) -> ir.IntegerValue:
    """1-5 by quintile of the cumulative share (ties share a score)."""
    order = column if higher_is_better else ibis.desc(column)
    share = ibis.cume_dist().over(ibis.window(order_by=order))
    return ibis.least((share * 5).ceil(), 5).cast("int64")


def _between(feature: str, low: int, high: int) -> list[Condition]:
    return [
        Condition(feature=feature, op=">=", value=low),
        Condition(feature=feature, op="<=", value=high),
    ]


def _cell(name: str, r: tuple[int, int], f: tuple[int, int], reason: str) -> tuple[str, Signal]:
    return name, Signal(
        name=name, when=[*_between("rfm_r", *r), *_between("rfm_f", *f)], reason=reason
    )


def cell_rules() -> list[tuple[str, Signal]]:
    """Ordered (cell, rule) pairs over the R and F scores; every (R, F) pair matches one."""
    why = "R {rfm_r}, F {rfm_f}, M {rfm_m}"
    return [
        _cell("champions", (5, 5), (4, 5), why + ": bought recently and often"),
        _cell("loyal", (3, 4), (4, 5), why + ": buys often"),
        _cell("potential_loyalist", (4, 5), (2, 3), why + ": recent, buying again"),
        _cell("new", (5, 5), (1, 1), why + ": first purchase was recent"),
        _cell("promising", (4, 4), (1, 1), why + ": fairly recent first purchase"),
        _cell("needs_attention", (3, 3), (3, 3), why + ": middling on both"),
        _cell("about_to_sleep", (3, 3), (1, 2), why + ": fading after few purchases"),
        _cell("cant_lose", (1, 2), (5, 5), why + ": bought most often, long ago"),
        _cell("at_risk", (1, 2), (3, 4), why + ": bought often, not lately"),
        _cell("lost", (1, 1), (1, 1), why + ": one purchase, long ago"),
        _cell("hibernating", (1, 2), (1, 2), why + ": few purchases, long ago"),
    ]
