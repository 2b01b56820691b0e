"""simulate_store: determinism, block-size invariance, formats, exact columns, progress, JPY."""

from __future__ import annotations

import json
import tempfile
import tomllib
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aftersale.simulator import SimulationSpec, simulate_store

from .conftest import Store

SMALL = SimulationSpec(customers=2_500, days=120, seed=21)
COLUMNS = {
    "customers.csv": "customer_id email phone first_name last_name country time_zone created_at",
    "products.csv": "product_id name category brand price currency margin_rate replenishment_days "
    "complements",
    "orders.csv": "order_id customer_id ordered_at status currency subtotal discount shipping tax "
    "total refund discount_code offer_tier sales_channel item_count updated_at",
    "order_lines.csv": "order_id line_number product_id product_name category quantity unit_price "
    "discount currency",
    "consents.csv": "customer_id channel purpose status recorded_at method",
    "invoices.csv": "InvoiceNo StockCode Description Quantity InvoiceDate UnitPrice CustomerID "
    "Country",
    "shopify_orders.csv": "Name|Email|Financial Status|Paid at|Fulfillment Status|"
    "Accepts Marketing|Currency|Subtotal|Shipping|Taxes|Total|Discount Code|Discount Amount|"
    "Shipping Method|Created at|Lineitem quantity|Lineitem name|Lineitem price|Lineitem sku|"
    "Lineitem discount|Billing Name|Billing Phone|Billing Country|Shipping Zip|Cancelled at|"
    "Refunded Amount|Vendor|Id|Tags|Source",
}


def _files(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("small")
    simulate_store(SMALL, root)
    return root


def test_same_spec_gives_byte_identical_files(small: Path, tmp_path: Path) -> None:
    simulate_store(SMALL, tmp_path)
    assert _files(small) == _files(tmp_path)


def test_other_seed_gives_other_data(small: Path, tmp_path: Path) -> None:
    simulate_store(SimulationSpec(customers=2_500, days=120, seed=22), tmp_path)
    for name in ("orders.csv", "events.jsonl", "customers.csv", "products.csv"):
        assert (small / name).read_bytes() != (tmp_path / name).read_bytes(), name


def test_block_size_changes_nothing_but_row_groups(small: Path, tmp_path: Path) -> None:
    simulate_store(SimulationSpec(customers=2_500, days=120, seed=21, block_size=1_000), tmp_path)
    for name, data in _files(small).items():
        if name.endswith(".parquet"):
            assert pq.read_table(small / name).equals(pq.read_table(tmp_path / name)), name
        elif name == "truth/spec.json":  # records the block size itself
            mine = json.loads((tmp_path / name).read_text())
            assert mine["spec"].pop("block_size") == 1_000
            theirs = json.loads(data)
            theirs["spec"].pop("block_size")
            assert mine == theirs
        else:
            assert (tmp_path / name).read_bytes() == data, name
    assert pq.ParquetFile(tmp_path / "orders.parquet").num_row_groups == 3


def test_exact_columns_and_row_counts(medium: Store) -> None:
    for name, header in COLUMNS.items():
        with (medium.root / name).open(encoding="utf-8") as fh:
            names = header.split("|") if "|" in header else header.split()
            assert fh.readline().strip().replace('"', "").split(",") == names, name
            rows = sum(1 for _ in fh)
        assert medium.result.row_counts[name] == rows, name
    for name in ("customers", "orders", "order_lines"):
        csv_cols = pd.read_csv(medium.root / f"{name}.csv", nrows=1).columns.tolist()
        assert pq.read_schema(medium.root / f"{name}.parquet").names == csv_cols
    with (medium.root / "events.jsonl").open(encoding="utf-8") as fh:
        assert sum(1 for _ in fh) == medium.result.row_counts["events.jsonl"]


def test_csv_and_parquet_agree(medium: Store) -> None:
    csv = pd.read_csv(medium.root / "orders.csv", dtype={"order_id": str, "total": str})
    par = medium.orders()
    assert csv["order_id"].tolist() == par["order_id"].tolist()
    assert csv["total"].tolist() == [f"{v:.2f}" for v in par["total"]]
    stamps = pd.to_datetime(csv["ordered_at"], utc=True)
    assert (stamps.to_numpy() == par["ordered_at"].to_numpy()).all()


def test_every_order_and_line_points_to_something_real(medium: Store) -> None:
    customers = pd.read_csv(medium.root / "customers.csv", usecols=["customer_id"])
    products = pd.read_csv(medium.root / "products.csv", dtype={"product_id": str})
    orders, lines = medium.orders(), medium.lines()
    assert set(orders["customer_id"]) == set(customers["customer_id"])
    assert set(lines["order_id"]) == set(orders["order_id"])
    assert set(lines["product_id"]) <= set(products["product_id"])
    assert orders["order_id"].is_unique
    line_sum = (
        (lines["unit_price"] * lines["quantity"] - lines["discount"])
        .groupby(lines["order_id"])
        .sum()
    )
    net = orders.set_index("order_id").eval("subtotal - discount")
    assert (line_sum.reindex(net.index) == net).all()


def test_shopify_export_layout(medium: Store) -> None:
    sh = pd.read_csv(medium.root / "shopify_orders.csv", dtype=str, keep_default_na=False)
    assert sh["Name"].str.fullmatch(r"#\d+").all()
    first = ~sh["Name"].duplicated()
    assert (sh.loc[first, "Financial Status"] != "").all()
    assert (sh.loc[~first, "Financial Status"] == "").all()
    assert (sh.loc[~first, "Total"] == "").all()
    assert (sh["Lineitem sku"] != "").all()
    stamp = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4}"
    assert sh["Created at"].str.fullmatch(stamp).all()
    assert sh["Created at"].str.endswith("+0530").any()
    assert sh["Shipping Zip"].str.startswith("'").any()
    assert set(sh.loc[first, "Financial Status"]) >= {
        "paid",
        "refunded",
        "partially_refunded",
        "voided",
    }
    orders = medium.orders()
    exported = orders["customer_id"] <= f"C{medium.result.spec.export_customers:07d}"
    assert first.sum() == exported.sum() < len(orders)  # the leading quarter of customers


def test_invoice_mess_counts_match_the_file(medium: Store) -> None:
    inv = pd.read_csv(medium.root / "invoices.csv", dtype=str, keep_default_na=False)
    mess = json.loads((medium.root / "truth" / "invoice_mess.json").read_text())
    price = inv["UnitPrice"].astype(float)
    assert len(inv) == mess["rows"]
    assert inv["InvoiceNo"].nunique() == mess["invoices"]
    assert inv.duplicated().sum() == mess["duplicate_rows"] > 0
    assert (inv["CustomerID"] == "").sum() == mess["guest_rows"] > 0
    cancelled = inv["InvoiceNo"].str.startswith("C")
    assert cancelled.sum() == mess["cancellation_rows"] > 0
    assert (inv.loc[cancelled, "Quantity"].astype(int) < 0).all()
    assert inv.loc[cancelled, "InvoiceNo"].nunique() == mess["cancellation_invoices"]
    assert (price == 0).sum() == mess["zero_price_rows"] > 0
    assert (price < 0).sum() == mess["negative_price_rows"] > 0
    tidy = inv["Description"].str.split().str.join(" ")
    assert (inv["Description"] != tidy).sum() == mess["whitespace_rows"] > 0
    counts = inv["StockCode"].value_counts()
    for code, n in mess["non_product_rows"].items():
        assert counts.get(code, 0) == n, code
    assert set(mess["non_product_rows"]) >= {
        "POST",
        "DOT",
        "M",
        "D",
        "BANK CHARGES",
        "AMAZONFEE",
        "C2",
    }
    dates = pd.to_datetime(inv["InvoiceDate"], format="%m/%d/%Y %H:%M", errors="coerce")
    assert dates.isna().sum() == mess["unparseable_date_rows"] > 0
    quantity = pd.to_numeric(inv["Quantity"], errors="coerce")
    assert quantity.isna().sum() == mess["non_numeric_quantity_rows"] > 0


def test_mapping_toml(medium: Store) -> None:
    mapping = tomllib.loads((medium.root / "invoices.mapping.toml").read_text())
    assert mapping["columns"] == {
        "order_id": "InvoiceNo",
        "product_id": "StockCode",
        "product_name": "Description",
        "quantity": "Quantity",
        "ordered_at": "InvoiceDate",
        "unit_price": "UnitPrice",
        "customer_id": "CustomerID",
        "country": "Country",
    }
    assert mapping["options"]["timestamp_format"] == "%m/%d/%Y %H:%M"
    assert mapping["options"]["currency"] == "GBP"


def test_truth_files(medium: Store) -> None:
    truth = medium.root / "truth"
    spec = json.loads((truth / "spec.json").read_text())
    assert SimulationSpec.from_dict(spec["spec"]) == medium.result.spec
    assert spec["derived"]["mean_lambda_per_day"] == pytest.approx(
        medium.result.spec.r / medium.result.spec.alpha
    )
    effects = pd.read_csv(truth / "response_effects.csv")
    assert len(effects) == 70
    assert pq.read_table(truth / "products_truth.parquet").num_rows == 200


def test_formats_limit_the_files(tmp_path: Path) -> None:
    result = simulate_store(
        SimulationSpec(customers=40, days=30, seed=1, formats={"parquet"}), tmp_path
    )
    names = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()}
    assert names == {
        "customers.parquet",
        "orders.parquet",
        "order_lines.parquet",
        "consents.parquet",
        "products.csv",
        "products.parquet",
        "truth/customers_truth.parquet",
        "truth/products_truth.parquet",
        "truth/response_effects.csv",
        "truth/spec.json",
    }
    assert set(result.paths) == names
    assert all(path.exists() for path in result.paths.values())


def test_progress_reports_every_stage(tmp_path: Path) -> None:
    calls: list[tuple[str, int, int]] = []
    simulate_store(
        SimulationSpec(customers=2_100, days=20, seed=1, formats=set()),
        tmp_path,
        progress=lambda *a: calls.append(a),
    )
    stages = [c[0] for c in calls]
    assert stages[0] == "catalog" and stages[-1] == "finishing"
    done = [c for c in calls if c[0] == "customers"]
    assert [d[1] for d in done] == [1_000, 2_000, 2_100]
    assert all(d[2] == 2_100 for d in done)


def test_jpy_store_has_no_fractional_amounts(tmp_path: Path) -> None:
    simulate_store(SimulationSpec(customers=300, days=60, seed=3, currencies=("JPY",)), tmp_path)
    orders = pd.read_csv(tmp_path / "orders.csv", dtype=str)
    for col in ("subtotal", "discount", "shipping", "tax", "total", "refund"):
        assert orders[col].str.fullmatch(r"\d+").all(), col
    lines = pd.read_csv(tmp_path / "order_lines.csv", dtype=str)
    assert lines["unit_price"].str.fullmatch(r"\d+").all()
    assert (lines["currency"] == "JPY").all()
    assert pd.read_csv(tmp_path / "products.csv", dtype=str)["price"].str.fullmatch(r"\d+").all()
    par = pq.read_table(tmp_path / "orders.parquet").to_pandas()
    assert all(v == v.to_integral_value() for v in par["total"])
    invoices = pd.read_csv(tmp_path / "invoices.csv", dtype=str)
    assert invoices["UnitPrice"].str.fullmatch(r"-?\d+").all()
    shop = pd.read_csv(tmp_path / "shopify_orders.csv", dtype=str, keep_default_na=False)
    assert shop["Lineitem price"].str.fullmatch(r"\d+").all()
    assert (
        tomllib.loads((tmp_path / "invoices.mapping.toml").read_text())["options"]["currency"]
        == "JPY"
    )


def test_mixed_currency_store_follows_countries(tmp_path: Path) -> None:
    simulate_store(
        SimulationSpec(
            customers=1_500, days=60, seed=3, currencies=("EUR", "USD", "JPY"), formats={"csv"}
        ),
        tmp_path,
    )
    orders = pd.read_csv(tmp_path / "orders.csv", dtype=str)
    customers = pd.read_csv(tmp_path / "customers.csv", dtype=str).set_index("customer_id")
    country = orders["customer_id"].map(customers["country"])
    assert (orders.loc[country == "US", "currency"] == "USD").all()
    assert (orders.loc[country == "DE", "currency"] == "EUR").all()
    jpy = orders["currency"] == "JPY"
    assert jpy.any() and orders.loc[jpy, "total"].str.fullmatch(r"\d+").all()
    assert orders.loc[~jpy, "total"].str.fullmatch(r"\d+\.\d\d").all()


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    customers=st.integers(1, 40),
    days=st.integers(1, 60),
    seed=st.integers(0, 2**31),
    currencies=st.sampled_from([("GBP",), ("JPY",), ("EUR", "USD", "JPY"), ("KWD",)]),
    share=st.sampled_from([None, 0.0, 0.5]),
)
def test_tiny_stores_write_consistent_files(
    customers: int, days: int, seed: int, currencies: tuple[str, ...], share: float | None
) -> None:
    spec = SimulationSpec(
        customers=customers, days=days, seed=seed, currencies=currencies, export_share=share
    )
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        result = simulate_store(spec, root)
        for name, count in result.row_counts.items():
            path = root / name
            if name.endswith(".csv"):
                assert len(pd.read_csv(path, dtype=str)) == count, name
            elif name.endswith(".parquet"):
                assert pq.read_metadata(path).num_rows == count, name
        lines = (root / "events.jsonl").read_text(encoding="utf-8").splitlines()
        assert len(lines) == result.row_counts["events.jsonl"]
        end = pd.Timestamp(spec.start_at) + pd.Timedelta(days=days)
        for line in lines:
            event = json.loads(line)
            assert pd.Timestamp(spec.start_at) <= pd.Timestamp(event["timestamp"]) < end
        mess = json.loads((root / "truth" / "invoice_mess.json").read_text())
        assert mess["rows"] == result.row_counts["invoices.csv"]
        orders = pd.read_csv(root / "orders.csv", dtype=str)
        assert orders["customer_id"].nunique() == customers
