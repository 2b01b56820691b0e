"""Settling a staged load: duplicates, conflicts, line positions, merges, quarantine."""

from __future__ import annotations

import json
from typing import Literal

import ibis
import ibis.expr.types as ir
import polars as pl

from aftersale.ingestion import assemble
from aftersale.ingestion.readers import ROW
from aftersale.ingestion.report import TableCounts
from aftersale.services._load import MESSAGE, PRIMARY_KEY, PRIMARY_TABLE, Load
from aftersale.services._staging import finish_rollup, quarantine
from aftersale.store.state import StateStore
from aftersale.store.warehouse import MergeCounts, MergeMode, Warehouse

__all__ = ["finalise"]


def finalise(load: Load, wh: Warehouse, state: StateStore) -> None:
    """Settle the whole staged load into the canonical tables and record what happened."""
    report = load.report
    primary = wh.staged(load.load_id, "primary")
    if primary is not None and load.staged["primary"]:
        counts = _settle_primary(load, wh, primary, state)
        report.rows_loaded += counts.inserted
        report.rows_merged += counts.updated
        report.rows_unchanged += counts.unchanged
    _settle_derived(load, wh, state)
    _store_quarantine(load, wh)


def _record(load: Load, table: str, counts: MergeCounts) -> None:
    current = load.report.tables.setdefault(table, TableCounts())
    current.inserted += counts.inserted
    current.updated += counts.updated
    current.unchanged += counts.unchanged


def _merge(load: Load, wh: Warehouse, table: str, expr: ir.Table, mode: MergeMode) -> MergeCounts:
    expr = expr.mutate(loaded_at=ibis.literal(load.report.started_at, type="timestamp('UTC')"))
    counts = wh.merge(table, expr, mode)
    _record(load, table, counts)
    return counts


def _settle_primary(load: Load, wh: Warehouse, staged: ir.Table, state: StateStore) -> MergeCounts:
    kind = load.kind
    report = load.report
    staged_rows = load.staged["primary"]
    if kind == "order-lines" or load.mode == "lines":
        return _settle_lines(load, wh, staged, staged_rows)
    key = PRIMARY_KEY[kind]
    policy: Literal["first", "latest"] = "first" if kind == "events" else "latest"
    settled = assemble.dedupe(staged, key, policy)
    conflicts = _quarantine_conflicts(load, wh, settled.conflicts, key)
    kept = wh.materialise(load.load_id, "kept", settled.kept)
    report.rows_duplicate += staged_rows - conflicts - int(kept.count().execute())
    if kind == "events":
        kept = kept.mutate(event_key=kept.source.concat(":", kept.message_id))
        return _merge(load, wh, "events", kept, "insert_only")
    if kind == "orders":
        status = kept.status if "status" in kept.columns else ibis.null("string")
        customer = kept.customer_id if "customer_id" in kept.columns else ibis.null("string")
        kept = kept.mutate(is_guest=customer.isnull(), status=status.fill_null("completed"))
        counts = _merge(load, wh, "orders", kept, "coalesce")
        load.report.notes["guest_orders"] += int(kept.filter(kept.is_guest).count().execute())
        if "customer_id" in kept.columns:
            _merge(load, wh, "customers", assemble.customers_from_rows(kept), "coalesce")
        return counts
    if kind == "consents":
        counts = _merge(load, wh, "consents", kept, "insert_only")
        _append_ledger(load, wh, kept, state)
        return counts
    return _merge(load, wh, PRIMARY_TABLE[kind], kept, "coalesce")


def _settle_lines(load: Load, wh: Warehouse, staged: ir.Table, staged_rows: int) -> MergeCounts:
    """Merge line-level loads: lines, and (for orders) orders, customers and products."""
    report = load.report
    sequencer = load.sequencer
    rolled = _contiguous(load, wh)
    if sequencer is not None:
        report.rows_duplicate += sequencer.repeats  # repeats were never staged
    if rolled is not None:
        # Orders were contiguous: line positions and orders built while streaming are final.
        lines = staged
        report.notes["orders_contiguous_files"] += 1
    else:
        if sequencer is not None:
            staged = staged.drop("line_number", "line_id")
        lines = _settle_lines_by_sorting(load, wh, staged, staged_rows)
    counts = _merge(load, wh, "order_lines", lines, "replace")
    if load.kind == "orders":
        if rolled is not None:
            orders = rolled
            assert load.rollup is not None
            report.notes.update(load.rollup.notes)
            _merge(load, wh, "orders", orders, "coalesce")
        else:
            orders = assemble.orders_from_lines(lines, load.rules.cancellation_prefix)
            orders = wh.materialise(load.load_id, "orders_built", orders)
            _merge(load, wh, "orders", orders, "coalesce")
            _count_order_notes(load, wh, orders, lines)
        if "customer_id" in lines.columns:
            _merge(load, wh, "customers", assemble.customers_from_rows(lines), "coalesce")
    _merge(load, wh, "products", assemble.products_from_lines(lines), "coalesce")
    return counts


def _contiguous(load: Load, wh: Warehouse) -> ir.Table | None:
    """The orders rolled up while streaming, if every run of order ids had its own id."""
    if load.sequencer is None:
        return None
    finish_rollup(load, wh)
    orders = wh.staged(load.load_id, "rolled_orders")
    if orders is None:
        return None
    stats = wh.to_polars(orders.aggregate(n=orders.count(), ids=orders.order_id.nunique()))
    return orders if stats["n"][0] == stats["ids"][0] else None


def _settle_lines_by_sorting(
    load: Load, wh: Warehouse, staged: ir.Table, staged_rows: int
) -> ir.Table:
    """Exact repeats and line positions by sorting the whole load (any row order)."""
    positioned = assemble.lines_with_positions(assemble.dedupe(staged, None).kept)
    conflicts = 0
    if "line_number" in staged.columns:  # numbered by the source: numbers may clash
        settled = assemble.dedupe(positioned, "line_id", "latest")
        conflicts = _quarantine_conflicts(load, wh, settled.conflicts, "line_id")
        positioned = settled.kept
    lines = wh.materialise(load.load_id, "lines", positioned)
    load.report.rows_duplicate += staged_rows - conflicts - int(lines.count().execute())
    return lines


def _surviving(load: Load, wh: Warehouse, derived: ir.Table) -> ir.Table:
    """Keep rows derived from events that survived messageId dedupe (first copy only)."""
    events = wh.staged(load.load_id, "kept")
    if events is None or MESSAGE not in derived.columns:
        return derived
    keys = events.select(_k_file=events._file, _k_row=events._row, _k_id=events.message_id)
    joined = derived.semi_join(
        keys,
        (derived._file == keys._k_file)
        & (derived._row == keys._k_row)
        & (derived[MESSAGE] == keys._k_id),
    )
    return joined.drop(MESSAGE)


def _settle_derived(load: Load, wh: Warehouse, state: StateStore) -> None:
    lid = load.load_id
    if (customers := wh.staged(lid, "customers")) is not None:
        kept = assemble.dedupe(_surviving(load, wh, customers), "customer_id", "latest").kept
        _merge(load, wh, "customers", kept, "coalesce")
    if (orders := wh.staged(lid, "orders")) is not None:
        kept = assemble.dedupe(_surviving(load, wh, orders), "order_id", "latest").kept
        kept = kept.mutate(is_guest=kept.customer_id.isnull())
        _merge(load, wh, "orders", kept, "coalesce")
    if (lines := wh.staged(lid, "order-lines")) is not None:
        exact = assemble.dedupe(_surviving(load, wh, lines), None).kept
        kept = assemble.dedupe(assemble.lines_with_positions(exact), "line_id").kept
        _merge(load, wh, "order_lines", kept, "replace")
    if (updates := wh.staged(lid, "order-updates")) is not None:
        kept = assemble.dedupe(_surviving(load, wh, updates), "order_id", "latest").kept
        counts = _merge(load, wh, "orders", kept, "update_only")
        load.report.notes["order_updates_for_unknown_orders"] += int(kept.count().execute()) - (
            counts.updated + counts.unchanged
        )
    if (consents := wh.staged(lid, "consents")) is not None:
        kept = wh.materialise(
            lid, "consents_kept", assemble.dedupe(consents, "consent_key", "latest").kept
        )
        _merge(load, wh, "consents", kept, "insert_only")
        _append_ledger(load, wh, kept, state)


def _append_ledger(load: Load, wh: Warehouse, kept: ir.Table, state: StateStore) -> None:
    """Mirror consents into the state store's ledger, which sends are checked against."""
    columns = [
        "customer_id",
        "channel",
        "purpose",
        "status",
        "recorded_at",
        "method",
        "evidence",
        "source",
    ]
    frame = wh.to_polars(kept.select(*[c for c in columns if c in kept.columns]))
    rows = [dict(r, load_id=load.load_id) for r in frame.iter_rows(named=True)]
    result = state.append_consents(rows)
    load.report.notes["consent_ledger_inserted"] += result.inserted


def _count_order_notes(load: Load, wh: Warehouse, orders: ir.Table, lines: ir.Table) -> None:
    stats = wh.to_polars(
        orders.aggregate(
            guest=orders.is_guest.cast("int64").sum(),
            cancelled=(orders.status == "cancelled").cast("int64").sum(),
            returned=(orders.status == "returned").cast("int64").sum(),
        )
    )
    for name in ("guest", "cancelled", "returned"):
        value = stats[name][0]
        if value:
            key = {
                "guest": "guest_orders",
                "cancelled": "cancelled_orders",
                "returned": "return_orders",
            }[name]
            load.report.notes[key] += int(value)
    kinds = wh.to_polars(lines.group_by("line_kind").aggregate(n=lines.count()))
    for kind, n in kinds.iter_rows():
        if kind != "product":
            load.report.notes[f"non_product_lines:{kind}"] += int(n)
    prices = wh.to_polars(
        lines.aggregate(
            zero=(lines.unit_price_minor == 0).cast("int64").sum(),
            negative=(lines.unit_price_minor < 0).cast("int64").sum(),
            negative_qty=(lines.quantity < 0).cast("int64").sum(),
        )
    )
    for name, note in (
        ("zero", "zero_price_lines"),
        ("negative", "negative_price_lines"),
        ("negative_qty", "negative_quantity_lines"),
    ):
        value = prices[name][0]
        if value:
            load.report.notes[note] += int(value)


def _quarantine_conflicts(load: Load, wh: Warehouse, conflicts: ir.Table, key: str) -> int:
    """Quarantine the rows that lost to a later row with the same key; return how many."""
    frame = wh.to_polars(conflicts)
    if frame.height == 0:
        return 0
    load.report.quarantined["conflicting_duplicate"] += frame.height
    raw = [
        json.dumps(
            {k: v for k, v in row.items() if not k.startswith("_") and k != "source"},
            default=str,
            ensure_ascii=False,
        )
        for row in frame.iter_rows(named=True)
    ]
    quarantine(
        load,
        wh,
        pl.DataFrame(
            {
                ROW: frame[ROW],
                "field": [key] * frame.height,
                "reason": ["conflicting_duplicate"] * frame.height,
                "detail": [
                    f"{key} {k} appears again at row {w} with different values; row {w} was kept"
                    for k, w in zip(
                        frame[key].to_list(), frame["_winner_row"].to_list(), strict=True
                    )
                ],
                "raw": raw,
                "kind": [load.kind] * frame.height,
                "source_file": frame["source_file"],
            },
            schema_overrides={ROW: pl.Int64, "field": pl.String},
        ),
    )
    return frame.height


def _store_quarantine(load: Load, wh: Warehouse) -> None:
    staged = wh.staged(load.load_id, "quarantine")
    if staged is None:
        return
    kept = assemble.dedupe(
        staged.mutate(_file=0, _row=staged.row_number), "quarantine_key", "first"
    ).kept
    _merge(load, wh, "quarantine", kept, "insert_only")
