"""Segment-spec event vocabulary: canonical E-commerce v2 names and their common aliases."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

__all__ = [
    "ENGINE_SOURCE",
    "EVENT_ALIASES",
    "HEALTH_CHANGED",
    "SEGMENT_CALL_TYPES",
    "derive_message_id",
    "normalise_event_name",
]

ENGINE_SOURCE = "aftersale"
"""``source`` of the events aftersale itself writes (never counted as customer behaviour)."""

HEALTH_CHANGED = "Health Grade Changed"
"""Event written when a customer's health grade changes between two snapshots."""

SEGMENT_CALL_TYPES = frozenset({"track", "identify", "page", "screen", "group", "alias"})

# E-commerce v1 names, Klaviyo-style action-first names and snake_case forms -> v2 names.
EVENT_ALIASES: Mapping[str, str] = {
    "viewed product": "Product Viewed",
    "viewed product category": "Product List Viewed",
    "clicked product": "Product Clicked",
    "added product": "Product Added",
    "removed product": "Product Removed",
    "started checkout": "Checkout Started",
    "completed order": "Order Completed",
    "placed order": "Order Completed",
    "ordered product": "Order Completed",
    "refunded order": "Order Refunded",
    "cancelled order": "Order Cancelled",
    "canceled order": "Order Cancelled",
    "order canceled": "Order Cancelled",
    "searched products": "Products Searched",
    "viewed checkout step": "Checkout Step Viewed",
    "completed checkout step": "Checkout Step Completed",
    "entered payment info": "Payment Info Entered",
    "shared product": "Product Shared",
    "reviewed product": "Product Reviewed",
    "opened email": "Email Opened",
    "clicked email": "Email Link Clicked",
    "email clicked": "Email Link Clicked",
}


def normalise_event_name(name: str) -> str:
    """Map an event name to the canonical Segment E-commerce v2 spelling.

    Known aliases are translated; ``snake_case`` and odd spacing become Title Case words, so
    ``order_completed`` and ``order  completed`` both give ``Order Completed``.
    """
    cleaned = " ".join(name.replace("_", " ").split())
    alias = EVENT_ALIASES.get(cleaned.lower())
    if alias is not None:
        return alias
    if cleaned.islower() or cleaned.isupper():
        return " ".join(word.capitalize() for word in cleaned.split(" "))
    return cleaned


def derive_message_id(payload: Mapping[str, Any]) -> str:
    """Return a stable id for an event that arrived without ``messageId``.

    The same content always gives the same id, so a replayed event without an id is still a
    duplicate.
    """
    basis = {
        k: payload.get(k)
        for k in ("type", "event", "userId", "anonymousId", "timestamp", "properties", "traits")
    }
    digest = hashlib.sha256(
        json.dumps(basis, sort_keys=True, default=str, separators=(",", ":")).encode()
    ).hexdigest()
    return f"derived-{digest[:32]}"
