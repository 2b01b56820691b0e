"""Event names: Segment E-commerce v2 spelling and derived message ids."""

from __future__ import annotations

import pytest

from aftersale.domain.events import derive_message_id, normalise_event_name


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("Order Completed", "Order Completed"),
        ("order_completed", "Order Completed"),
        ("Placed Order", "Order Completed"),
        ("Viewed Product", "Product Viewed"),
        ("viewed product category", "Product List Viewed"),
        ("  Checkout   Question Asked ", "Checkout Question Asked"),
        ("ORDER REFUNDED", "Order Refunded"),
    ],
)
def test_event_names_are_canonical(given: str, expected: str) -> None:
    assert normalise_event_name(given) == expected


def test_derived_message_id_is_stable_and_content_based() -> None:
    a = {
        "type": "track",
        "event": "X",
        "userId": "u",
        "timestamp": "t",
        "properties": {"a": 1, "b": 2},
    }
    b = {
        "properties": {"b": 2, "a": 1},
        "timestamp": "t",
        "userId": "u",
        "event": "X",
        "type": "track",
    }
    assert derive_message_id(a) == derive_message_id(b)
    assert derive_message_id(a) != derive_message_id({**a, "event": "Y"})
