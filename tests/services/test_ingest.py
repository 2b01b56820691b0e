"""End-to-end ingestion: every format, every kind of mess, idempotence, quarantine contents."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from aftersale.clock import FixedClock
from aftersale.config import Settings
from aftersale.errors import InvalidInputError, SchemaError
from aftersale.services.ingest import ingest
from tests.factories import write_csv, write_jsonl

INVOICE_HEADER = (
    "InvoiceNo",
    "StockCode",
    "Description",
    "Quantity",
    "InvoiceDate",
    "UnitPrice",
    "CustomerID",
    "Country",
)


def query(settings: Settings, sql: str) -> list[tuple]:
    with duckdb.connect(str(settings.warehouse.path), read_only=True) as con:
        return con.sql(sql).fetchall()


def invoice_file(tmp_path: Path) -> Path:
    rows = [
        (
            "536365",
            "85123A",
            " WHITE HANGING HEART ",
            "6",
            "12/1/2010 8:26",
            "2.55",
            "17850",
            "United Kingdom",
        ),
        (
            "536365",
            "71053",
            "WHITE METAL LANTERN",
            "6",
            "12/1/2010 8:26",
            "3.39",
            "17850",
            "United Kingdom",
        ),
        (
            "536365",
            "71053",
            "WHITE METAL LANTERN",
            "6",
            "12/1/2010 8:26",
            "3.39",
            "17850",
            "United Kingdom",
        ),
        ("536365", "POST", "POSTAGE", "1", "12/1/2010 8:26", "18.00", "17850", "United Kingdom"),
        ("C536379", "D", "Discount", "-1", "12/1/2010 9:41", "27.50", "14527", "United Kingdom"),
        (
            "C536380",
            "22633",
            "HAND WARMER",
            "-2",
            "12/1/2010 9:45",
            "1.85",
            "14527",
            "United Kingdom",
        ),
        ("536366", "22633", "HAND WARMER", "1,000", "12/1/2010 8:28", "1.85", "", "United Kingdom"),
        (
            "536367",
            "22633",
            "HAND WARMER",
            "2",
            "13/45/2010 8:28",
            "1.85",
            "13047",
            "United Kingdom",
        ),
        (
            "536369",
            "22634",
            '=HYPERLINK("http://x")',
            "2",
            "12/1/2010 8:28",
            "0",
            "13047.0",
            "United Kingdom",
        ),
        (
            "536370",
            "B",
            "Adjust bad debt",
            "1",
            "12/2/2010 10:00",
            "-11062.06",
            "",
            "United Kingdom",
        ),
        ("536371", "22635", "MUG", "two", "12/2/2010 10:00", "1.00", "13047", "United Kingdom"),
    ]
    path = write_csv(tmp_path / "invoices.csv", INVOICE_HEADER, rows)
    with path.open("a", encoding="utf-8") as fh:
        fh.write("536372,22636,RAGGED,1,12/2/2010 10:00,1.00,13047,United Kingdom,extra\n")
        fh.write("536373,22637,AFTER RAGGED,1,12/2/2010 10:05,1.00,13047,United Kingdom\n")
    return path


def invoice_mapping(tmp_path: Path) -> Path:
    path = tmp_path / "invoices.mapping.toml"
    path.write_text(
        """
[columns]
order_id = "InvoiceNo"
ordered_at = "InvoiceDate"

[options]
timestamp_format = "%m/%d/%Y %H:%M"
time_zone = "Europe/London"
currency = "GBP"
""",
        encoding="utf-8",
    )
    return path


def test_invoice_export_lands_as_orders_lines_and_customers(
    tmp_path: Path, settings: Settings, clock: FixedClock
) -> None:
    report = ingest(
        "orders",
        invoice_file(tmp_path),
        settings=settings,
        clock=clock,
        mapping=invoice_mapping(tmp_path),
        source_format="csv",
    )
    assert report.rows_read == 13
    assert report.rows_duplicate == 1
    assert dict(report.quarantined) == {
        "unparseable_timestamp": 1,
        "not_an_integer": 1,
        "wrong_field_count": 1,
    }
    assert report.rows_loaded == 9
    assert report.balanced()
    assert report.tables["orders"].inserted == 7
    assert report.tables["customers"].inserted == 3
    notes = report.notes
    assert notes["guest_orders"] == 2
    assert notes["cancelled_orders"] == 2
    assert notes["non_product_lines:shipping"] == 1
    assert notes["non_product_lines:discount"] == 1
    assert notes["non_product_lines:adjustment"] == 1
    assert notes["zero_price_lines"] == 1
    assert notes["negative_price_lines"] == 1
    assert notes["cells_trimmed"] == 1
    assert notes["files_with_ragged_rows"] == 1

    order = query(
        settings,
        "select customer_id, is_guest, status, currency, subtotal_minor, shipping_minor,"
        " total_minor, item_count, ordered_at from orders where order_id = '536365'",
    )
    # 6 x 2.55 + 6 x 3.39 = 35.64 of products, 18.00 postage; the duplicate row counted once.
    assert order[0][:8] == ("17850", False, "completed", "GBP", 3564, 1800, 5364, 12)
    assert order[0][8].isoformat() == "2010-12-01T08:26:00+00:00"
    assert query(
        settings, "select status from orders where order_id in ('C536379', 'C536380')"
    ) == [("cancelled",), ("cancelled",)]
    guest = query(
        settings, "select customer_id, is_guest, item_count from orders where order_id = '536366'"
    )
    assert guest == [(None, True, 1000)]
    # Text that looks like a formula is kept as data, and an id exported as 13047.0 is 13047.
    assert query(settings, "select product_name from order_lines where order_id = '536369'") == [
        ('=HYPERLINK("http://x")',)
    ]
    assert query(settings, "select customer_id from orders where order_id = '536369'") == [
        ("13047",)
    ]
    kinds = dict(query(settings, "select product_id, line_kind from order_lines"))
    assert kinds["POST"] == "shipping" and kinds["D"] == "discount" and kinds["B"] == "adjustment"
    assert ("13047", "United Kingdom") in query(
        settings, "select customer_id, country from customers"
    )
    # Products sold appear in the catalogue (non-product lines do not).
    products = dict(query(settings, "select product_id, name from products"))
    assert products["85123A"] == "WHITE HANGING HEART" and "POST" not in products


def test_quarantine_names_file_row_field_and_reason(tmp_path: Path, settings: Settings) -> None:
    path = invoice_file(tmp_path)
    ingest("orders", path, settings=settings, mapping=invoice_mapping(tmp_path))
    rows = query(
        settings,
        "select source_file, row_number, kind, field, reason, detail, raw from quarantine"
        " order by row_number",
    )
    assert [(r[1], r[3], r[4]) for r in rows] == [
        (8, "ordered_at", "unparseable_timestamp"),
        (11, "quantity", "not_an_integer"),
        (12, None, "wrong_field_count"),
    ]
    assert all(r[0] == str(path) and r[2] == "orders" for r in rows)
    assert "13/45/2010 8:28" in rows[0][5]
    assert json.loads(rows[0][6])["InvoiceNo"] == "536367"
    # The row after the ragged one keeps its true number and lands.
    assert query(settings, "select count(*) from order_lines where order_id = '536373'") == [(1,)]


def test_loading_the_same_file_twice_changes_nothing(tmp_path: Path, settings: Settings) -> None:
    path = invoice_file(tmp_path)
    first = ingest("orders", path, settings=settings, mapping=invoice_mapping(tmp_path))
    snapshot = {
        t: query(settings, f"select * exclude (loaded_at) from {t} order by all")
        for t in ("orders", "order_lines", "customers", "quarantine")
    }
    second = ingest("orders", path, settings=settings, mapping=invoice_mapping(tmp_path))
    assert second.rows_loaded == 0 and second.rows_merged == 0
    assert second.rows_unchanged == first.rows_loaded
    assert second.balanced()
    for table, before in snapshot.items():
        assert (
            query(settings, f"select * exclude (loaded_at) from {table} order by all") == before
        ), table
    assert all(c.inserted == 0 and c.updated == 0 for c in second.tables.values())


def test_an_updated_order_is_merged_and_blank_cells_keep_stored_values(
    tmp_path: Path, settings: Settings
) -> None:
    header = (
        "order_id",
        "customer_id",
        "ordered_at",
        "status",
        "currency",
        "total",
        "discount_code",
        "offer_tier",
    )
    write_csv(
        tmp_path / "a.csv",
        header,
        [("A1", "c1", "2025-03-01T10:00:00Z", "completed", "EUR", "1.234,50", "WELCOME", "pro")],
    )
    write_csv(
        tmp_path / "b.csv",
        header,
        [("A1", "c1", "2025-03-01T10:00:00Z", "refunded", "EUR", "1.234,50", "", "")],
    )
    ingest("orders", tmp_path / "a.csv", settings=settings)
    report = ingest("orders", tmp_path / "b.csv", settings=settings)
    assert (report.rows_loaded, report.rows_merged, report.rows_unchanged) == (0, 1, 0)
    assert query(settings, "select status, total_minor, discount_code, offer_tier from orders") == [
        ("refunded", 123450, "WELCOME", "pro")
    ]


def test_conflicting_duplicates_keep_the_latest_row_and_quarantine_the_rest(
    tmp_path: Path, settings: Settings
) -> None:
    header = ("order_id", "customer_id", "ordered_at", "currency", "total")
    write_csv(
        tmp_path / "o.csv",
        header,
        [
            ("A1", "c1", "2025-03-01 10:00", "USD", "10.00"),
            ("A1", "c1", "2025-03-01 10:00", "USD", "10.00"),
            ("A1", "c1", "2025-03-01 10:00", "USD", "12.00"),
            ("A2", "c2", "2025-03-02 10:00", "JPY", "1,200"),
            ("A3", "c3", "2025-03-02 10:00", "KWD", "1.234"),
            ("A4", "c3", "2025-03-02 10:00", "XYZ", "1.00"),
            ("A5", "c3", "2025-03-02 10:00", "", "1.00"),
        ],
    )
    report = ingest("orders", tmp_path / "o.csv", settings=settings)
    assert report.rows_duplicate == 1
    assert report.quarantined == {
        "conflicting_duplicate": 1,
        "unknown_currency": 1,
        "missing_currency": 1,
    }
    assert report.balanced()
    assert query(
        settings, "select order_id, currency, total_minor from orders order by order_id"
    ) == [("A1", "USD", 1200), ("A2", "JPY", 1200), ("A3", "KWD", 1234)]
    detail = query(
        settings, "select row_number, detail from quarantine where reason = 'conflicting_duplicate'"
    )
    assert detail == [
        (1, "order_id A1 appears again at row 3 with different values; row 3 was kept")
    ]


def test_missing_required_column_stops_with_file_column_and_found_columns(
    tmp_path: Path, settings: Settings
) -> None:
    path = write_csv(
        tmp_path / "orders.csv",
        ("order_id", "when", "total", "currency"),
        [("A1", "2025-01-01", "1", "EUR")],
    )
    with pytest.raises(SchemaError) as info:
        ingest("orders", path, settings=settings, columns={})
    message = str(info.value)
    assert (
        str(path) in message
        and "'ordered_at'" in message
        and "order_id, when, total, currency" in message
    )
    assert info.value.missing == ("ordered_at",)
    # The same file loads once the column is mapped.
    report = ingest("orders", path, settings=settings, columns={"ordered_at": "when"}, mapping=None)
    assert report.rows_loaded == 1


def test_map_flag_naming_an_unknown_column_is_rejected(tmp_path: Path, settings: Settings) -> None:
    path = write_csv(tmp_path / "orders.csv", ("order_id", "when"), [("A1", "2025-01-01")])
    with pytest.raises(InvalidInputError, match="no column 'whenn'"):
        ingest("orders", path, settings=settings, columns={"ordered_at": "whenn"})


def test_customers_contacts_are_normalised_and_bad_ones_cleared(
    tmp_path: Path, settings: Settings
) -> None:
    header = ("Customer ID", "E-mail", "Phone", "Country", "Time Zone", "created_at")
    write_csv(
        tmp_path / "c.csv",
        header,
        [
            (
                "c1",
                " Ada@Example.COM ",
                "030 1234567",
                "DE",
                "Europe/Berlin",
                "2025-01-01 09:00:00+01:00",
            ),
            ("c2", "not-an-email", "12", "GB", "Mars/Olympus", "2025-01-01 09:00:00-05:00"),
            ("c3", "c3@example.org", "+1 415 555 2671", "US", "America/New_York", "1735725600"),
        ],
        bom=True,
    )
    report = ingest("customers", tmp_path / "c.csv", settings=settings)
    assert report.rows_loaded == 3 and report.files[0].had_bom
    assert report.notes["cleared:invalid_email"] == 1
    assert report.notes["cleared:invalid_phone"] == 1
    assert report.notes["cleared:unknown_time_zone"] == 1
    rows = query(
        settings,
        "select customer_id, email, phone, time_zone, created_at from customers order by 1",
    )
    assert rows[0][:4] == ("c1", "ada@example.com", "+49301234567", "Europe/Berlin")
    assert rows[0][4].isoformat() == "2025-01-01T08:00:00+00:00"
    assert rows[1][1:4] == (None, None, None)
    assert rows[1][4].isoformat() == "2025-01-01T14:00:00+00:00"
    assert rows[2][2] == "+14155552671" and rows[2][4].isoformat() == "2025-01-01T10:00:00+00:00"


def test_cp1252_file_with_odd_bytes_is_read(tmp_path: Path, settings: Settings) -> None:
    path = write_csv(
        tmp_path / "p.csv",
        ("sku", "title", "price", "currency", "vendor"),
        [("P1", "Crème brûlée torch", "€12,50", "EUR", "Café Ltd")] * 1
        + [("P2", "Garçon apron", "8.00", "EUR", "Café Ltd")],
        encoding="cp1252",
    )
    report = ingest("products", path, settings=settings, mapping=None, columns={})
    assert report.files[0].encoding == "cp1252"
    assert query(
        settings, "select product_id, name, price_minor, brand from products order by 1"
    ) == [("P1", "Crème brûlée torch", 1250, "Café Ltd"), ("P2", "Garçon apron", 800, "Café Ltd")]


def test_enormous_fields_are_quarantined(tmp_path: Path, settings: Settings) -> None:
    big = "x" * (settings.ingest.max_field_chars + 1)
    path = write_csv(tmp_path / "p.csv", ("product_id", "name"), [("P1", big), ("P2", "ok")])
    report = ingest("products", path, settings=settings)
    assert report.quarantined == {"enormous_field": 1} and report.rows_loaded == 1


def test_segment_events_dedupe_on_message_id_and_feed_orders_and_customers(
    tmp_path: Path, settings: Settings
) -> None:
    order = {
        "type": "track",
        "event": "Order Completed",
        "messageId": "m1",
        "userId": "u1",
        "timestamp": "2025-05-01T10:00:00.000Z",
        "properties": {
            "order_id": "O1",
            "total": 30.5,
            "currency": "USD",
            "coupon": "SPRING",
            "products": [
                {"product_id": "P1", "price": 10.25, "quantity": 2},
                {"sku": "P2", "price": 10, "quantity": 1},
            ],
        },
    }
    lines = [
        order,
        dict(order),  # exact replay
        {
            **order,
            "properties": {**order["properties"], "total": 99},
        },  # same messageId, different body
        {
            "type": "identify",
            "messageId": "m2",
            "userId": "u1",
            "timestamp": "2025-05-01T09:00:00Z",
            "traits": {"email": "U1@Example.com", "firstName": "Uma", "address": {"country": "US"}},
        },
        {
            "batch": [
                {
                    "type": "track",
                    "event": "viewed product",
                    "userId": "u1",
                    "timestamp": "2025-05-01T09:30:00Z",
                    "properties": {"product_id": "P1"},
                },
                {
                    "type": "track",
                    "event": "Order Refunded",
                    "messageId": "m4",
                    "userId": "u1",
                    "timestamp": "2025-05-03T09:30:00Z",
                    "properties": {"order_id": "O1", "total": 30.5, "currency": "USD"},
                },
            ]
        },
        '{"type": "track", "event": "Broken"',
        {"type": "tarck", "event": "Typo", "userId": "u1", "timestamp": "2025-05-01T09:30:00Z"},
        {"type": "track", "event": "No time", "userId": "u1", "messageId": "m9"},
    ]
    path = write_jsonl(tmp_path / "events.jsonl", lines)
    report = ingest("events", path, settings=settings)
    assert report.source_format == "segment"
    assert report.rows_read == 9
    assert report.rows_duplicate == 2
    assert report.quarantined == {"malformed_json": 1, "invalid_record": 1, "missing_value": 1}
    assert report.rows_loaded == 4 and report.balanced()
    events = query(
        settings,
        "select message_id, type, event, customer_id, order_id from events order by occurred_at",
    )
    assert [e[2] for e in events] == [None, "Product Viewed", "Order Completed", "Order Refunded"]
    assert events[2] == ("m1", "track", "Order Completed", "u1", "O1")
    assert query(
        settings, "select status, total_minor, refund_minor, discount_code, currency from orders"
    ) == [("refunded", 3050, 3050, "SPRING", "USD")]
    assert query(
        settings,
        "select line_number, product_id, quantity, unit_price_minor from order_lines order by 1",
    ) == [(1, "P1", 2, 1025), (2, "P2", 1, 1000)]
    assert query(settings, "select email, first_name, country from customers") == [
        ("u1@example.com", "Uma", "US")
    ]
    again = ingest("events", path, settings=settings)
    assert again.rows_loaded == 0 and again.rows_unchanged == 4


def test_shopify_export_rebuilds_orders_and_consents(tmp_path: Path, settings: Settings) -> None:
    header = (
        "Name",
        "Email",
        "Financial Status",
        "Paid at",
        "Accepts Marketing",
        "Currency",
        "Subtotal",
        "Shipping",
        "Taxes",
        "Total",
        "Discount Code",
        "Discount Amount",
        "Created at",
        "Lineitem quantity",
        "Lineitem name",
        "Lineitem price",
        "Lineitem SKU",
        "Billing Name",
        "Billing Phone",
        "Billing Country",
        "Shipping Zip",
        "Cancelled at",
        "Refunded Amount",
        "Source",
    )
    rows = [
        (
            "#1001",
            "Ann@Shop.test",
            "paid",
            "",
            "yes",
            "EUR",
            "30.00",
            "4.90",
            "5.70",
            "40.60",
            "WELCOME10",
            "0.00",
            "2025-10-07 09:50:26 +0200",
            "2",
            "Tea tin",
            "10.00",
            "TEA-1",
            "Ann Lee",
            "'+49 30 1234567",
            "DE",
            "'75008",
            "",
            "",
            "web",
        ),
        (
            "#1001",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "1",
            "Cup",
            "10.00",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
        ),
        (
            "#1002",
            "bo@shop.test",
            "partially_refunded",
            "",
            "no",
            "EUR",
            "12.00",
            "0.00",
            "0.00",
            "12.00",
            "",
            "0.00",
            "2025-10-08 18:00:00 -0500",
            "1",
            "Kettle",
            "12.00",
            "KET-1",
            "Bo",
            "",
            "US",
            "",
            "",
            "5.00",
            "pos",
        ),
    ]
    path = write_csv(tmp_path / "orders_export.csv", header, rows)
    report = ingest("orders", path, source_format="shopify", settings=settings)
    assert report.rows_loaded == 3 and report.balanced()
    got = query(
        settings,
        "select order_id, customer_id, status, total_minor, shipping_minor, refund_minor,"
        " discount_code, sales_channel, ordered_at from orders order by 1",
    )
    assert got[0][:8] == (
        "#1001",
        "ann@shop.test",
        "completed",
        4060,
        490,
        None,
        "WELCOME10",
        "web",
    )
    assert got[0][8].isoformat() == "2025-10-07T07:50:26+00:00"
    assert got[1][:6] == ("#1002", "bo@shop.test", "partially_refunded", 1200, 0, 500)
    assert query(
        settings,
        "select line_number, product_id, quantity from order_lines where order_id = '#1001'"
        " order by 1",
    ) == [(1, "TEA-1", 2), (2, "Cup", 1)]
    assert query(
        settings, "select customer_id, first_name, last_name, phone from customers order by 1"
    ) == [("ann@shop.test", "Ann", "Lee", "+49301234567"), ("bo@shop.test", "Bo", None, None)]
    assert query(
        settings, "select customer_id, channel, purpose, status from consents order by 1"
    ) == [
        ("ann@shop.test", "email", "marketing", "opt_in"),
        ("bo@shop.test", "email", "marketing", "opt_out"),
    ]


def test_consents_land_in_warehouse_and_state_ledger(tmp_path: Path, settings: Settings) -> None:
    from aftersale.store.state import StateStore

    path = write_csv(
        tmp_path / "consents.csv",
        ("customer_id", "channel", "purpose", "status", "recorded_at", "method"),
        [
            ("c1", "email", "marketing", "subscribed", "2025-01-01T00:00:00Z", "checkout box"),
            ("c1", "email", "marketing", "unsubscribed", "2025-02-01T00:00:00Z", "link"),
            ("c1", "sms", "", "opt_in", "2025-01-01T00:00:00Z", "form"),
            ("c2", "fax", "marketing", "opt_in", "2025-01-01T00:00:00Z", "form"),
        ],
    )
    report = ingest("consents", path, settings=settings)
    assert report.rows_loaded == 3 and report.quarantined == {"invalid_value": 1}
    with StateStore.from_settings(settings) as state:
        assert state.current_consent("c1", "email", "marketing") == "opt_out"
        assert state.current_consent("c1", "sms", "marketing") == "opt_in"
    again = ingest("consents", path, settings=settings)
    assert again.rows_unchanged == 3 and again.notes["consent_ledger_inserted"] == 0


def test_parquet_and_folder_and_glob_inputs(tmp_path: Path, settings: Settings) -> None:
    import polars as pl

    folder = tmp_path / "in"
    folder.mkdir()
    pl.DataFrame({"customer_id": ["a", "b"], "email": ["a@x.io", "b@x.io"]}).write_parquet(
        folder / "1.parquet"
    )
    pl.DataFrame({"customer_id": ["c"], "email": ["c@x.io"]}).write_parquet(folder / "2.parquet")
    report = ingest("customers", folder, settings=settings)
    assert report.rows_loaded == 3 and len(report.files) == 2
    report = ingest("customers", str(folder / "*.parquet"), settings=settings)
    assert report.rows_unchanged == 3


def test_generic_jsonl_and_csv_events_and_unreadable_parquet(
    tmp_path: Path, settings: Settings
) -> None:
    from aftersale.errors import SourceReadError

    products = write_jsonl(
        tmp_path / "products.jsonl",
        [
            {
                "sku": "P1",
                "title": "Tea",
                "price": 4.5,
                "currency": "EUR",
                "replenishment_days": 30,
            },
            {"sku": "P2", "title": "Pot", "price": "12,00", "currency": "EUR", "tags": ["a", "b"]},
            "not json",
        ],
    )
    report = ingest("products", products, settings=settings)
    assert report.source_format == "jsonl" and report.rows_loaded == 2
    assert report.quarantined == {"malformed_json": 1}
    assert query(
        settings, "select product_id, price_minor, replenishment_days from products order by 1"
    ) == [("P1", 450, 30), ("P2", 1200, None)]
    events = write_csv(
        tmp_path / "events.csv",
        ("message_id", "event", "customer_id", "timestamp", "properties"),
        [
            (
                "e1",
                "Support Ticket Created",
                "c1",
                "2025-01-01T10:00:00Z",
                '{"text": "where is my order?"}',
            ),
            ("e2", "Pricing Viewed", "c1", "2025-01-02T10:00:00Z", "{broken"),
        ],
    )
    report = ingest("events", events, settings=settings)
    assert report.rows_loaded == 1 and report.quarantined == {"malformed_json": 1}
    bogus = tmp_path / "orders.parquet"
    bogus.write_bytes(b"PAR1 but not really")
    with pytest.raises(SourceReadError, match=r"orders\.parquet"):
        ingest("orders", bogus, settings=settings)
