"""Arrow tables for the canonical files and the customer truth of one shard."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from aftersale.simulator import profiles, texts
from aftersale.simulator.behaviour import HEALTH, HEALTH_REASONS, Behaviour
from aftersale.simulator.catalog import Catalog
from aftersale.simulator.geo import COUNTRIES, ZONES
from aftersale.simulator.money import EXPONENTS, decimal_array, format_major
from aftersale.simulator.process import group_ranks
from aftersale.simulator.purchases import DISCOUNT_CODES, STATUSES, Orders
from aftersale.simulator.spec import SLICES, SimulationSpec
from aftersale.simulator.timefmt import (
    format_iso_local,
    format_iso_utc,
    timestamp_array,
    utc_offsets,
)
from aftersale.simulator.world import Customers

__all__ = ["ORDER_ID_BASE", "ShardTables", "build_tables", "created_seconds"]

ORDER_ID_BASE: Final[int] = 100_001
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class ShardTables:
    """Canonical tables of one shard, as CSV-ready text and as typed parquet columns."""

    customers_csv: pa.Table
    customers_parquet: pa.Table
    orders_csv: pa.Table
    orders_parquet: pa.Table
    lines_csv: pa.Table
    lines_parquet: pa.Table
    consents: pa.Table
    truth: pa.Table


def created_seconds(people: Customers, first_t: IntArray) -> IntArray:
    """When the customer record was created: a few minutes before the first order."""
    return np.asarray(
        np.maximum(first_t - (60 + (people.index * 7_919) % 1_140), 0), dtype=np.int64
    )


def _opt(values: npt.NDArray[np.str_]) -> pa.Array:
    """Strings with empty values as nulls."""
    arr = pa.array(values, pa.string())
    return pc.if_else(pc.equal(arr, ""), pa.scalar(None, pa.string()), arr)


def _labels(pool: tuple[str, ...] | list[str], idx: npt.NDArray[np.integer]) -> pa.Array:
    """Text labels for codes; negative codes become nulls."""
    idx = np.asarray(idx, dtype=np.int64)
    arr = pa.array(list(pool), pa.string()).take(pa.array(np.maximum(idx, 0)))
    return pc.if_else(pa.array(idx < 0), pa.scalar(None, pa.string()), arr)


def _ts_or_null(spec: SimulationSpec, seconds: IntArray) -> pa.Array:
    """UTC timestamps with -1 as null."""
    arr = timestamp_array(spec.start_epoch + np.maximum(seconds, 0))
    return pc.if_else(pa.array(seconds < 0), pa.scalar(None, arr.type), arr)


def build_tables(
    spec: SimulationSpec,
    catalog: Catalog,
    people: Customers,
    orders: Orders,
    beh: Behaviour,
    order_ids: pa.Array,
) -> ShardTables:
    """Assemble every per-shard table; ``order_ids`` are the shard's global order ids."""
    epoch = spec.start_epoch
    created = created_seconds(people, beh.first_t)
    offsets = utc_offsets(epoch + created, people.zone, ZONES)
    country = pa.array([COUNTRIES[c].code for c in people.country], pa.string())
    zone = pa.array([ZONES[z] for z in people.zone], pa.string())
    ids = pa.array(people.customer_id, pa.string())
    base = {
        "customer_id": ids,
        "email": pa.array(people.email, pa.string()),
        "phone": _opt(people.phone),
        "first_name": pa.array(people.first_name, pa.string()),
        "last_name": pa.array(people.last_name, pa.string()),
        "country": country,
        "time_zone": zone,
    }
    customers_csv = pa.table({**base, "created_at": format_iso_local(epoch + created, offsets)})
    customers_parquet = pa.table({**base, "created_at": timestamp_array(epoch + created)})

    cur_codes = list(spec.currencies)
    exps = np.array([EXPONENTS[c] for c in cur_codes])[orders.currency]
    scale = max(EXPONENTS[c] for c in cur_codes)
    money = ("subtotal", "discount", "shipping", "tax", "total", "refund")
    head = {
        "order_id": order_ids,
        "customer_id": pa.array(people.customer_id[orders.cust], pa.string()),
    }
    tail = {
        "discount_code": _labels(DISCOUNT_CODES, orders.code),
        "offer_tier": _labels(profiles.TIER_NAMES, orders.tier),
        "sales_channel": _labels(profiles.CHANNELS, orders.channel),
        "item_count": pa.array(orders.item_count),
    }
    status = _labels(STATUSES, orders.status)
    currency = _labels(cur_codes, orders.currency)
    orders_csv = pa.table(
        {
            **head,
            "ordered_at": format_iso_utc(epoch + orders.t),
            "status": status,
            "currency": currency,
            **{m: format_major(getattr(orders, m), exps) for m in money},
            **tail,
            "updated_at": format_iso_utc(epoch + orders.updated_t),
        }
    )
    orders_parquet = pa.table(
        {
            **head,
            "ordered_at": timestamp_array(epoch + orders.t),
            "status": status,
            "currency": currency,
            **{m: decimal_array(getattr(orders, m), exps, scale) for m in money},
            **tail,
            "updated_at": timestamp_array(epoch + orders.updated_t),
        }
    )

    lo = orders.line_order
    line_exps = exps[lo]
    line_head = {
        "order_id": order_ids.take(pa.array(lo)),
        "line_number": pa.array(orders.line_number),
        "product_id": pa.array(catalog.product_id[orders.product], pa.string()),
        "product_name": pa.array(catalog.name[orders.product], pa.string()),
        "category": _labels(catalog.category_names, catalog.category[orders.product]),
        "quantity": pa.array(orders.quantity),
    }
    lines_csv = pa.table(
        {
            **line_head,
            "unit_price": format_major(orders.unit_price, line_exps),
            "discount": format_major(orders.line_discount, line_exps),
            "currency": currency.take(pa.array(lo)),
        }
    )
    lines_parquet = pa.table(
        {
            **line_head,
            "unit_price": decimal_array(orders.unit_price, line_exps, scale),
            "discount": decimal_array(orders.line_discount, line_exps, scale),
            "currency": currency.take(pa.array(lo)),
        }
    )
    return ShardTables(
        customers_csv=customers_csv,
        customers_parquet=customers_parquet,
        orders_csv=orders_csv,
        orders_parquet=orders_parquet,
        lines_csv=lines_csv,
        lines_parquet=lines_parquet,
        consents=_consents(spec, people, beh, created),
        truth=_truth(spec, catalog, people, orders, beh),
    )


def _consents(
    spec: SimulationSpec, people: Customers, beh: Behaviour, created: IntArray
) -> pa.Table:
    """Consent history: checkout choices, unsubscribes, STOP replies and late opt-ins."""
    n = len(people)
    has_phone = people.phone != ""
    parts = [
        (np.arange(n), np.zeros(n), np.where(people.email_opt_in, 0, 1), created, np.zeros(n)),
        (
            np.flatnonzero(has_phone),
            np.ones(int(has_phone.sum())),
            np.where(people.sms_opt_in[has_phone], 0, 1),
            created[has_phone],
            np.zeros(int(has_phone.sum())),
        ),
    ]
    for t, ch, st, how in (
        (beh.email_opt_out_t, 0, 1, 1),
        (beh.sms_opt_out_t, 1, 1, 2),
        (beh.email_late_opt_in_t, 0, 0, 3),
    ):
        who = np.flatnonzero(t >= 0)
        k = len(who)
        parts.append((who, np.full(k, ch), np.full(k, st), t[who], np.full(k, how)))
    cols = [np.concatenate([p[i] for p in parts]).astype(np.int64) for i in range(5)]
    order = np.lexsort((cols[1], cols[3], cols[0]))
    cust, channel, status, when, method = (c[order] for c in cols)
    return pa.table(
        {
            "customer_id": pa.array(people.customer_id[cust], pa.string()),
            "channel": _labels(("email", "sms"), channel),
            "purpose": pa.array(["marketing"] * len(cust), pa.string()),
            "status": _labels(("opt_in", "opt_out"), status),
            "recorded_at": format_iso_utc(spec.start_epoch + when),
            "method": _labels(
                ("checkout_checkbox", "unsubscribe_link", "sms_stop_reply", "preference_centre"),
                method,
            ),
        }
    )


def _truth(
    spec: SimulationSpec, catalog: Catalog, people: Customers, orders: Orders, beh: Behaviour
) -> pa.Table:
    """Hidden per-customer traits and outcomes for checking models against the truth."""
    n, end = len(people), spec.end_second
    real = ~orders.is_cancel
    rc = orders.cust[real]
    n_orders = np.bincount(orders.cust, minlength=n)
    n_purchases = np.bincount(rc, minlength=n)
    revenue = np.bincount(rc, weights=(orders.total - orders.refund)[real], minlength=n).astype(
        np.int64
    )
    gross = np.bincount(rc, weights=orders.total[real], minlength=n)
    last = np.full(n, -1, dtype=np.int64)
    np.maximum.at(last, rc, orders.t[real])
    firsts = np.flatnonzero(real)[group_ranks(rc) == 0]
    first_tier = np.full(n, -1, dtype=np.int64)
    first_tier[orders.cust[firsts]] = orders.tier[firsts]
    cats = catalog.category_names
    prefs = people.prefs
    flat = pa.array(prefs.ravel())
    offsets = pa.array(np.arange(0, prefs.size + 1, prefs.shape[1], dtype=np.int32))
    staple_ids = np.where(people.staple >= 0, catalog.product_id[np.maximum(people.staple, 0)], "")
    dropped = orders.dropout_t >= 0
    return pa.table(
        {
            "customer_id": pa.array(people.customer_id, pa.string()),
            "slice": _labels(SLICES, people.slice),
            "lambda_per_day": pa.array(people.lam),
            "p_dropout": pa.array(people.p),
            "risk_rank": pa.array(people.risk),
            "price_sensitivity": pa.array(people.price_sensitivity),
            "category_prefs": pa.ListArray.from_arrays(offsets, flat),
            "top_category": _labels(cats, np.argmax(prefs, axis=1)),
            "staple_product_id": _opt(staple_ids),
            "onboarding": _labels(profiles.ONBOARDING, people.onboarding),
            "country": pa.array([COUNTRIES[c].code for c in people.country], pa.string()),
            "time_zone": pa.array([ZONES[z] for z in people.zone], pa.string()),
            "currency": _labels(list(spec.currencies), people.currency),
            "first_order_at": _ts_or_null(spec, beh.first_t),
            "last_purchase_at": _ts_or_null(spec, last),
            "dropout_at": _ts_or_null(spec, orders.dropout_t),
            "is_alive_at_end": pa.array(~dropped),
            "observed_days": pa.array((end - beh.first_t) / 86_400.0),
            "n_orders": pa.array(n_orders.astype(np.int64)),
            "n_purchases": pa.array(n_purchases.astype(np.int64)),
            "n_repeat_purchases": pa.array(np.maximum(n_purchases - 1, 0).astype(np.int64)),
            "n_refunds": pa.array(
                np.bincount(orders.cust[orders.refund_t >= 0], minlength=n).astype(np.int64)
            ),
            "net_revenue_minor": pa.array(revenue),
            "aov_minor": pa.array(
                np.floor(gross / np.maximum(n_purchases, 1) + 0.5).astype(np.int64)
            ),
            "first_offer_tier": _labels(profiles.TIER_NAMES, first_tier),
            "first_win_at": _ts_or_null(spec, beh.first_win_t),
            "has_first_win": pa.array(beh.first_win_t >= 0),
            "last_activity_at": _ts_or_null(spec, beh.last_activity_t),
            "health": _labels(HEALTH, beh.health),
            "health_reason": _labels(HEALTH_REASONS, beh.health_reason),
            "worst_ticket_tone": _labels(texts.TONES, beh.worst_tone),
            "survey_answer": _labels(SLICES, beh.survey_answer),
            "email_opt_in": pa.array(people.email_opt_in),
            "sms_opt_in": pa.array(people.sms_opt_in),
            "email_opted_out_at": _ts_or_null(spec, beh.email_opt_out_t),
        }
    )
