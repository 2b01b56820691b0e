"""Shared names for identifiers, money and the canonical kinds of data."""

from __future__ import annotations

from typing import Literal, NewType

__all__ = [
    "DATA_KINDS",
    "SOURCE_FORMATS",
    "Channel",
    "ConsentStatus",
    "CustomerId",
    "DataKind",
    "MoneyMinor",
    "OrderId",
    "ProductId",
    "Purpose",
    "SourceFormat",
]

CustomerId = NewType("CustomerId", str)
OrderId = NewType("OrderId", str)
ProductId = NewType("ProductId", str)
MoneyMinor = NewType("MoneyMinor", int)
"""An amount in the currency's minor unit (cents, yen, fils): never a float."""

Channel = Literal["email", "sms", "push", "in_app", "webhook"]
Purpose = Literal["marketing", "transactional"]
ConsentStatus = Literal["opt_in", "opt_out"]

DataKind = Literal["customers", "products", "orders", "order-lines", "events", "consents"]
DATA_KINDS: tuple[DataKind, ...] = (
    "customers",
    "products",
    "orders",
    "order-lines",
    "events",
    "consents",
)

SourceFormat = Literal["csv", "parquet", "jsonl", "shopify", "segment"]
SOURCE_FORMATS: tuple[SourceFormat, ...] = ("csv", "parquet", "jsonl", "shopify", "segment")
