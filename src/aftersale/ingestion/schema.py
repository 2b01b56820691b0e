"""Column contracts: the input fields each kind of load understands and how each is parsed.

Input fields are named after the canonical columns (``docs/DATA_MODEL.md``). Money can come as
a decimal in major units (``total``: ``"1,234.50"``) or as integer minor units
(``total_minor``). A source column is matched to a field by its name ignoring case, spaces,
dashes and underscores, by a known alias, or by an explicit ``--map target=source``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from aftersale.errors import InvalidInputError

__all__ = [
    "KIND_FIELDS",
    "LINE_FIELDS",
    "Field",
    "FieldParser",
    "fields_for",
    "is_line_level",
    "match_columns",
    "normalise_header",
]

FieldParser = Literal[
    "id",
    "text",
    "int",
    "float",
    "money",
    "money_minor",
    "currency",
    "timestamp",
    "email",
    "phone",
    "time_zone",
    "bool",
    "json",
    "enum",
]


@dataclass(frozen=True, slots=True)
class Field:
    """One input field: parser, whether a row needs it, and extra header spellings."""

    name: str
    parser: FieldParser
    required: bool = False
    aliases: tuple[str, ...] = ()
    choices: tuple[str, ...] = ()
    column: str | None = None  # canonical column written; defaults to ``name`` (+ ``_minor``)

    @property
    def target(self) -> str:
        """Canonical column this field fills."""
        if self.column:
            return self.column
        return f"{self.name}_minor" if self.parser == "money" else self.name


def _money(name: str, *aliases: str, required: bool = False) -> tuple[Field, Field]:
    return (
        Field(name, "money", required=False, aliases=aliases),
        Field(f"{name}_minor", "money_minor", required=False, column=f"{name}_minor"),
    )


_CUSTOMER_CONTACT = (
    Field("email", "email", aliases=("email address", "e-mail", "customer email")),
    Field("phone", "phone", aliases=("phone number", "mobile", "telephone")),
    Field("first_name", "text", aliases=("firstname", "given name")),
    Field("last_name", "text", aliases=("lastname", "surname", "family name")),
    Field("country", "text", aliases=("country code", "billing country")),
    Field("time_zone", "time_zone", aliases=("timezone", "tz")),
)

CUSTOMER_FIELDS = (
    Field(
        "customer_id", "id", required=True, aliases=("customer", "user id", "userid", "client id")
    ),
    *_CUSTOMER_CONTACT,
    Field("created_at", "timestamp", aliases=("signup at", "signed up at", "created")),
    Field("traits", "json"),
)

PRODUCT_FIELDS = (
    Field("product_id", "id", required=True, aliases=("sku", "stock code", "stockcode", "item id")),
    Field("name", "text", aliases=("product name", "title", "description")),
    Field("category", "text", aliases=("product type", "product category")),
    Field("brand", "text", aliases=("vendor",)),
    *_money("price", "unit price", "list price"),
    Field("currency", "currency"),
    Field("margin_rate", "float", aliases=("margin",)),
    Field("replenishment_days", "int", aliases=("replenishment cycle days",)),
    Field("complements", "json"),
)

ORDER_STATUSES = (
    "completed",
    "pending",
    "cancelled",
    "refunded",
    "partially_refunded",
    "returned",
)

_ORDER_BASE: tuple[Field, ...] = (
    Field(
        "order_id",
        "id",
        required=True,
        aliases=("order", "order number", "invoice", "invoiceno", "invoice no", "invoice number"),
    ),
    Field("customer_id", "id", aliases=("customer", "customerid", "user id")),
    Field(
        "ordered_at",
        "timestamp",
        required=True,
        aliases=("order date", "invoicedate", "invoice date", "created at", "date"),
    ),
    Field("status", "enum", choices=ORDER_STATUSES, aliases=("order status", "financial status")),
    Field("currency", "currency"),
    *_money("subtotal"),
    *_money("discount", "discount amount"),
    *_money("shipping"),
    *_money("tax", "taxes"),
    *_money("total", "order total", "amount"),
    *_money("refund", "refunded amount", "refunded"),
    Field("discount_code", "text", aliases=("coupon", "promo code")),
    Field("offer_tier", "text", aliases=("tier", "plan")),
    Field("sales_channel", "text", aliases=("channel", "source")),
    Field("item_count", "int", aliases=("items", "units")),
    Field("cancelled_at", "timestamp"),
    Field("updated_at", "timestamp"),
    *_CUSTOMER_CONTACT,
)

_LINE_ONLY = (
    Field(
        "order_id",
        "id",
        required=True,
        aliases=("order", "invoice", "invoiceno", "invoice no", "name"),
    ),
    Field("line_number", "int", aliases=("line", "line no", "position")),
    Field("product_id", "id", required=True, aliases=("sku", "stock code", "stockcode", "item id")),
    Field("product_name", "text", aliases=("description", "item name", "product")),
    Field("category", "text"),
    Field("quantity", "int", required=True, aliases=("qty", "units")),
    *_money("unit_price", "price", "unitprice"),
)

LINE_FIELDS = (
    *_LINE_ONLY,
    *_money("discount", "line discount"),
    Field("currency", "currency"),
)

# An orders file may be invoice-style: order fields and line fields on every row.
ORDER_FIELDS: tuple[Field, ...] = (
    *_ORDER_BASE,
    *(
        Field(f.name, f.parser, required=False, aliases=f.aliases, column=f.column)
        for f in _LINE_ONLY
        if f.name != "order_id"
    ),
)

CONSENT_FIELDS = (
    Field("customer_id", "id", required=True, aliases=("customer", "user id")),
    Field("channel", "enum", required=True, choices=("email", "sms", "push", "in_app", "webhook")),
    Field("purpose", "enum", choices=("marketing", "transactional")),
    Field(
        "status", "enum", required=True, choices=("opt_in", "opt_out"), aliases=("consent", "state")
    ),
    Field(
        "recorded_at",
        "timestamp",
        required=True,
        aliases=("timestamp", "consented at", "updated at"),
    ),
    Field("method", "text", aliases=("how", "collected via")),
    Field("evidence", "text", aliases=("text shown", "proof")),
)

EVENT_FIELDS = (
    Field("message_id", "id", aliases=("messageid", "event id", "unique id")),
    Field("type", "enum", choices=("track", "identify", "page", "screen", "group", "alias")),
    Field("event", "text", aliases=("event name", "name", "metric")),
    Field("customer_id", "id", aliases=("userid", "user id")),
    Field("anonymous_id", "id", aliases=("anonymousid",)),
    Field("occurred_at", "timestamp", required=True, aliases=("timestamp", "time", "event time")),
    Field("received_at", "timestamp", aliases=("receivedat",)),
    Field("order_id", "id"),
    Field("properties", "json"),
    Field("context", "json"),
    Field("traits", "json"),
)

KIND_FIELDS: dict[str, tuple[Field, ...]] = {
    "customers": CUSTOMER_FIELDS,
    "products": PRODUCT_FIELDS,
    "orders": ORDER_FIELDS,
    "order-lines": LINE_FIELDS,
    "events": EVENT_FIELDS,
    "consents": CONSENT_FIELDS,
}

# Order files that carry these fields are invoice-style: one row per order line.
_LINE_MARKERS = ("product_id", "quantity")


def fields_for(kind: str) -> tuple[Field, ...]:
    """Return the input fields of ``kind``."""
    try:
        return KIND_FIELDS[kind]
    except KeyError:
        raise InvalidInputError(
            f"unknown kind {kind!r}; expected one of {', '.join(KIND_FIELDS)}"
        ) from None


def normalise_header(name: str) -> str:
    """Fold a header for matching: lower case, no spaces, dashes, dots or underscores."""
    return re.sub(r"[\s_\-.#]+", "", name.strip().lstrip("\ufeff").lower())


def match_columns(
    fields: tuple[Field, ...], columns: tuple[str, ...], explicit: dict[str, str]
) -> dict[str, str]:
    """Return ``{field name: source column}`` for the columns of a file.

    Explicit mappings win; unknown targets or sources raise an error naming them and listing
    what exists, so a typo in ``--map`` is caught before any row is read.
    """
    by_name = {f.name: f for f in fields}
    folded = {normalise_header(c): c for c in columns}
    result: dict[str, str] = {}
    for target, source in explicit.items():
        if target not in by_name:
            raise InvalidInputError(
                f"--map {target}={source}: {target!r} is not a field of this kind; "
                f"fields: {', '.join(by_name)}"
            )
        actual = source if source in columns else folded.get(normalise_header(source))
        if actual is None:
            raise InvalidInputError(
                f"--map {target}={source}: no column {source!r} in the file; "
                f"columns found: {', '.join(columns)}"
            )
        result[target] = actual
    used = set(result.values())
    for f in fields:
        if f.name in result:
            continue
        for candidate in (f.name, *f.aliases):
            actual = folded.get(normalise_header(candidate))
            if actual is not None and actual not in used:
                result[f.name] = actual
                used.add(actual)
                break
    return result


def is_line_level(matched: dict[str, str]) -> bool:
    """True when an orders file carries product lines (invoice-style export)."""
    return all(m in matched for m in _LINE_MARKERS)
