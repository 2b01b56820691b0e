"""Orders and order lines of one shard: baskets, money, discount codes, refunds and status."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from aftersale.simulator import profiles
from aftersale.simulator.catalog import Catalog
from aftersale.simulator.geo import COUNTRIES
from aftersale.simulator.money import minor_from_eur
from aftersale.simulator.process import draw_purchase_times, group_ranks
from aftersale.simulator.rng import Stream, rng_for
from aftersale.simulator.spec import SimulationSpec
from aftersale.simulator.world import Customers

__all__ = ["DISCOUNT_CODES", "STATUSES", "Orders", "generate_orders"]

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

STATUSES: Final[tuple[str, ...]] = (
    "completed",
    "pending",
    "cancelled",
    "refunded",
    "partially_refunded",
)
DISCOUNT_CODES: Final[tuple[str, ...]] = (
    "WELCOME10",
    "SAVE15",
    "BUNDLE20",
    "LOYAL5",
    "FLASH25",
    "FREESHIP",
)
_CODE_RATE: Final = np.array([0.10, 0.15, 0.20, 0.05, 0.25, 0.0])
_PRODUCT_TIER_P: Final = np.array(
    [[0.7, 0.3, 0.0], [0.2, 0.6, 0.2], [0.0, 0.3, 0.7], [0.25, 0.5, 0.25]]
)
"""Product tier (starter, standard, pro) given the order's offer tier (rows: TIER_NAMES)."""
_TAX = np.array([c.tax_rate for c in COUNTRIES])
_CANCEL_P: Final = 0.02
_DAY: Final = 86_400


@dataclass(frozen=True, slots=True)
class Orders:
    """Orders of one shard sorted by customer then time, with their lines."""

    cust: IntArray
    t: IntArray
    is_cancel: BoolArray
    status: IntArray
    tier: IntArray
    channel: IntArray
    currency: IntArray
    subtotal: IntArray
    discount: IntArray
    shipping: IntArray
    tax: IntArray
    total: IntArray
    refund: IntArray
    code: IntArray
    """Index into DISCOUNT_CODES, -1 for none."""
    refund_t: IntArray
    updated_t: IntArray
    item_count: IntArray
    line_order: IntArray
    line_number: IntArray
    product: IntArray
    quantity: IntArray
    unit_price: IntArray
    line_discount: IntArray
    line_refunded: BoolArray
    dropout_t: IntArray
    """Per customer: second of the drop-out purchase, or -1."""

    def __len__(self) -> int:
        """Number of orders."""
        return len(self.cust)


def _draw_rows(rng: np.random.Generator, probs: npt.NDArray[np.float64]) -> IntArray:
    """One categorical draw per row of ``probs``."""
    cum = np.cumsum(probs, axis=1)
    u = rng.random(len(probs)) * cum[:, -1]
    return np.asarray(
        np.minimum((cum < u[:, None]).sum(axis=1), probs.shape[1] - 1), dtype=np.int64
    )


def _pick_products(
    rng: np.random.Generator, catalog: Catalog, category: IntArray, tier: IntArray
) -> IntArray:
    """Popularity-weighted product from each (category, tier) group."""
    group = catalog.category * 3 + catalog.tier
    order = np.lexsort((np.arange(catalog.size), group))
    sorted_group = group[order]
    weights = catalog.popularity[order]
    cum = np.cumsum(weights)
    starts = np.searchsorted(sorted_group, np.arange(group.max() + 1))
    ends = np.searchsorted(sorted_group, np.arange(group.max() + 1), side="right")
    base = np.r_[0.0, cum][starts]
    span = np.r_[0.0, cum][ends] - base
    want = category * 3 + tier
    target = base[want] + rng.random(len(want)) * span[want]
    pos = np.minimum(np.searchsorted(cum, target, side="right"), ends[want] - 1)
    return np.asarray(order[np.maximum(pos, starts[want])], dtype=np.int64)


def _baskets(
    rng: np.random.Generator,
    catalog: Catalog,
    people: Customers,
    cust: IntArray,
    t: IntArray,
    tier: IntArray,
) -> tuple[IntArray, IntArray, IntArray]:
    """Lines of every order: (order index, product, quantity), unique products per order."""
    n_orders = len(cust)
    s = people.slice[cust]
    n_lines = 1 + rng.binomial(3, profiles.EXTRA_LINE_P[s])
    line_order = np.repeat(np.arange(n_orders, dtype=np.int64), n_lines)
    pos = group_ranks(line_order)
    category = _draw_rows(rng, people.prefs[cust[line_order]])
    ptier = _draw_rows(rng, _PRODUCT_TIER_P[tier[line_order]])
    product = _pick_products(rng, catalog, category, ptier)
    quantity = 1 + np.where(catalog.is_consumable[product], rng.binomial(2, 0.2, len(product)), 0)
    # Replenishment: the staple comes back once a new refill cycle has started.
    staple = people.staple[cust]
    has = staple >= 0
    cycle_days = np.where(has, catalog.replenishment_days[np.maximum(staple, 0)], 1)
    is_first = group_ranks(cust) == 0
    first_of = t[np.flatnonzero(is_first)][np.cumsum(is_first) - 1]
    cycle = (t - first_of) // (cycle_days * _DAY)
    prev_cycle = np.r_[-1, cycle[:-1]].astype(np.int64)
    new_cycle = ~is_first & (cycle > prev_cycle)
    u = rng.random(n_orders)
    take = has & (
        (is_first & (u < 0.5)) | (new_cycle & (u < 0.85)) | (~new_cycle & ~is_first & (u < 0.08))
    )
    head = np.flatnonzero(pos == 0)
    product[head[take]] = staple[take]
    quantity[head[take]] = np.clip(np.where(new_cycle, cycle - prev_cycle, 1), 1, 3)[take]
    # Cross-sell: later lines often complement the first.
    comp = catalog.complements[product[head]]
    valid = (comp >= 0).sum(axis=1)
    later = np.flatnonzero((pos > 0) & (rng.random(len(pos)) < 0.3))
    owner = line_order[later]
    ok = valid[owner] > 0
    later, owner = later[ok], owner[ok]
    pick = (rng.random(len(later)) * valid[owner]).astype(np.int64)
    product[later] = comp[owner, pick]
    # Merge repeated products within an order.
    key = line_order * catalog.size + product
    uniq, first_idx, inverse = np.unique(key, return_index=True, return_inverse=True)
    qty = np.bincount(inverse, weights=quantity).astype(np.int64)
    keep = np.argsort(first_idx, kind="stable")
    return (uniq // catalog.size)[keep], (uniq % catalog.size)[keep], qty[keep]


def generate_orders(
    spec: SimulationSpec, catalog: Catalog, people: Customers, shard: int
) -> Orders:
    """Orders of the shard's customers, from purchase times to refunds."""
    rng = rng_for(spec.seed, Stream.PURCHASES, shard)
    times = draw_purchase_times(rng, spec, people.lam, people.p, people.zone)
    # Cancelled attempts: a checkout abandoned and placed again minutes later.
    cancel = rng.random(len(times.t)) < _CANCEL_P
    cancel_t = times.t - rng.integers(180, 5_400, len(times.t))
    cancel &= cancel_t >= 0
    cust = np.concatenate([times.cust, times.cust[cancel]])
    t = np.concatenate([times.t, cancel_t[cancel]])
    is_cancel = np.concatenate([np.zeros(len(times.t), bool), np.ones(int(cancel.sum()), bool)])
    order = np.lexsort((~is_cancel, t, cust))
    cust, t, is_cancel = cust[order], t[order], is_cancel[order]
    n = len(cust)
    brng = rng_for(spec.seed, Stream.BASKETS, shard)
    s = people.slice[cust]
    seq = group_ranks(cust)
    kept = np.flatnonzero(~is_cancel)
    first_purchase = np.zeros(n, dtype=bool)
    first_purchase[kept[group_ranks(cust[kept]) == 0]] = True
    tier = _draw_rows(brng, profiles.TIER_P[s])
    later = (seq > 0) & ~first_purchase & (brng.random(n) < 0.5)
    tier[later] = 1
    channel = _draw_rows(brng, profiles.SALES_CHANNEL_P[s])
    currency = people.currency[cust]
    line_order, product, quantity = _baskets(brng, catalog, people, cust, t, tier)
    unit_price = catalog.price_minor[currency[line_order], product]
    gross = unit_price * quantity
    subtotal = np.bincount(line_order, weights=gross, minlength=n).astype(np.int64)
    n_lines = np.bincount(line_order, minlength=n)
    # Discount codes: far more often for price-sensitive customers.
    ps = people.price_sensitivity[cust]
    has_code = brng.random(n) < 0.03 + 0.45 * ps
    code_w = np.column_stack(
        [
            np.where(seq == 0, 3.0, 0.0),
            np.full(n, 1.0),
            np.where(n_lines >= 3, 0.8, 0.0),
            np.full(n, 0.8),
            1.2 * ps,
            np.full(n, 0.6),
        ]
    )
    code = np.where(has_code, _draw_rows(brng, code_w), -1)
    rate = np.where(code >= 0, _CODE_RATE[np.maximum(code, 0)], 0.0)
    line_disc = np.floor(gross * rate[line_order]).astype(np.int64)
    discount = np.floor(subtotal * rate + 0.5).astype(np.int64)
    rest = discount - np.bincount(line_order, weights=line_disc, minlength=n).astype(np.int64)
    heads = np.flatnonzero(group_ranks(line_order) == 0)
    line_disc[heads] += rest
    # Shipping and tax in the order's currency.
    cur_codes = spec.currencies
    free_at = np.array([minor_from_eur(np.array([45.0]), c)[0] for c in cur_codes])[currency]
    standard = np.array([minor_from_eur(np.array([4.5]), c)[0] for c in cur_codes])[currency]
    express = np.array([minor_from_eur(np.array([9.5]), c)[0] for c in cur_codes])[currency]
    net = subtotal - discount
    shipping = np.where(tier == 3, express, np.where(net >= free_at, 0, standard))
    shipping = np.where((code == 5) | (channel == 2), np.where(tier == 3, express, 0), shipping)
    tax_rate = _TAX[people.country[cust]]
    tax = np.floor((net + shipping) * tax_rate + 0.5).astype(np.int64)
    total = net + shipping + tax
    # Refunds: more for risky customers and Budget-Starters; only once they happened.
    end = spec.end_second
    risk = people.risk[cust]
    refund_p = 0.012 + profiles.REFUND_BUMP[s] + 0.12 * risk**3
    refund_t = t + (brng.uniform(1.0, 21.0, n) * _DAY).astype(np.int64)
    refunded = ~is_cancel & (brng.random(n) < refund_p) & (refund_t < end)
    partial = refunded & (n_lines >= 2) & (brng.random(n) < 0.5)
    head_net = gross[heads] - line_disc[heads]
    head_tax = np.floor(tax * head_net / np.maximum(net, 1) + 0.5).astype(np.int64)
    refund = np.where(partial, np.minimum(head_net + head_tax, total), np.where(refunded, total, 0))
    line_refunded = (refunded[line_order]) & (~partial[line_order] | (group_ranks(line_order) == 0))
    pending = ~is_cancel & ~refunded & (t >= end - 36 * 3600) & (brng.random(n) < 0.6)
    status = np.select(
        [is_cancel, partial, refunded, pending],
        [2, 4, 3, 1],
        default=0,
    ).astype(np.int64)
    settle = t + (brng.uniform(0.5, 3.0, n) * _DAY).astype(np.int64)
    updated_t = np.select(
        [is_cancel, refunded, pending],
        [t + brng.integers(120, 1_800, n), refund_t, t],
        default=np.minimum(settle, end - 1),
    )
    updated_t = np.maximum(updated_t, t)
    return Orders(
        cust=cust,
        t=t,
        is_cancel=is_cancel,
        status=status,
        tier=tier,
        channel=channel,
        currency=currency,
        subtotal=subtotal,
        discount=discount,
        shipping=shipping.astype(np.int64),
        tax=tax,
        total=total.astype(np.int64),
        refund=refund.astype(np.int64),
        code=code.astype(np.int64),
        refund_t=np.where(refunded, refund_t, -1),
        updated_t=updated_t.astype(np.int64),
        item_count=np.bincount(line_order, weights=quantity, minlength=n).astype(np.int64),
        line_order=line_order,
        line_number=group_ranks(line_order) + 1,
        product=product,
        quantity=quantity,
        unit_price=unit_price,
        line_discount=line_disc,
        line_refunded=line_refunded,
        dropout_t=times.dropout_t,
    )
