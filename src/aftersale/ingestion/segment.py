"""Segment-spec JSON lines: track / identify / page / batch calls, and what they imply.

Each call becomes one event row (``messageId`` derived from content when absent). Calls that
carry more than behaviour also feed other tables: ``identify`` traits update the customer, and
E-commerce v2 order events (``Order Completed``, ``Order Updated``, ``Order Refunded``,
``Order Cancelled``) become orders and order lines, so a shop that only sends events still gets
an orders table.
"""

from __future__ import annotations

import json
from typing import Any

import polars as pl

from aftersale.domain.events import SEGMENT_CALL_TYPES, derive_message_id, normalise_event_name
from aftersale.ingestion.readers import ROW

__all__ = [
    "MESSAGE",
    "customer_rows",
    "flatten_segment",
    "line_rows",
    "order_rows",
    "order_update_rows",
]

_COMPLETED = ("Order Completed", "Order Updated")
MESSAGE = "_message_id"
"""Column tying a derived row to the event it came from (dropped before storing)."""


def flatten_segment(obj: dict[str, Any]) -> list[dict[str, Any]]:
    """Flatten one Segment call, or every call of a ``batch`` object, into text rows."""
    if isinstance(obj.get("batch"), list):
        shared = obj.get("context") or {}
        items = []
        for item in obj["batch"]:
            if not isinstance(item, dict):
                raise ValueError("batch item is not a JSON object")
            if shared and "context" not in item:
                item = {**item, "context": shared}
            items.append(_one(item))
        return items
    return [_one(obj)]


def _one(item: dict[str, Any]) -> dict[str, Any]:
    call = item.get("type") or ("track" if "event" in item else None)
    if call not in SEGMENT_CALL_TYPES:
        raise ValueError(
            f"type {call!r} is not a Segment call ({', '.join(sorted(SEGMENT_CALL_TYPES))})"
        )
    event = item.get("event")
    if call == "track" and not event:
        raise ValueError("track call without an event name")
    properties = item.get("properties") or {}
    context = item.get("context") or {}
    traits = item.get("traits") or (context.get("traits") if isinstance(context, dict) else None)
    if not isinstance(properties, dict):
        raise ValueError("properties is not a JSON object")
    timestamp = (
        item.get("timestamp")
        or item.get("originalTimestamp")
        or item.get("sentAt")
        or item.get("receivedAt")
    )
    order_id = properties.get("order_id", properties.get("orderId"))
    return {
        "message_id": str(item.get("messageId") or derive_message_id(item)),
        "type": call,
        "event": normalise_event_name(str(event)) if event else None,
        "customer_id": _text(item.get("userId")),
        "anonymous_id": _text(item.get("anonymousId")),
        "occurred_at": _text(timestamp),
        "received_at": _text(item.get("receivedAt")),
        "order_id": _text(order_id),
        "properties": _json(traits or {}) if call == "identify" else _json(properties),
        "context": _json(context) if context else None,
        "traits": _json(traits) if traits else None,
    }


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else json.dumps(value)


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def _prop(column: str, *paths: str) -> pl.Expr:
    exprs = [pl.col(column).str.json_path_match(p) for p in paths]
    return pl.coalesce(exprs) if len(exprs) > 1 else exprs[0]


def order_rows(events: pl.DataFrame) -> pl.DataFrame:
    """Text rows for the orders table from Order Completed / Order Updated events."""
    rows = events.filter(pl.col("event").is_in(_COMPLETED) & pl.col("order_id").is_not_null())
    return rows.select(
        pl.col(ROW),
        pl.col("message_id").alias(MESSAGE),
        pl.col("order_id"),
        pl.col("customer_id"),
        pl.col("occurred_at").dt.to_string("%Y-%m-%d %H:%M:%S%.f+00:00").alias("ordered_at"),
        pl.lit("completed").alias("status"),
        _prop("properties", "$.currency").alias("currency"),
        _prop("properties", "$.subtotal").alias("subtotal"),
        _prop("properties", "$.discount").alias("discount"),
        _prop("properties", "$.shipping").alias("shipping"),
        _prop("properties", "$.tax").alias("tax"),
        _prop("properties", "$.total", "$.revenue").alias("total"),
        _prop("properties", "$.coupon").alias("discount_code"),
        _prop("properties", "$.offer_tier").alias("offer_tier"),
        _prop("properties", "$.affiliation", "$.sales_channel").alias("sales_channel"),
    )


def line_rows(events: pl.DataFrame) -> pl.DataFrame:
    """Text rows for order lines from the ``products`` array of order events."""
    rows = events.filter(pl.col("event").is_in(_COMPLETED) & pl.col("order_id").is_not_null())
    if rows.height == 0:
        return pl.DataFrame()
    records: list[dict[str, Any]] = []
    for row, message_id, order_id, props, currency in rows.select(
        ROW, "message_id", "order_id", "properties", _prop("properties", "$.currency").alias("c")
    ).iter_rows():
        products = json.loads(props).get("products") or []
        for position, product in enumerate(products, start=1):
            if not isinstance(product, dict):
                continue
            records.append(
                {
                    ROW: row,
                    MESSAGE: message_id,
                    "order_id": order_id,
                    "line_number": str(position),
                    "product_id": _text(product.get("product_id") or product.get("sku")),
                    "product_name": _text(product.get("name")),
                    "category": _text(product.get("category")),
                    "quantity": _text(product.get("quantity", 1)),
                    "unit_price": _text(product.get("price")),
                    "currency": currency,
                }
            )
    return pl.DataFrame(records, schema_overrides={ROW: pl.Int64}) if records else pl.DataFrame()


def order_update_rows(events: pl.DataFrame) -> pl.DataFrame:
    """Text rows that update existing orders from Order Refunded / Order Cancelled events."""
    rows = events.filter(
        pl.col("event").is_in(["Order Refunded", "Order Cancelled"])
        & pl.col("order_id").is_not_null()
    )
    when = pl.col("occurred_at").dt.to_string("%Y-%m-%d %H:%M:%S%.f+00:00")
    refunded = pl.col("event") == "Order Refunded"
    return rows.select(
        pl.col(ROW),
        pl.col("message_id").alias(MESSAGE),
        pl.col("order_id"),
        pl.when(refunded).then(pl.lit("refunded")).otherwise(pl.lit("cancelled")).alias("status"),
        pl.when(refunded).then(_prop("properties", "$.total", "$.revenue")).alias("refund"),
        _prop("properties", "$.currency").alias("currency"),
        pl.when(~refunded).then(when).alias("cancelled_at"),
        when.alias("updated_at"),
    )


def customer_rows(events: pl.DataFrame) -> pl.DataFrame:
    """Text rows for customers from ``identify`` traits (anonymous calls are skipped)."""
    rows = events.filter(
        (pl.col("type") == "identify")
        & pl.col("customer_id").is_not_null()
        & pl.col("traits").is_not_null()
    )
    t = "traits"
    return rows.select(
        pl.col(ROW),
        pl.col("message_id").alias(MESSAGE),
        pl.col("customer_id"),
        _prop(t, "$.email").alias("email"),
        _prop(t, "$.phone").alias("phone"),
        _prop(t, "$.first_name", "$.firstName").alias("first_name"),
        _prop(t, "$.last_name", "$.lastName").alias("last_name"),
        _prop(t, "$.address.country", "$.country").alias("country"),
        _prop(t, "$.timezone", "$.time_zone").alias("time_zone"),
        _prop(t, "$.created_at", "$.createdAt").alias("created_at"),
        pl.col("traits"),
    )
