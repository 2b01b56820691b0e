"""Column matching: case, spacing and known aliases; --map errors name the problem."""

from __future__ import annotations

import pytest

from aftersale.errors import InvalidInputError
from aftersale.ingestion.mapping import load_mapping, parse_map_flags
from aftersale.ingestion.schema import fields_for, is_line_level, match_columns


def test_headers_match_ignoring_case_spacing_and_aliases() -> None:
    cols = (
        "InvoiceNo",
        "StockCode",
        "Description",
        "Quantity",
        "InvoiceDate",
        "UnitPrice",
        "CustomerID",
        "Country",
    )
    matched = match_columns(fields_for("orders"), cols, {})
    assert matched == {
        "order_id": "InvoiceNo",
        "customer_id": "CustomerID",
        "ordered_at": "InvoiceDate",
        "country": "Country",
        "product_id": "StockCode",
        "product_name": "Description",
        "quantity": "Quantity",
        "unit_price": "UnitPrice",
    }
    assert is_line_level(matched)


def test_explicit_map_wins_and_is_checked() -> None:
    matched = match_columns(
        fields_for("customers"), ("id", "mail"), {"customer_id": "ID", "email": "mail"}
    )
    assert matched == {"customer_id": "id", "email": "mail"}
    with pytest.raises(InvalidInputError, match="'colour' is not a field"):
        match_columns(fields_for("customers"), ("id",), {"colour": "id"})


def test_map_flags_must_have_an_equals_sign() -> None:
    assert parse_map_flags(["order_id=Name", " total = Total "]) == {
        "order_id": "Name",
        "total": "Total",
    }
    with pytest.raises(InvalidInputError, match="expected target=source"):
        parse_map_flags(["order_id"])


def test_unknown_kind_is_named() -> None:
    with pytest.raises(InvalidInputError, match="unknown kind 'invoices'"):
        fields_for("invoices")


def test_mapping_file_errors_name_file_and_key(tmp_path) -> None:  # type: ignore[no-untyped-def]
    good = tmp_path / "m.toml"
    good.write_text(
        '[columns]\norder_id = "Name"\n[options]\ncurrency = "JPY"\ndayfirst = true\n',
        encoding="utf-8",
    )
    mapping = load_mapping(good)
    assert mapping.columns == {"order_id": "Name"} and mapping.options.currency == "JPY"
    bad = tmp_path / "bad.toml"
    bad.write_text('[options]\ntimezone = "UTC"\n', encoding="utf-8")
    with pytest.raises(InvalidInputError, match=r"bad.toml: unknown option 'timezone'"):
        load_mapping(bad)
    worse = tmp_path / "worse.toml"
    worse.write_text('[options]\ncurrency = "ZZZ"\n', encoding="utf-8")
    with pytest.raises(InvalidInputError, match="not an ISO 4217 code"):
        load_mapping(worse)
