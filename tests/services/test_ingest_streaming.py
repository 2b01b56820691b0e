"""Streamed invoice loads (orders built chunk by chunk) equal the sort-based load of the same."""

from __future__ import annotations

import random
from pathlib import Path

import duckdb
import pytest

from aftersale.services.ingest import ingest
from tests.factories import make_settings, write_csv

HEADER = ("InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice")
HEADER += ("CustomerID", "Country")
TABLES = ("order_lines", "orders", "customers", "products")  # quarantine: rows move
ITEMS = (
    ("85123A", " WHITE HEART ", "2.55"),
    ("71053", "LANTERN", "3.39"),
    ("POST", "POSTAGE", "18"),
    ("22633", "HAND WARMER", "0"),
    ("B", "Bad debt", "-5"),
)


def _orders(seed: int) -> list[list[tuple[str, ...]]]:
    """Invoices of 1-6 lines: repeats, cancellations, guests, postage, bad rows."""
    rnd = random.Random(seed)
    orders = []
    for number in range(700):
        cancelled = rnd.random() < 0.05
        invoice = f"{'C' if cancelled else ''}{536000 + number}"
        customer = "" if rnd.random() < 0.1 else str(12000 + rnd.randrange(60))
        when = f"12/{1 + number % 28}/2010 {8 + number % 10}:{number % 60:02d}"
        lines = []
        for _ in range(rnd.randint(1, 6)):
            code, name, price = rnd.choice(ITEMS)
            quantity = str(-rnd.randint(1, 3) if cancelled else rnd.randint(1, 12))
            if rnd.random() < 0.02:
                quantity = "lots"  # quarantined
            row = (invoice, code, name, quantity, when, price, customer, "United Kingdom")
            lines.append(row)
            if rnd.random() < 0.08:
                lines.append(row)  # exact repeat
        orders.append(lines)
    return orders


def _interleaved(orders: list[list[tuple[str, ...]]], seed: int) -> list[tuple[str, ...]]:
    """Every order's lines in their own order, but orders interleaved (not contiguous)."""
    rnd = random.Random(seed)
    queues = [list(lines) for lines in orders]
    rows = []
    while queues:
        queue = rnd.choice(queues[:3])
        rows.append(queue.pop(0))
        if not queue:
            queues.remove(queue)
    return rows


def _mapping(folder: Path) -> Path:
    path = folder / "invoices.mapping.toml"
    path.write_text(
        '[columns]\norder_id = "InvoiceNo"\nordered_at = "InvoiceDate"\n\n'
        '[options]\ntime_zone = "Europe/London"\ncurrency = "GBP"\n',
        encoding="utf-8",
    )
    return path


def _tables(path: Path) -> dict[str, list[tuple]]:
    with duckdb.connect(str(path), read_only=True) as con:
        query = "select * exclude (loaded_at, source_file) from {} order by all"
        return {t: con.sql(query.format(t)).fetchall() for t in TABLES}


@pytest.mark.parametrize("seed", [1, 2])
def test_streamed_load_equals_sort_based_load_across_chunks(tmp_path: Path, seed: int) -> None:
    orders = _orders(seed)
    contiguous = [row for lines in orders for row in lines]
    interleaved = _interleaved(orders, seed)
    assert len(contiguous) > 2000  # several chunks of 1000 rows, orders cut at their edges
    results = {}
    for name, rows in (("contiguous", contiguous), ("interleaved", interleaved)):
        settings = make_settings(tmp_path / name, chunk_rows=1000)
        path = write_csv(tmp_path / name / "invoices.csv", HEADER, rows)
        report = ingest("orders", path, settings=settings, mapping=_mapping(tmp_path / name))
        assert report.balanced()
        assert report.notes["orders_contiguous_files"] == (name == "contiguous")
        notes = {k: v for k, v in report.notes.items() if k != "orders_contiguous_files"}
        results[name] = (
            _tables(settings.warehouse.path),
            report.rows_loaded,
            report.rows_duplicate,
            dict(report.quarantined),
            notes,
            {t: (c.inserted, c.updated, c.unchanged) for t, c in report.tables.items()},
        )
    assert results["contiguous"] == results["interleaved"]
    assert results["contiguous"][2] > 0 and results["contiguous"][3]["not_an_integer"] > 0


def test_streamed_reload_changes_nothing(tmp_path: Path) -> None:
    rows = [row for lines in _orders(3) for row in lines]
    settings = make_settings(tmp_path / "p", chunk_rows=1000)
    path = write_csv(tmp_path / "invoices.csv", HEADER, rows)
    first = ingest("orders", path, settings=settings, mapping=_mapping(tmp_path))
    before = _tables(settings.warehouse.path)
    second = ingest("orders", path, settings=settings, mapping=_mapping(tmp_path))
    assert second.rows_loaded == second.rows_merged == 0
    assert second.rows_unchanged == first.rows_loaded and second.balanced()
    assert _tables(settings.warehouse.path) == before
