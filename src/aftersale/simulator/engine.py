"""Run a whole simulated store: shards of customers generated in turn and streamed to files."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from aftersale.simulator.behaviour import Behaviour, simulate_behaviour
from aftersale.simulator.catalog import Catalog, build_catalog
from aftersale.simulator.events import render_events
from aftersale.simulator.invoices import INVOICE_COLUMNS, invoice_rows, mapping_toml
from aftersale.simulator.purchases import Orders, generate_orders
from aftersale.simulator.response import ResponseModel
from aftersale.simulator.segment import EventLines
from aftersale.simulator.shopify import SHOPIFY_COLUMNS, shopify_rows
from aftersale.simulator.spec import SHARD_SIZE, SimulationResult, SimulationSpec
from aftersale.simulator.tables import ORDER_ID_BASE, ShardTables, build_tables
from aftersale.simulator.world import Customers, generate_customers
from aftersale.simulator.writers import CsvSink, JsonlSink, ParquetSink

__all__ = ["Progress", "Shard", "iter_shards", "simulate_store"]

Progress = Callable[[str, int, int], None]
"""Called as ``progress(stage, done, total)`` so a CLI can draw a bar."""


@dataclass(frozen=True, slots=True)
class Shard:
    """Everything generated for one shard of customers."""

    index: int
    people: Customers
    orders: Orders
    behaviour: Behaviour
    tables: ShardTables
    events: EventLines | None
    shopify: pa.Table | None
    invoices: pa.Table | None
    invoice_mess: Counter[str]


def _shard(
    spec: SimulationSpec, catalog: Catalog, k: int, order_base: int, event_base: int
) -> Shard:
    """Generate shard ``k``; ``order_base``/``event_base`` number its orders and events."""
    people = generate_customers(spec, catalog, k)
    orders = generate_orders(spec, catalog, people, k)
    beh = simulate_behaviour(spec, people, orders, k)
    numbers = ORDER_ID_BASE + order_base + np.arange(len(orders), dtype=np.int64)
    order_ids = pa.array(numbers).cast(pa.string())
    tables = build_tables(spec, catalog, people, orders, beh, order_ids)
    events = None
    if "jsonl" in spec.formats:
        events = render_events(spec, k, people, orders, beh, catalog, order_ids, event_base)
    shopify = (
        shopify_rows(spec, k, catalog, people, orders, numbers)
        if "shopify" in spec.formats
        else None
    )
    invoices, mess = None, Counter[str]()
    if "invoices" in spec.formats:
        invoices, mess = invoice_rows(spec, k, catalog, people, orders, numbers)
    return Shard(k, people, orders, beh, tables, events, shopify, invoices, mess)


def iter_shards(spec: SimulationSpec, catalog: Catalog | None = None) -> Iterator[Shard]:
    """Generate the store shard by shard, in memory (what :func:`simulate_store` writes)."""
    catalog = catalog or build_catalog(spec)
    order_base = event_base = 0
    for k in range((spec.customers + SHARD_SIZE - 1) // SHARD_SIZE):
        shard = _shard(spec, catalog, k, order_base, event_base)
        order_base += len(shard.orders)
        event_base += 0 if shard.events is None else len(shard.events.lines)
        yield shard


def simulate_store(
    spec: SimulationSpec, out_dir: Path | str, progress: Progress | None = None
) -> SimulationResult:
    """Simulate the store described by ``spec`` and write its files to ``out_dir``.

    Examples
    --------
    >>> import tempfile
    >>> from aftersale.simulator import SimulationSpec, simulate_store
    >>> with tempfile.TemporaryDirectory() as d:
    ...     result = simulate_store(SimulationSpec(customers=50, days=30, seed=1), d)
    ...     result.row_counts["customers.csv"]
    50
    """
    out = Path(out_dir)
    (out / "truth").mkdir(parents=True, exist_ok=True)
    fmt = spec.formats
    report = progress or (lambda stage, done, total: None)
    catalog = build_catalog(spec)
    report("catalog", 0, 1)
    csv_names = ("customers", "orders", "order_lines", "consents")
    csv = {k: CsvSink(out / f"{k}.csv") for k in csv_names} if "csv" in fmt else {}
    par_names = ("customers", "orders", "order_lines", "consents")
    par = {k: ParquetSink(out / f"{k}.parquet") for k in par_names} if "parquet" in fmt else {}
    truth = ParquetSink(out / "truth" / "customers_truth.parquet")
    events = JsonlSink(out / "events.jsonl") if "jsonl" in fmt else None
    shopify = (
        CsvSink(out / "shopify_orders.csv", pa.schema([(c, pa.string()) for c in SHOPIFY_COLUMNS]))
        if "shopify" in fmt
        else None
    )
    inv_schema = pa.schema([(c, pa.string()) for c in INVOICE_COLUMNS])
    invoices = CsvSink(out / "invoices.csv", inv_schema) if "invoices" in fmt else None
    products = catalog.products_table()
    pacsv.write_csv(products, out / "products.csv")
    if "parquet" in fmt:
        pq.write_table(products, out / "products.parquet", compression="zstd")
    pq.write_table(
        catalog.truth_table(), out / "truth" / "products_truth.parquet", compression="zstd"
    )
    report("catalog", 1, 1)
    mess: Counter[str] = Counter()
    per_block = spec.block_size // SHARD_SIZE
    (spec.customers + SHARD_SIZE - 1) // SHARD_SIZE
    for shard in iter_shards(spec, catalog):
        t = shard.tables
        pairs = {
            "customers": (t.customers_csv, t.customers_parquet),
            "orders": (t.orders_csv, t.orders_parquet),
            "order_lines": (t.lines_csv, t.lines_parquet),
            "consents": (t.consents, t.consents),
        }
        for name, (as_csv, as_parquet) in pairs.items():
            if name in csv:
                csv[name].write(as_csv)
            if name in par:
                par[name].write(as_parquet)
        truth.write(t.truth)
        if events is not None and shard.events is not None:
            events.write(shard.events.lines)
        if shopify is not None and shard.shopify is not None:
            shopify.write(shard.shopify)
        if invoices is not None and shard.invoices is not None:
            invoices.write(shard.invoices)
        mess.update(shard.invoice_mess)
        if (shard.index + 1) % per_block == 0:
            for buffered in (*par.values(), truth):
                buffered.flush()
        report("customers", min((shard.index + 1) * SHARD_SIZE, spec.customers), spec.customers)
        del shard
    report("finishing", 0, 1)
    sinks: list[CsvSink | ParquetSink | JsonlSink] = [*csv.values(), *par.values(), truth]
    sinks += [s for s in (events, shopify, invoices) if s is not None]
    for sink in sinks:
        sink.close()
    paths = {sink.path.relative_to(out).as_posix(): sink.path for sink in sinks}
    counts = {name: sink.rows for name, sink in zip(paths, sinks, strict=True)}
    paths["products.csv"] = out / "products.csv"
    counts["products.csv"] = products.num_rows
    if "parquet" in fmt:
        paths["products.parquet"] = out / "products.parquet"
        counts["products.parquet"] = products.num_rows
    paths["truth/products_truth.parquet"] = out / "truth" / "products_truth.parquet"
    counts["truth/products_truth.parquet"] = products.num_rows
    effects = ResponseModel.from_spec(spec).table_rows()
    pacsv.write_csv(effects, out / "truth" / "response_effects.csv")
    paths["truth/response_effects.csv"] = out / "truth" / "response_effects.csv"
    counts["truth/response_effects.csv"] = effects.num_rows
    if invoices is not None:
        (out / "invoices.mapping.toml").write_text(mapping_toml(spec), encoding="utf-8")
        paths["invoices.mapping.toml"] = out / "invoices.mapping.toml"
        _write_json(out / "truth" / "invoice_mess.json", _mess_json(mess))
        paths["truth/invoice_mess.json"] = out / "truth" / "invoice_mess.json"
    _write_json(out / "truth" / "spec.json", _spec_json(spec, counts))
    paths["truth/spec.json"] = out / "truth" / "spec.json"
    report("finishing", 1, 1)
    return SimulationResult(
        spec=spec,
        out_dir=out,
        paths=dict(sorted(paths.items())),
        row_counts=dict(sorted(counts.items())),
    )


def _write_json(path: Path, data: object) -> None:
    """Write pretty, key-sorted JSON (stable bytes)."""
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _mess_json(mess: Counter[str]) -> dict[str, object]:
    """Invoice mess counts, non-product rows grouped by stock code."""
    flat = {k: v for k, v in mess.items() if not k.startswith("non_product_rows.")}
    codes = {k.split(".", 1)[1]: v for k, v in mess.items() if k.startswith("non_product_rows.")}
    return {**flat, "non_product_rows": dict(sorted(codes.items()))}


def _spec_json(spec: SimulationSpec, counts: dict[str, int]) -> dict[str, object]:
    """The spec plus derived facts a reader of the truth needs."""
    model = ResponseModel.from_spec(spec)
    return {
        "spec": spec.to_dict(),
        "derived": {
            "end": (spec.start_at + timedelta(days=spec.days)).isoformat(),
            "mean_lambda_per_day": spec.mean_lambda,
            "mean_p_dropout": spec.mean_p,
            "shard_size": SHARD_SIZE,
            "export_customers": spec.export_customers,
            "units": {
                "r": "shape of the Gamma distribution of lambda",
                "alpha": "rate of the Gamma distribution of lambda in days; mean lambda = r/alpha",
                "a": "first shape of the Beta distribution of p",
                "b": "second shape of the Beta distribution of p",
            },
        },
        "response": {
            "fatigue_window_days": model.params.fatigue_window_days,
            "fatigue_cap": list(model.params.fatigue_cap),
            "fatigue_rate_penalty": model.params.fatigue_rate_penalty,
            "fatigue_dropout_penalty": model.params.fatigue_dropout_penalty,
            "fatigue_unsubscribe": model.params.fatigue_unsubscribe,
            "repeat_decay": model.params.repeat_decay,
            "jitter": model.params.jitter,
            "seed": model.params.seed,
        },
        "row_counts": counts,
    }
