"""Load source files into the warehouse: read, normalise, stage, settle duplicates, merge.

This is the one use-case behind ``aftersale ingest`` and :func:`aftersale.ingest`. Every row
read is accounted for in the returned :class:`LoadReport`; bad rows land in the quarantine
table with their file, row, field and reason; the canonical tables change only in the final
merge, and merging the same data again changes nothing.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import ibis
import ibis.expr.types as ir
import polars as pl

from aftersale.clock import Clock, SystemClock
from aftersale.config import Settings, load_settings
from aftersale.errors import InvalidInputError, SchemaError
from aftersale.ingestion import assemble, segment
from aftersale.ingestion.lines import LineRules, classify_lines
from aftersale.ingestion.mapping import Mapping, load_mapping
from aftersale.ingestion.normalise import NormalisedChunk, ParseOptions, normalise_chunk
from aftersale.ingestion.readers import (
    ROW,
    BadRecord,
    FileInfo,
    RawChunk,
    detect_encoding,
    expand_paths,
    file_digest,
    read_csv_chunks,
    read_header,
    read_jsonl_chunks,
    read_parquet_chunks,
)
from aftersale.ingestion.report import FileReport, LoadReport, TableCounts
from aftersale.ingestion.schema import KIND_FIELDS, Field, fields_for, is_line_level, match_columns
from aftersale.ingestion.sequence import POSITION, REPEAT, LineSequencer
from aftersale.ingestion.shopify import ShopifyRows, consent_rows
from aftersale.store.state import StateStore
from aftersale.store.warehouse import MergeCounts, MergeMode, Warehouse

__all__ = ["Progress", "ingest", "resolve_format"]

Progress = Callable[[str, int, int], None]
"""Called as ``(label, done, total)``; ``done``/``total`` are bytes read of the current file."""

MESSAGE = segment.MESSAGE
_KIND_ALIASES = {"order_lines": "order-lines", "lines": "order-lines"}
_SUFFIX_FORMATS = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
}
_PRIMARY_KEY = {
    "customers": "customer_id",
    "products": "product_id",
    "orders": "order_id",
    "events": "message_id",
    "consents": "consent_key",
}
_PRIMARY_TABLE = {
    "customers": "customers",
    "products": "products",
    "orders": "orders",
    "order-lines": "order_lines",
    "events": "events",
    "consents": "consents",
}


@dataclass(slots=True)
class _Load:
    """Mutable state of one load while its files are read."""

    kind: str
    mode: str  # "rows" or "lines" (line-level orders: invoice-style and Shopify)
    load_id: str
    source: str
    report: LoadReport
    options: ParseOptions
    rules: LineRules
    staged: Counter[str] = field(default_factory=Counter)
    sequencer: LineSequencer | None = None


def resolve_format(kind: str, path: Path, source_format: str | None) -> str:
    """Return the source format: as given, else from the file suffix (events JSON = Segment)."""
    if source_format:
        fmt = source_format.lower()
        if fmt not in ("csv", "parquet", "jsonl", "shopify", "segment"):
            raise InvalidInputError(
                f"--format {source_format!r}: expected csv, parquet, jsonl, shopify or segment"
            )
        if fmt == "shopify" and kind != "orders":
            raise InvalidInputError(
                "--format shopify loads orders: use `aftersale ingest orders FILE --format shopify`"
            )
        if fmt == "segment" and kind != "events":
            raise InvalidInputError(
                "--format segment loads events: use `aftersale ingest events FILE --format segment`"
            )
        return fmt
    guessed = _SUFFIX_FORMATS.get(path.suffix.lower())
    if guessed is None:
        raise InvalidInputError(f"{path}: cannot tell the format from the name; pass --format")
    fmt = guessed
    return "segment" if fmt == "jsonl" and kind == "events" else fmt


def ingest(
    kind: str,
    path: str | Path | Sequence[str | Path],
    *,
    source_format: str | None = None,
    columns: dict[str, str] | None = None,
    mapping: str | Path | Mapping | None = None,
    settings: Settings | None = None,
    clock: Clock | None = None,
    progress: Progress | None = None,
) -> LoadReport:
    """Load ``kind`` rows from a file, folder or glob (or several) and return the load report.

    ``columns`` maps fields to source columns (``{"order_id": "InvoiceNo"}``); ``mapping`` is a
    TOML mapping file or a :class:`Mapping`. See ``docs/INGEST.md`` for every rule.
    """
    settings = settings or load_settings()
    clock = clock or SystemClock()
    kind = _KIND_ALIASES.get(kind, kind)
    fields_for(kind)
    specs = [path] if isinstance(path, (str, Path)) else list(path)
    files = [f for spec in specs for f in expand_paths(spec)]
    fmt = resolve_format(kind, files[0], source_format)
    the_mapping = (
        load_mapping(mapping) if isinstance(mapping, (str, Path)) else (mapping or Mapping())
    )
    the_mapping = the_mapping.merged(Mapping(dict(columns or {})))
    opts = the_mapping.options
    options = ParseOptions(
        time_zone=opts.time_zone or settings.ingest.default_time_zone,
        timestamp_format=opts.timestamp_format,
        dayfirst=opts.dayfirst,
        decimal=opts.decimal,
        default_currency=opts.currency or settings.ingest.default_currency,
        max_field_chars=settings.ingest.max_field_chars,
        default_region=opts.region,
    )
    load_id = uuid.uuid4().hex
    report = LoadReport(load_id=load_id, kind=kind, source_format=fmt, started_at=clock.now())
    load = _Load(
        kind,
        "rows",
        load_id,
        opts.source or settings.ingest.source,
        report,
        options,
        LineRules(cancellation_prefix=opts.cancellation_prefix),
    )
    warehouse = Warehouse(settings.warehouse)
    state = StateStore.from_settings(settings)
    try:
        warehouse.initialise()
        state.migrate()
        state.start_load(load_id, kind, fmt, [str(f) for f in files], report.started_at)
        try:
            for index, file in enumerate(files):
                _read_file(load, warehouse, index, file, fmt, the_mapping, settings, progress)
            _finalise(load, warehouse, state)
        except BaseException as exc:
            report.finished_at = clock.now()
            state.finish_load(
                load_id,
                report.finished_at,
                "failed",
                rows_read=report.rows_read,
                report=report.to_dict(),
                error=str(exc)[:2000],
            )
            raise
        finally:
            warehouse.drop_staging(load_id)
        report.finished_at = clock.now()
        for fr in report.files:
            state.record_file(load_id, fr.path, fr.sha256, fr.bytes, fr.rows_read)
        state.finish_load(
            load_id,
            report.finished_at,
            "succeeded",
            rows_read=report.rows_read,
            rows_loaded=report.rows_loaded,
            rows_merged=report.rows_merged,
            # The state keeps one "not written" count; the stored report splits it.
            rows_duplicate=report.rows_duplicate + report.rows_unchanged,
            rows_quarantined=report.rows_quarantined,
            report=report.to_dict(),
        )
        return report
    finally:
        warehouse.close()
        state.close()


# -- reading ------------------------------------------------------------------------------


def _read_file(
    load: _Load,
    wh: Warehouse,
    index: int,
    path: Path,
    fmt: str,
    mapping: Mapping,
    settings: Settings,
    progress: Progress | None,
) -> None:
    digest, size = file_digest(path)
    encoding, bom = (
        detect_encoding(path, mapping.options.encoding) if fmt != "parquet" else ("binary", False)
    )
    info = FileInfo(path=str(path), encoding=encoding, had_bom=bom, bytes=size, sha256=digest)
    file_report = FileReport(str(path), digest, size, encoding, bom)
    load.report.files.append(file_report)
    chunk_rows = settings.ingest.chunk_rows
    done = [0]

    def on_bytes(n: int) -> None:
        done[0] = min(size, done[0] + n)
        if progress:
            progress(path.name, done[0], size)

    fields = fields_for(load.kind)
    shopify: ShopifyRows | None = None
    if fmt == "csv" or fmt == "shopify":
        info.columns = read_header(path, encoding, mapping.options.delimiter)
        if fmt == "shopify":
            shopify = ShopifyRows(info.columns, str(path))
            matched = {
                f.name: f.name
                for f in fields
                if f.name in shopify.sources or f.name in ("customer_id", "first_name", "last_name")
            }
            load.mode = "lines"
        else:
            matched = _match(load, fields, info.columns, mapping, path)
        chunks: Iterator[RawChunk] = read_csv_chunks(
            path, info, chunk_rows, mapping.options.delimiter, on_bytes
        )
    elif fmt == "parquet":
        import pyarrow.parquet as pq

        info.columns = tuple(pq.read_schema(path).names)
        matched = _match(load, fields, info.columns, mapping, path)
        chunks = read_parquet_chunks(path, info, chunk_rows)
    else:
        flatten = segment.flatten_segment if fmt == "segment" else None
        chunks = read_jsonl_chunks(path, info, chunk_rows, flatten)
        matched = {}
    for chunk in chunks:
        frame = chunk.frame
        if shopify is not None:
            frame = shopify(frame)
        if fmt in ("jsonl", "segment"):
            matched = _match(
                load,
                fields,
                tuple(c for c in frame.columns if c != ROW),
                mapping,
                path,
                check_required=False,
            )
        rows = frame.height + len(chunk.bad)
        load.report.rows_read += rows
        file_report.rows_read += rows
        _quarantine_bad_records(load, wh, chunk.bad, path)
        result = normalise_chunk(frame, matched, fields, load.options)
        load.report.notes.update(result.notes)
        _stage_chunk(load, wh, index, path, frame, result)
        if progress and fmt != "csv":
            progress(path.name, min(size, int(size * 0.99)), size)
    file_report.exact_reader = info.exact_reader
    if info.exact_reader:
        load.report.notes["files_with_ragged_rows"] += 1
    if progress:
        progress(path.name, size, size)


def _match(
    load: _Load,
    fields: tuple[Field, ...],
    columns: tuple[str, ...],
    mapping: Mapping,
    path: Path,
    check_required: bool = True,
) -> dict[str, str]:
    matched = match_columns(fields, columns, mapping.columns)
    if load.kind == "orders" and is_line_level(matched):
        load.mode = "lines"
    if not check_required:
        return matched
    required = [f.name for f in fields if f.required]
    if load.kind == "orders":
        required += ["product_id", "quantity"] if load.mode == "lines" else []
    money_alternatives = {"unit_price": "unit_price_minor"}
    if load.kind == "order-lines" or load.mode == "lines":
        required.append("unit_price")
    missing = [r for r in required if r not in matched and money_alternatives.get(r) not in matched]
    if missing:
        raise SchemaError(
            f"{path}: column for {', '.join(repr(m) for m in missing)} missing from {load.kind}; "
            f"columns found: {', '.join(columns)}; map one with --map {missing[0]}=<column>",
            path=str(path),
            missing=missing,
            found=columns,
        )
    return matched


def _quarantine_bad_records(load: _Load, wh: Warehouse, bad: list[BadRecord], path: Path) -> None:
    if not bad:
        return
    load.report.quarantined.update(b.reason for b in bad)
    _quarantine(
        load,
        wh,
        pl.DataFrame(
            {
                ROW: [b.row_number for b in bad],
                "field": [None] * len(bad),
                "reason": [b.reason for b in bad],
                "detail": [b.detail for b in bad],
                "raw": [json.dumps({"line": b.raw[:4000]}) for b in bad],
                "kind": [load.kind] * len(bad),
                "source_file": [str(path)] * len(bad),
            },
            schema_overrides={ROW: pl.Int64, "field": pl.String},
        ),
    )


def _stage_chunk(
    load: _Load, wh: Warehouse, index: int, path: Path, raw: pl.DataFrame, result: NormalisedChunk
) -> None:
    bad = result.bad
    if bad.height:
        load.report.quarantined.update(bad["reason"].to_list())
        _quarantine(
            load,
            wh,
            bad.with_columns(
                pl.lit(load.kind).alias("kind"), pl.lit(str(path)).alias("source_file")
            ),
        )
    lineage = [
        pl.lit(index, dtype=pl.Int64).alias("_file"),
        pl.lit(str(path)).alias("source_file"),
        pl.lit(load.source).alias("source"),
    ]
    good = result.good.with_columns(lineage)
    if load.mode == "lines" or load.kind == "order-lines":
        good = classify_lines(good, load.rules)
        if "line_number" not in good.columns:
            load.sequencer = load.sequencer or LineSequencer()
            good = load.sequencer(_with_hash(good))
    if load.kind == "consents":
        good = _with_consent_key(good)
    _stage(load, wh, "primary", good)
    good_rows = result.good.get_column(ROW)
    if load.kind == "events":
        events = good.filter(pl.col(ROW).is_in(good_rows.implode()))
        _derive(
            load,
            wh,
            index,
            path,
            "customers",
            segment.customer_rows(events),
            KIND_FIELDS["customers"],
        )
        _derive(load, wh, index, path, "orders", segment.order_rows(events), KIND_FIELDS["orders"])
        _derive(
            load,
            wh,
            index,
            path,
            "order-lines",
            segment.line_rows(events),
            KIND_FIELDS["order-lines"],
        )
        _derive(
            load,
            wh,
            index,
            path,
            "order-updates",
            segment.order_update_rows(events),
            _optional(KIND_FIELDS["orders"]),
        )
    if "_accepts_marketing" in raw.columns:
        ok = raw.filter(pl.col(ROW).is_in(good_rows.implode()))
        _derive(load, wh, index, path, "consents", consent_rows(ok), KIND_FIELDS["consents"])


def _derive(
    load: _Load,
    wh: Warehouse,
    index: int,
    path: Path,
    name: str,
    text: pl.DataFrame,
    fields: tuple[Field, ...],
) -> None:
    """Normalise rows implied by other rows (orders from events, consents from Shopify)."""
    if text.height == 0:
        return
    matched = {c: c for c in text.columns if c not in (ROW, MESSAGE)}
    result = normalise_chunk(text, matched, fields, load.options)
    if MESSAGE in text.columns:
        ids = text.select(ROW, MESSAGE).unique(subset=[ROW], keep="first")
        result.good = result.good.join(ids, on=ROW, how="left")
    if result.bad.height:
        load.report.notes[f"derived_{name}_quarantined"] += result.bad.height
        _quarantine(
            load,
            wh,
            result.bad.with_columns(
                pl.lit(name).alias("kind"), pl.lit(str(path)).alias("source_file")
            ),
        )
    good = result.good.with_columns(
        pl.lit(index, dtype=pl.Int64).alias("_file"),
        pl.lit(str(path)).alias("source_file"),
        pl.lit(load.source).alias("source"),
    )
    if name == "order-lines":
        good = classify_lines(good, load.rules)
    if name == "consents":
        good = _with_consent_key(good)
    _stage(load, wh, name, good)


def _optional(fields: tuple[Field, ...]) -> tuple[Field, ...]:
    """The same fields with nothing required (rows that only update stored rows)."""
    return tuple(Field(f.name, f.parser, False, f.aliases, f.choices, f.column) for f in fields)


def _with_consent_key(frame: pl.DataFrame) -> pl.DataFrame:
    purpose = pl.col("purpose") if "purpose" in frame.columns else pl.lit(None, dtype=pl.String)
    return frame.with_columns(purpose.fill_null("marketing").alias("purpose")).with_columns(
        pl.concat_str(
            [
                pl.col("customer_id"),
                pl.col("channel"),
                pl.col("purpose"),
                pl.col("recorded_at").dt.to_string("%Y-%m-%dT%H:%M:%S%.fZ"),
            ],
            separator="|",
        ).alias("consent_key")
    )


def _with_hash(frame: pl.DataFrame) -> pl.DataFrame:
    """Add the row hash that stands for the row's values in duplicate checks (once)."""
    if assemble.HASH in frame.columns:
        return frame
    values = [c for c in frame.columns if c not in (ROW, "_file", "source_file")]
    if not values:
        return frame
    return frame.with_columns(frame.select(values).hash_rows(seed=0).alias(assemble.HASH))


def _stage(load: _Load, wh: Warehouse, name: str, frame: pl.DataFrame) -> None:
    if frame.height == 0 and load.staged[name]:
        return
    wh.stage(load.load_id, name, _with_hash(frame))
    load.staged[name] += frame.height


# -- settling and merging -----------------------------------------------------------------


def _finalise(load: _Load, wh: Warehouse, state: StateStore) -> None:
    report = load.report
    primary = wh.staged(load.load_id, "primary")
    if primary is not None and load.staged["primary"]:
        counts = _settle_primary(load, wh, primary, state)
        report.rows_loaded += counts.inserted
        report.rows_merged += counts.updated
        report.rows_unchanged += counts.unchanged
    _settle_derived(load, wh, state)
    _store_quarantine(load, wh)


def _record(load: _Load, table: str, counts: MergeCounts) -> None:
    current = load.report.tables.setdefault(table, TableCounts())
    current.inserted += counts.inserted
    current.updated += counts.updated
    current.unchanged += counts.unchanged


def _merge(load: _Load, wh: Warehouse, table: str, expr: ir.Table, mode: MergeMode) -> MergeCounts:
    expr = expr.mutate(loaded_at=ibis.literal(load.report.started_at, type="timestamp('UTC')"))
    counts = wh.merge(table, expr, mode)
    _record(load, table, counts)
    return counts


def _settle_primary(load: _Load, wh: Warehouse, staged: ir.Table, state: StateStore) -> MergeCounts:
    kind = load.kind
    report = load.report
    staged_rows = load.staged["primary"]
    if kind == "order-lines" or load.mode == "lines":
        sequencer = load.sequencer
        if sequencer is not None and sequencer.runs == int(staged.order_id.nunique().execute()):
            # Orders were contiguous: positions and repeats from the stream are final.
            kept = staged.filter(~staged[REPEAT])
            lines = kept.mutate(
                line_number=kept[POSITION],
                line_id=kept.order_id.concat(":", kept[POSITION].cast("string")),
            )
            report.rows_duplicate += sequencer.repeats
            load.report.notes["orders_contiguous_files"] += 1
        else:
            lines = _settle_lines_by_sorting(load, wh, staged, staged_rows)
        counts = _merge(load, wh, "order_lines", lines, "replace")
        if kind == "orders":
            orders = assemble.orders_from_lines(lines, load.rules.cancellation_prefix)
            orders = wh.materialise(load.load_id, "orders_built", orders)
            _merge(load, wh, "orders", orders, "coalesce")
            _count_order_notes(load, wh, orders, lines)
            if "customer_id" in lines.columns:
                _merge(load, wh, "customers", assemble.customers_from_rows(lines), "coalesce")
        _merge(load, wh, "products", assemble.products_from_lines(lines), "coalesce")
        return counts
    key = _PRIMARY_KEY[kind]
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
    return _merge(load, wh, _PRIMARY_TABLE[kind], kept, "coalesce")


def _settle_lines_by_sorting(
    load: _Load, wh: Warehouse, staged: ir.Table, staged_rows: int
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


def _surviving(load: _Load, wh: Warehouse, derived: ir.Table) -> ir.Table:
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


def _settle_derived(load: _Load, wh: Warehouse, state: StateStore) -> None:
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


def _append_ledger(load: _Load, wh: Warehouse, kept: ir.Table, state: StateStore) -> None:
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


def _count_order_notes(load: _Load, wh: Warehouse, orders: ir.Table, lines: ir.Table) -> None:
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


def _quarantine_conflicts(load: _Load, wh: Warehouse, conflicts: ir.Table, key: str) -> int:
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
    _quarantine(
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


def _quarantine(load: _Load, wh: Warehouse, frame: pl.DataFrame) -> None:
    """Stage quarantined rows with a stable key (file, row, kind, reason and content)."""
    keys = [
        hashlib.sha256(f"{f}|{r}|{k}|{reason}|{raw}".encode()).hexdigest()[:32]
        for f, r, k, reason, raw in frame.select(
            "source_file", ROW, "kind", "reason", "raw"
        ).iter_rows()
    ]
    frame = frame.with_columns(
        pl.Series("quarantine_key", keys),
        pl.col(ROW).alias("row_number"),
        pl.col("detail").fill_null(""),
        pl.col("raw").fill_null("{}"),
        pl.lit(load.load_id).alias("load_id"),
        pl.lit(load.source).alias("source"),
    ).select(
        "quarantine_key",
        "load_id",
        "kind",
        "row_number",
        "field",
        "reason",
        "detail",
        "raw",
        "source",
        "source_file",
    )
    _stage(load, wh, "quarantine", frame)


def _store_quarantine(load: _Load, wh: Warehouse) -> None:
    staged = wh.staged(load.load_id, "quarantine")
    if staged is None:
        return
    kept = assemble.dedupe(
        staged.mutate(_file=0, _row=staged.row_number), "quarantine_key", "first"
    ).kept
    _merge(load, wh, "quarantine", kept, "insert_only")
