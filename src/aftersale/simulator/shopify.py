"""A Shopify "orders export" of simulated orders: one row per line item, local timestamps."""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from aftersale.simulator.catalog import Catalog
from aftersale.simulator.geo import COUNTRIES, ZONES
from aftersale.simulator.money import EXPONENTS, format_major
from aftersale.simulator.purchases import DISCOUNT_CODES, Orders
from aftersale.simulator.rng import Stream, rng_for
from aftersale.simulator.spec import SimulationSpec
from aftersale.simulator.timefmt import format_shopify, utc_offsets
from aftersale.simulator.world import Customers

__all__ = ["SHOPIFY_COLUMNS", "shopify_rows"]

SHOPIFY_COLUMNS: Final[tuple[str, ...]] = (
    "Name",
    "Email",
    "Financial Status",
    "Paid at",
    "Fulfillment Status",
    "Accepts Marketing",
    "Currency",
    "Subtotal",
    "Shipping",
    "Taxes",
    "Total",
    "Discount Code",
    "Discount Amount",
    "Shipping Method",
    "Created at",
    "Lineitem quantity",
    "Lineitem name",
    "Lineitem price",
    "Lineitem sku",
    "Lineitem discount",
    "Billing Name",
    "Billing Phone",
    "Billing Country",
    "Shipping Zip",
    "Cancelled at",
    "Refunded Amount",
    "Vendor",
    "Id",
    "Tags",
    "Source",
)
_FINANCIAL: Final = ("paid", "pending", "voided", "refunded", "partially_refunded")
_SOURCE: Final = ("web", "iphone", "pos", "marketplace")
_ID_BASE: Final = 5_400_000_000_000
_METHODS: Final = ("Standard Shipping", "Express (next day)", "Free Shipping", "Store Pickup")


def _blank_after_first(values: pa.Array, first: npt.NDArray[np.bool_]) -> pa.Array:
    """Keep a value on an order's first line row only (Shopify's export layout)."""
    return pc.if_else(pa.array(first), values.cast(pa.string()), pa.scalar(None, pa.string()))


def _pool(values: tuple[str, ...] | list[str], idx: npt.NDArray[np.integer]) -> pa.Array:
    """Take texts from a small pool by code."""
    return pa.array(list(values), pa.string()).take(pa.array(np.asarray(idx, dtype=np.int64)))


def shopify_rows(
    spec: SimulationSpec,
    shard: int,
    catalog: Catalog,
    people: Customers,
    orders: Orders,
    order_numbers: npt.NDArray[np.int64],
) -> pa.Table:
    """Export rows for the orders of customers inside the export share."""
    rng = rng_for(spec.seed, Stream.EXPORTS, shard)
    keep_order = people.index[orders.cust] < spec.export_customers
    line_mask = keep_order[orders.line_order]
    lo = orders.line_order[line_mask]
    first = orders.line_number[line_mask] == 1
    c = orders.cust[lo]
    exps = np.array([EXPONENTS[x] for x in spec.currencies])[orders.currency[lo]]
    epoch = spec.start_epoch
    offsets = utc_offsets(epoch + orders.t[lo], people.zone[c], ZONES)
    status = orders.status[lo]
    is_paid = ~np.isin(status, (1, 2))
    net = orders.subtotal - orders.discount
    method = np.select(
        [orders.tier == 3, orders.channel == 2, orders.shipping == 0], [1, 3, 2], default=0
    )
    zips = pa.array(people.postcode[c], pa.string())
    quote = pc.and_(pc.starts_with(zips, "0"), pa.array(rng.random(len(c)) < 0.6))
    zips = pc.if_else(quote, pc.binary_join_element_wise("'", zips, ""), zips)
    tier, code = orders.tier[lo], orders.code[lo]
    tag = np.select([tier == 2, tier == 3, code >= 0], [1, 2, 3], default=0)
    none = pa.scalar(None, pa.string())
    phone = pa.array(people.phone[c], pa.string())
    codes = list(DISCOUNT_CODES)

    def money(values: npt.NDArray[np.int64]) -> pa.Array:
        """Order-level amounts as decimal text on each exported line row."""
        return format_major(values[lo], exps)

    def when(seconds: npt.NDArray[np.int64]) -> pa.Array:
        """Shopify local timestamps for seconds after the start."""
        return format_shopify(epoch + seconds, offsets)

    columns: dict[str, pa.Array] = {
        "Name": pc.binary_join_element_wise("#", pa.array(order_numbers[lo]).cast(pa.string()), ""),
        "Email": pa.array(people.email[c], pa.string()),
        "Financial Status": _pool(_FINANCIAL, status),
        "Paid at": pc.if_else(pa.array(is_paid), when(orders.t[lo] + 5), none),
        "Fulfillment Status": _pool(("fulfilled", "unfulfilled"), (~is_paid).astype(np.int64)),
        "Accepts Marketing": _pool(("no", "yes"), people.email_opt_in[c].astype(np.int64)),
        "Currency": _pool(list(spec.currencies), orders.currency[lo]),
        "Subtotal": format_major(net[lo], exps),
        "Shipping": money(orders.shipping),
        "Taxes": money(orders.tax),
        "Total": money(orders.total),
        "Discount Code": pc.if_else(pa.array(code < 0), none, _pool(codes, np.maximum(code, 0))),
        "Discount Amount": money(orders.discount),
        "Shipping Method": _pool(_METHODS, method[lo]),
        "Created at": when(orders.t[lo]),
        "Lineitem quantity": pa.array(orders.quantity[line_mask]).cast(pa.string()),
        "Lineitem name": _pool(catalog.name.tolist(), orders.product[line_mask]),
        "Lineitem price": format_major(orders.unit_price[line_mask], exps),
        "Lineitem sku": _pool(catalog.product_id.tolist(), orders.product[line_mask]),
        "Lineitem discount": format_major(orders.line_discount[line_mask], exps),
        "Billing Name": pc.binary_join_element_wise(
            pa.array(people.first_name[c], pa.string()),
            pa.array(people.last_name[c], pa.string()),
            " ",
        ),
        "Billing Phone": pc.if_else(pc.equal(phone, ""), none, phone),
        "Billing Country": _pool([k.code for k in COUNTRIES], people.country[c]),
        "Shipping Zip": zips,
        "Cancelled at": pc.if_else(pa.array(status == 2), when(orders.updated_t[lo]), none),
        "Refunded Amount": money(orders.refund),
        "Vendor": _pool(catalog.brand.tolist(), orders.product[line_mask]),
        "Id": pa.array(_ID_BASE + order_numbers[lo] * 7).cast(pa.string()),
        "Tags": _pool(("", "pro", "priority", "promo"), tag),
        "Source": _pool(_SOURCE, orders.channel[lo]),
    }
    per_line = {"Name", "Email", "Created at", "Vendor"} | {
        k for k in columns if k.startswith("Lineitem")
    }
    for key in list(columns):
        if key not in per_line:
            columns[key] = _blank_after_first(columns[key], first)
    return pa.table({k: columns[k] for k in SHOPIFY_COLUMNS})
