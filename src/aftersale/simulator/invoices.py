"""An invoice-line export in the style of the UCI Online Retail data, messy on purpose.

The mess is injected at counts that are recorded (``truth/invoice_mess.json``) so ingest tests
can check that every kind of bad row is found: cancellations (``C`` invoices with negative
quantities), zero and negative prices, non-product codes, guest rows, exact duplicates and
stray whitespace.
"""

from __future__ import annotations

from collections import Counter
from typing import Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from aftersale.simulator.catalog import Catalog
from aftersale.simulator.geo import COUNTRIES
from aftersale.simulator.money import EXPONENTS, format_major, minor_from_eur
from aftersale.simulator.purchases import Orders
from aftersale.simulator.rng import Stream, rng_for
from aftersale.simulator.spec import SimulationSpec
from aftersale.simulator.timefmt import format_invoice_date, utc_offsets
from aftersale.simulator.world import Customers

__all__ = ["INVOICE_COLUMNS", "NON_PRODUCT_CODES", "invoice_rows", "mapping_toml"]

INVOICE_COLUMNS: Final[tuple[str, ...]] = (
    "InvoiceNo",
    "StockCode",
    "Description",
    "Quantity",
    "InvoiceDate",
    "UnitPrice",
    "CustomerID",
    "Country",
)
NON_PRODUCT_CODES: Final[dict[str, str]] = {
    "POST": "POSTAGE",
    "DOT": "DOTCOM POSTAGE",
    "C2": "CARRIAGE",
    "D": "Discount",
    "M": "Manual",
    "BANK CHARGES": "Bank Charges",
    "AMAZONFEE": "AMAZON FEE",
    "B": "Adjust bad debt",
}
_I = npt.NDArray[np.int64]


_NP = tuple(NON_PRODUCT_CODES)
_NP_INDEX = {c: i for i, c in enumerate(_NP)}
_FIELDS = ("order", "prefix", "item", "qty", "t", "price", "pos")


def _pool(values: list[str] | tuple[str, ...], idx: _I) -> pa.Array:
    """Take texts from a pool by code."""
    return pa.array(list(values), pa.string()).take(pa.array(np.asarray(idx, dtype=np.int64)))


def invoice_rows(
    spec: SimulationSpec,
    shard: int,
    catalog: Catalog,
    people: Customers,
    orders: Orders,
    order_numbers: _I,
) -> tuple[pa.Table, Counter[str]]:
    """Invoice rows for export-share orders in the main currency, and the mess counts.

    Rows are built as integer codes (order, invoice prefix, item) and turned into text once;
    ``item`` is a product index, or ``-1 - k`` for the k-th non-product code.
    """
    rng = rng_for(spec.seed, Stream.INVOICES, shard)
    main = spec.main_currency
    keep = (people.index[orders.cust] < spec.export_customers) & (orders.currency == 0)
    n = len(orders)
    guest = keep & (rng.random(n) < 0.05)
    cc = np.array([c.code for c in COUNTRIES])[people.country[orders.cust]]
    parts: list[dict[str, _I]] = []

    def add(
        order: _I,
        item: npt.ArrayLike,
        qty: npt.ArrayLike,
        t: _I,
        price: npt.ArrayLike,
        pos: npt.ArrayLike,
        prefix: int = 0,
    ) -> None:
        """Append a segment of rows (scalars broadcast to the segment length)."""
        k = len(order)
        parts.append(
            {
                "order": order,
                "prefix": np.full(k, prefix),
                "item": np.broadcast_to(item, k),
                "qty": np.broadcast_to(qty, k),
                "t": t,
                "price": np.broadcast_to(price, k),
                "pos": np.broadcast_to(pos, k),
            }
        )

    def extra(mask: npt.NDArray[np.bool_], code: str, qty: int, price: _I, pos: int) -> None:
        """Append one non-product line for every order in ``mask``."""
        idx = np.flatnonzero(mask)
        add(idx, np.int64(-1 - _NP_INDEX[code]), np.int64(qty), orders.t[idx], price[idx], pos)

    lm = keep[orders.line_order]
    lo = orders.line_order[lm]
    add(
        lo,
        orders.product[lm],
        orders.quantity[lm],
        orders.t[lo],
        orders.unit_price[lm],
        orders.line_number[lm],
    )
    extra(keep & (orders.discount > 0), "D", -1, orders.discount, 90)
    ship = keep & (orders.shipping > 0)
    extra(ship & (cc == "GB"), "DOT", 1, orders.shipping, 91)
    extra(ship & (cc == "IE"), "C2", 1, orders.shipping, 91)
    extra(ship & (cc != "GB") & (cc != "IE"), "POST", 1, orders.shipping, 91)
    extra(
        keep & (orders.channel == 3),
        "AMAZONFEE",
        -1,
        np.floor(orders.subtotal * 0.15 + 0.5).astype(np.int64),
        92,
    )
    bank = np.full(n, minor_from_eur(np.array([15.0]), main)[0])
    extra(keep & (rng.random(n) < 0.005), "BANK CHARGES", 1, bank, 93)
    manual = minor_from_eur(rng.uniform(0.5, 50.0, n), main) + 1
    extra(keep & (rng.random(n) < 0.005), "M", 1, manual, 94)
    gift = np.flatnonzero(keep & (rng.random(n) < 0.01))
    add(
        gift,
        rng.integers(0, catalog.size, len(gift)),
        rng.integers(1, 13, len(gift)),
        orders.t[gift],
        np.int64(0),
        95,
    )
    # Cancellations: refunded lines, and whole cancelled orders, as negative C invoices.
    back = lm & (orders.line_refunded | (orders.status[orders.line_order] == 2))
    blo = orders.line_order[back]
    bt = np.where(orders.status[blo] == 2, orders.updated_t[blo], orders.refund_t[blo])
    add(
        blo,
        orders.product[back],
        -orders.quantity[back],
        bt,
        orders.unit_price[back],
        orders.line_number[back],
        1,
    )
    # Bad-debt adjustments: separate A invoices with negative prices and no customer.
    bad = np.flatnonzero(keep & (rng.random(n) < 0.002))
    add(
        bad,
        np.int64(-1 - _NP_INDEX["B"]),
        np.int64(1),
        orders.t[bad] + 3_600,
        -minor_from_eur(rng.uniform(50, 2_000, len(bad)), main),
        99,
        2,
    )
    d = {f: np.concatenate([np.asarray(p[f], dtype=np.int64) for p in parts]) for f in _FIELDS}
    order = np.lexsort((d["pos"], d["prefix"], d["order"], d["t"]))
    d = {f: v[order] for f, v in d.items()}
    is_product = d["item"] >= 0
    messy = is_product & (rng.random(len(order)) < 0.03)
    style = np.where(messy, rng.integers(0, 3, len(order)), -1)
    dup = rng.random(len(order)) < 0.004
    rep = np.where(dup, 2, 1)
    d = {f: np.repeat(v, rep) for f, v in d.items()}
    style, is_product = np.repeat(style, rep), np.repeat(is_product, rep)
    table = _text(spec, catalog, people, orders, order_numbers, d, guest, style)
    table, broken = _break_some(spec, shard, table, d, is_product & ~np.repeat(dup, rep))
    counts: Counter[str] = Counter()
    counts["rows"] = len(d["order"])
    counts["invoices"] = len(np.unique(d["order"] * 3 + d["prefix"]))
    counts["cancellation_rows"] = int((d["prefix"] == 1).sum())
    counts["cancellation_invoices"] = len(np.unique(d["order"][d["prefix"] == 1]))
    counts["zero_price_rows"] = int((d["price"] == 0).sum())
    counts["negative_price_rows"] = int((d["price"] < 0).sum())
    for k, code in enumerate(_NP):
        counts[f"non_product_rows.{code}"] = int((d["item"] == -1 - k).sum())
    counts["guest_rows"] = int((guest[d["order"]] | (d["prefix"] == 2)).sum())
    counts["duplicate_rows"] = int(dup.sum())
    counts["whitespace_rows"] = int((style >= 0).sum())
    counts["product_rows"] = int(is_product.sum())
    counts.update(broken)
    return table, counts


def _break_some(
    spec: SimulationSpec,
    shard: int,
    table: pa.Table,
    d: dict[str, _I],
    candidates: npt.NDArray[np.bool_],
) -> tuple[pa.Table, Counter[str]]:
    """Spoil a few product lines the way real exports do: an impossible date, a word for a number.

    Uses a stream of its own, so adding this mess changed nothing else in the export. Lines of
    duplicated rows and of cancellations are left alone, so every other count stays exact.
    """
    rng = np.random.default_rng([spec.seed, 7_301, shard])
    n = len(d["order"])
    broken = candidates & (d["prefix"] == 0) & (rng.random(n) < 0.001)
    kind = rng.integers(0, 2, n)
    bad_date, bad_qty = broken & (kind == 0), broken & (kind == 1)
    dates = pc.if_else(pa.array(bad_date), pa.scalar("13/45/2010 25:61"), table["InvoiceDate"])
    quantity = pc.if_else(pa.array(bad_qty), pa.scalar("two"), table["Quantity"].cast(pa.string()))
    table = table.set_column(table.schema.get_field_index("InvoiceDate"), "InvoiceDate", dates)
    table = table.set_column(table.schema.get_field_index("Quantity"), "Quantity", quantity)
    key = d["order"] * 3 + d["prefix"]
    rows_per = np.unique(key, return_counts=True)
    broken_per = np.unique(key[broken], return_counts=True)
    total = dict(zip(rows_per[0].tolist(), rows_per[1].tolist(), strict=True))
    lost = sum(1 for k, c in zip(*broken_per, strict=True) if total[int(k)] == int(c))
    counts: Counter[str] = Counter(
        unparseable_date_rows=int(bad_date.sum()),
        non_numeric_quantity_rows=int(bad_qty.sum()),
        invoices_with_only_broken_rows=lost,
    )
    return table, counts


def _text(
    spec: SimulationSpec,
    catalog: Catalog,
    people: Customers,
    orders: Orders,
    order_numbers: _I,
    d: dict[str, _I],
    guest: npt.NDArray[np.bool_],
    style: _I,
) -> pa.Table:
    """Turn coded invoice rows into the export's text columns."""
    item, prefix, o = d["item"], d["prefix"], d["order"]
    product = np.maximum(item, 0)
    np_code = np.maximum(-1 - item, 0)
    is_product = pa.array(item >= 0)
    code = pc.if_else(is_product, _pool(catalog.product_id.tolist(), product), _pool(_NP, np_code))
    upper = [name.upper() for name in catalog.name.tolist()]
    desc = pc.if_else(
        is_product, _pool(upper, product), _pool(list(NON_PRODUCT_CODES.values()), np_code)
    )
    desc = pc.if_else(pa.array(style == 0), pc.binary_join_element_wise(desc, " ", ""), desc)
    desc = pc.if_else(pa.array(style == 1), pc.binary_join_element_wise(" ", desc, ""), desc)
    desc = pc.if_else(
        pa.array(style == 2), pc.replace_substring(desc, " ", "  ", max_replacements=1), desc
    )
    number = pa.array(order_numbers[o]).cast(pa.string())
    inv = pc.binary_join_element_wise(_pool(("", "C", "A"), prefix), number, "")
    no_customer = guest[o] | (prefix == 2)
    customer = pc.if_else(
        pa.array(no_customer),
        pa.scalar(None, pa.string()),
        pa.array(people.customer_id[orders.cust[o]], pa.string()),
    )
    country_idx = np.where(prefix == 2, 0, people.country[orders.cust[o]])
    epoch = spec.start_epoch + d["t"]
    offsets = utc_offsets(epoch, np.zeros(len(epoch), np.int64), [spec.store_time_zone])
    return pa.table(
        {
            "InvoiceNo": inv,
            "StockCode": code,
            "Description": desc,
            "Quantity": pa.array(d["qty"]),
            "InvoiceDate": format_invoice_date(epoch + offsets),
            "UnitPrice": format_major(d["price"], EXPONENTS[spec.main_currency]),
            "CustomerID": customer,
            "Country": _pool([c.name for c in COUNTRIES], country_idx),
        }
    )


def mapping_toml(spec: SimulationSpec) -> str:
    """Column mapping that tells ingest how to read ``invoices.csv``."""
    return (
        "# How to read invoices.csv: canonical column = column in the file.\n"
        f"# InvoiceDate is wall-clock time of the store ({spec.store_time_zone}).\n"
        "[columns]\n"
        'order_id = "InvoiceNo"\n'
        'product_id = "StockCode"\n'
        'product_name = "Description"\n'
        'quantity = "Quantity"\n'
        'ordered_at = "InvoiceDate"\n'
        'unit_price = "UnitPrice"\n'
        'customer_id = "CustomerID"\n'
        'country = "Country"\n'
        "\n[options]\n"
        'timestamp_format = "%m/%d/%Y %H:%M"\n'
        f'time_zone = "{spec.store_time_zone}"\n'
        f'currency = "{spec.main_currency}"\n'
    )
