"""The canonical data model: every warehouse table, its columns, types, units and meaning.

This is the single definition the stores create tables from, the ingest maps sources onto, and
``docs/DATA_MODEL.md`` is generated from (a test keeps them in step). Each table has one natural
key column (``key``) so a load can be merged idempotently on any backend.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "CANONICAL_TABLES",
    "Column",
    "ColumnType",
    "Table",
    "table",
]

ColumnType = Literal["string", "int64", "float64", "bool", "timestamp", "json"]


@dataclass(frozen=True, slots=True)
class Column:
    """One column: name, logical type, unit (if any) and what it means."""

    name: str
    type: ColumnType
    description: str
    unit: str = ""
    nullable: bool = True


@dataclass(frozen=True, slots=True)
class Table:
    """One canonical table with its single natural-key column."""

    name: str
    key: str
    description: str
    columns: tuple[Column, ...] = field(default_factory=tuple)

    @property
    def column_names(self) -> tuple[str, ...]:
        """Names of the columns, in order."""
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        """Return the column called ``name``."""
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(f"table {self.name} has no column {name!r}")


def _c(
    name: str, type_: ColumnType, description: str, unit: str = "", *, nullable: bool = True
) -> Column:
    return Column(name=name, type=type_, description=description, unit=unit, nullable=nullable)


_LINEAGE = (
    _c("source", "string", "Name of the source system the row came from.", nullable=False),
    _c("source_file", "string", "File (or API batch) that last wrote the row."),
    _c("loaded_at", "timestamp", "When aftersale last wrote the row.", "UTC", nullable=False),
)

CUSTOMERS = Table(
    name="customers",
    key="customer_id",
    description="One row per person who bought or was identified; guests are not customers.",
    columns=(
        _c("customer_id", "string", "Opaque id from the source system.", nullable=False),
        _c("email", "string", "Lower-cased, trimmed email address."),
        _c("phone", "string", "Phone number in E.164 form (+4915112345678).", "E.164"),
        _c("first_name", "string", "Given name."),
        _c("last_name", "string", "Family name."),
        _c("country", "string", "Country code (ISO 3166-1 alpha-2) or the name as given."),
        _c("time_zone", "string", "The customer's IANA time zone, e.g. Europe/Berlin.", "IANA"),
        _c("created_at", "timestamp", "When the customer record was created upstream.", "UTC"),
        _c("traits", "json", "Other attributes from the source (Segment identify traits)."),
        *_LINEAGE,
    ),
)

PRODUCTS = Table(
    name="products",
    key="product_id",
    description="Catalogue: what can be bought, at what price and margin.",
    columns=(
        _c("product_id", "string", "SKU or product id.", nullable=False),
        _c("name", "string", "Product name."),
        _c("category", "string", "Category used for affinity and replenishment."),
        _c("brand", "string", "Brand or vendor."),
        _c("price_minor", "int64", "List price.", "currency minor units"),
        _c("currency", "string", "Currency of price_minor.", "ISO 4217"),
        _c("margin_rate", "float64", "Gross margin as a share of price, 0..1.", "ratio"),
        _c(
            "replenishment_days",
            "int64",
            "Typical days until a consumable runs out (blank when not consumable).",
            "days",
        ),
        _c("complements", "json", "Product ids usually bought with this one (JSON list)."),
        *_LINEAGE,
    ),
)

ORDERS = Table(
    name="orders",
    key="order_id",
    description="One row per order, cancellation or return document.",
    columns=(
        _c("order_id", "string", "Order id (Shopify Name, invoice number…).", nullable=False),
        _c("customer_id", "string", "Buyer; blank for guest orders."),
        _c("is_guest", "bool", "True when the order has no customer id.", nullable=False),
        _c("ordered_at", "timestamp", "When the order was placed.", "UTC", nullable=False),
        _c(
            "status",
            "string",
            "completed, pending, cancelled, refunded, partially_refunded or returned.",
            nullable=False,
        ),
        _c(
            "currency",
            "string",
            "Currency of every amount on the order.",
            "ISO 4217",
            nullable=False,
        ),
        _c("subtotal_minor", "int64", "Sum of product lines before discount.", "minor units"),
        _c("discount_minor", "int64", "Discount granted (positive number).", "minor units"),
        _c("shipping_minor", "int64", "Shipping charged.", "minor units"),
        _c("tax_minor", "int64", "Tax charged.", "minor units"),
        _c(
            "total_minor",
            "int64",
            "What the customer paid: subtotal - discount + shipping + tax.",
            "minor units",
            nullable=False,
        ),
        _c("refund_minor", "int64", "Amount refunded so far (positive number).", "minor units"),
        _c("discount_code", "string", "Coupon or discount code used, if any."),
        _c("offer_tier", "string", "Offer bought: starter, standard, pro, urgent … (optional)."),
        _c("sales_channel", "string", "Where it was sold: web, pos, app, marketplace …"),
        _c("item_count", "int64", "Units of product lines on the order.", "units"),
        _c("cancelled_at", "timestamp", "When it was cancelled, if it was.", "UTC"),
        _c("updated_at", "timestamp", "Last change upstream (refund, cancellation).", "UTC"),
        *_LINEAGE,
    ),
)

ORDER_LINES = Table(
    name="order_lines",
    key="line_id",
    description="One row per line of an order; non-product lines are kept and marked.",
    columns=(
        _c("line_id", "string", "order_id + ':' + line_number.", nullable=False),
        _c("order_id", "string", "The order the line belongs to.", nullable=False),
        _c("line_number", "int64", "1-based position of the line in its order.", nullable=False),
        _c("product_id", "string", "SKU or product id."),
        _c("product_name", "string", "Product name as sold."),
        _c("category", "string", "Category of the product as sold."),
        _c(
            "quantity",
            "int64",
            "Units; negative on returns and cancellations.",
            "units",
            nullable=False,
        ),
        _c("unit_price_minor", "int64", "Price of one unit.", "minor units", nullable=False),
        _c("line_total_minor", "int64", "quantity × unit price - line discount.", "minor units"),
        _c("discount_minor", "int64", "Discount on this line (positive).", "minor units"),
        _c("currency", "string", "Currency of the amounts.", "ISO 4217", nullable=False),
        _c(
            "line_kind",
            "string",
            "product, shipping, fee, discount or adjustment (non-product lines are not sales).",
            nullable=False,
        ),
        *_LINEAGE,
    ),
)

EVENTS = Table(
    name="events",
    key="event_key",
    description="Behaviour in the Segment spec; E-commerce v2 names are canonical.",
    columns=(
        _c("event_key", "string", "source + ':' + message_id (the dedupe key).", nullable=False),
        _c(
            "message_id",
            "string",
            "Segment messageId (derived from content when absent).",
            nullable=False,
        ),
        _c("type", "string", "track, identify, page, screen, group or alias.", nullable=False),
        _c("event", "string", "Event name for track calls, e.g. Order Completed."),
        _c("customer_id", "string", "Segment userId."),
        _c("anonymous_id", "string", "Segment anonymousId."),
        _c("occurred_at", "timestamp", "Client timestamp of the event.", "UTC", nullable=False),
        _c("received_at", "timestamp", "When the event reached aftersale.", "UTC"),
        _c("order_id", "string", "Order the event is about, when it carries one."),
        _c("properties", "json", "Event properties (snake_case names as sent)."),
        _c("context", "json", "Segment context object."),
        *_LINEAGE,
    ),
)

CONSENTS = Table(
    name="consents",
    key="consent_key",
    description="Append-only consent history per customer, channel and purpose.",
    columns=(
        _c(
            "consent_key",
            "string",
            "customer, channel, purpose and time joined (dedupe key).",
            nullable=False,
        ),
        _c("customer_id", "string", "Whose consent.", nullable=False),
        _c("channel", "string", "email, sms, push, in_app or webhook.", nullable=False),
        _c("purpose", "string", "marketing or transactional.", nullable=False),
        _c("status", "string", "opt_in or opt_out.", nullable=False),
        _c(
            "recorded_at",
            "timestamp",
            "When the consent was given or withdrawn.",
            "UTC",
            nullable=False,
        ),
        _c("method", "string", "How it was captured: checkout box, form, STOP reply, import …"),
        _c("evidence", "string", "Text shown or other proof kept for the record."),
        *_LINEAGE,
    ),
)

QUARANTINE = Table(
    name="quarantine",
    key="quarantine_key",
    description="Rows that could not be trusted, with where they came from and why.",
    columns=(
        _c(
            "quarantine_key",
            "string",
            "source_file + ':' + row_number + ':' + kind.",
            nullable=False,
        ),
        _c("load_id", "string", "The load run that met the row.", nullable=False),
        _c("kind", "string", "What was being loaded (orders, events …).", nullable=False),
        _c(
            "row_number", "int64", "1-based data row in the file (header excluded).", nullable=False
        ),
        _c("field", "string", "The column at fault (blank for whole-row problems)."),
        _c(
            "reason",
            "string",
            "Machine-readable reason code, e.g. unparseable_timestamp.",
            nullable=False,
        ),
        _c("detail", "string", "Human explanation naming the bad value.", nullable=False),
        _c(
            "raw",
            "json",
            "The row as read (spreadsheet-formula text kept as data).",
            nullable=False,
        ),
        *_LINEAGE,
    ),
)

CANONICAL_TABLES: dict[str, Table] = {
    t.name: t for t in (CUSTOMERS, PRODUCTS, ORDERS, ORDER_LINES, EVENTS, CONSENTS, QUARANTINE)
}


def table(name: str) -> Table:
    """Return the canonical table called ``name``."""
    try:
        return CANONICAL_TABLES[name]
    except KeyError:
        raise KeyError(
            f"no canonical table {name!r}; known: {', '.join(CANONICAL_TABLES)}"
        ) from None
