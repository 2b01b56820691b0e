"""Loading the simulator's files: counts checked against the simulator's hidden truth."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from aftersale.config import Settings
from aftersale.services.ingest import ingest
from aftersale.simulator import SimulationResult, SimulationSpec, simulate_store
from tests.factories import make_settings


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> SimulationResult:
    out = tmp_path_factory.mktemp("sim")
    spec = SimulationSpec(customers=600, days=240, seed=11)
    return simulate_store(spec, out)


def _count(settings: Settings, sql: str) -> int:
    with duckdb.connect(str(settings.warehouse.path), read_only=True) as con:
        row = con.sql(sql).fetchone()
    assert row is not None
    return int(row[0])


def test_every_generic_file_lands_whole(store: SimulationResult, tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "p")
    loads = [
        ("products", "products.csv", "products"),
        ("customers", "customers.csv", "customers"),
        ("orders", "orders.csv", "orders"),
        ("order-lines", "order_lines.csv", "order_lines"),
        ("consents", "consents.csv", "consents"),
        ("events", "events.jsonl", "events"),
    ]
    for kind, name, table in loads:
        report = ingest(kind, store.path(name), settings=settings)
        assert report.balanced() and report.rows_quarantined == 0, (name, report.quarantined)
        assert report.rows_read == store.row_counts[name], name
        assert _count(settings, f"select count(*) from {table}") == store.row_counts[name], name
    # Parquet copies of the same data change nothing.
    for kind, name in (
        ("customers", "customers.parquet"),
        ("orders", "orders.parquet"),
        ("order-lines", "order_lines.parquet"),
    ):
        again = ingest(kind, store.path(name), settings=settings)
        assert again.rows_loaded == 0 and again.rows_merged == 0, (name, again.tables)
        assert again.rows_unchanged == store.row_counts[name]


def test_invoice_export_matches_the_mess_the_simulator_made(
    store: SimulationResult, tmp_path: Path
) -> None:
    truth = json.loads(store.path("truth/invoice_mess.json").read_text(encoding="utf-8"))
    settings = make_settings(tmp_path / "p")
    report = ingest(
        "orders",
        store.path("invoices.csv"),
        mapping=store.path("invoices.mapping.toml"),
        settings=settings,
    )
    assert report.rows_read == truth["rows"]
    assert report.rows_duplicate == truth["duplicate_rows"]
    assert report.quarantined == {
        "unparseable_timestamp": truth["unparseable_date_rows"],
        "not_an_integer": truth["non_numeric_quantity_rows"],
    }
    assert report.balanced()
    lost = truth["invoices_with_only_broken_rows"]
    assert report.tables["orders"].inserted == truth["invoices"] - lost
    assert report.notes["cancelled_orders"] == truth["cancellation_invoices"]
    non_product = sum(v for k, v in report.notes.items() if k.startswith("non_product_lines:"))
    truth_non_product = sum(truth["non_product_rows"].values())
    # Duplicated rows are counted once by us and twice in the file.
    assert truth_non_product - truth["duplicate_rows"] <= non_product <= truth_non_product
    assert report.notes["negative_price_lines"] <= truth["negative_price_rows"]
    assert (
        report.notes["cells_trimmed"] + report.notes["whitespace_collapsed"]
        <= truth["whitespace_rows"]
    )
    assert (
        report.notes["cells_trimmed"] + report.notes["whitespace_collapsed"]
        >= (truth["whitespace_rows"] - truth["duplicate_rows"]) * 0.9
    )
    quarantined = _count(settings, "select count(*) from quarantine where kind = 'orders'")
    assert quarantined == report.rows_quarantined
    cancelled = _count(settings, "select count(*) from orders where status = 'cancelled'")
    assert cancelled == truth["cancellation_invoices"]


def test_shopify_export_agrees_with_the_orders_file(
    store: SimulationResult, tmp_path: Path
) -> None:
    generic = make_settings(tmp_path / "generic")
    ingest("orders", store.path("orders.csv"), settings=generic)
    shop = make_settings(tmp_path / "shop")
    report = ingest(
        "orders", store.path("shopify_orders.csv"), source_format="shopify", settings=shop
    )
    assert report.balanced() and report.rows_quarantined == 0, report.quarantined
    with duckdb.connect(str(shop.warehouse.path), read_only=True) as con:
        rows = con.sql("select order_id, total_minor, status, ordered_at from orders").fetchall()
    with duckdb.connect(str(generic.warehouse.path), read_only=True) as con:
        reference = {
            r[0]: r[1:]
            for r in con.sql(
                "select order_id, total_minor, status, ordered_at from orders"
            ).fetchall()
        }
    assert rows
    for order_id, total, status, ordered_at in rows:
        ref_total, ref_status, ref_at = reference[order_id.lstrip("#")]
        assert (total, ordered_at) == (ref_total, ref_at), order_id
        assert status == ref_status or (status, ref_status) == ("completed", "completed"), order_id
