"""Load source files into the warehouse: read, normalise, stage, settle duplicates, merge.

This is the one use-case behind ``aftersale ingest`` and :func:`aftersale.ingest`. Every row
read is accounted for in the returned :class:`LoadReport`; bad rows land in the quarantine
table with their file, row, field and reason; the canonical tables change only in the final
merge, and merging the same data again changes nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import polars as pl

from aftersale.clock import Clock, SystemClock
from aftersale.config import Settings, load_settings
from aftersale.errors import InvalidInputError, SchemaError
from aftersale.ingestion import segment
from aftersale.ingestion.lines import LineRules
from aftersale.ingestion.mapping import Mapping, load_mapping
from aftersale.ingestion.normalise import NormalisedChunk, ParseOptions, normalise_chunk
from aftersale.ingestion.readers import (
    ROW,
    FileInfo,
    RawChunk,
    detect_encoding,
    expand_paths,
    file_digest,
    parquet_columns,
    prefetch,
    read_csv_chunks,
    read_header,
    read_jsonl_chunks,
    read_parquet_chunks,
)
from aftersale.ingestion.report import FileReport, LoadReport
from aftersale.ingestion.schema import Field, fields_for, is_line_level, match_columns
from aftersale.ingestion.shopify import ShopifyRows
from aftersale.services._load import Load
from aftersale.services._settling import finalise
from aftersale.services._staging import quarantine_bad_records, stage_chunk
from aftersale.store.state import StateStore
from aftersale.store.warehouse import Warehouse

__all__ = ["Progress", "ingest", "resolve_format"]


Progress = Callable[[str, int, int], None]
"""Called as ``(label, done, total)``; ``done``/``total`` are bytes read of the current file."""


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
    load = Load(
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
            finalise(load, warehouse, state)
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
    load: Load,
    wh: Warehouse,
    index: int,
    path: Path,
    fmt: str,
    mapping: Mapping,
    settings: Settings,
    progress: Progress | None,
) -> None:
    size = path.stat().st_size
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="aftersale-digest") as hashing:
        # The file's SHA-256 is computed on its own thread while the rows are read.
        digest = hashing.submit(file_digest, path)
        file_report = _read_rows(load, wh, index, path, fmt, mapping, settings, progress, size)
        file_report.sha256, file_report.bytes = digest.result()
    if progress:
        progress(path.name, size, size)


def _read_rows(
    load: Load,
    wh: Warehouse,
    index: int,
    path: Path,
    fmt: str,
    mapping: Mapping,
    settings: Settings,
    progress: Progress | None,
    size: int,
) -> FileReport:
    """Read, normalise and stage every row of one file; return its report entry.

    For CSV and Parquet three threads share the work: one parses the next chunk, one
    normalises the one before it, and this one stages the chunk before that (in file order:
    staging carries line positions and open orders from chunk to chunk).
    """
    encoding, bom = (
        detect_encoding(path, mapping.options.encoding) if fmt != "parquet" else ("binary", False)
    )
    info = FileInfo(path=str(path), encoding=encoding, had_bom=bom, bytes=size)
    file_report = FileReport(str(path), "", size, encoding, bom)
    load.report.files.append(file_report)
    chunk_rows = settings.ingest.chunk_rows
    done = [0]

    def on_bytes(n: int) -> None:
        # Called by the reading thread; progress is reported by this one, after each chunk.
        done[0] = min(size, done[0] + n)

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
        info.columns = parquet_columns(path)
        matched = _match(load, fields, info.columns, mapping, path)
        chunks = read_parquet_chunks(path, info, chunk_rows)
    else:
        flatten = segment.flatten_segment if fmt == "segment" else None
        chunks = read_jsonl_chunks(path, info, chunk_rows, flatten)
        matched = {}

    def normalised(
        chunks: Iterator[RawChunk],
    ) -> Iterator[tuple[RawChunk, pl.DataFrame, NormalisedChunk]]:
        for chunk in chunks:
            frame = shopify(chunk.frame) if shopify is not None else chunk.frame
            yield chunk, frame, normalise_chunk(frame, matched, fields, load.options)

    if fmt in ("jsonl", "segment"):  # parsed in Python (GIL-bound): one thread
        for chunk in chunks:
            frame = chunk.frame
            matched = _match(
                load,
                fields,
                tuple(c for c in frame.columns if c != ROW),
                mapping,
                path,
                check_required=False,
            )
            _stage_rows(load, wh, index, path, file_report, chunk, frame, matched, fields)
            if progress:
                progress(path.name, min(size, int(size * 0.99)), size)
    else:
        for chunk, frame, result in prefetch(normalised(prefetch(chunks))):
            if progress:
                progress(path.name, done[0] if fmt != "parquet" else int(size * 0.99), size)
            _stage_rows(load, wh, index, path, file_report, chunk, frame, result)
    file_report.exact_reader = info.exact_reader
    if info.exact_reader:
        load.report.notes["files_with_ragged_rows"] += 1
    return file_report


def _stage_rows(
    load: Load,
    wh: Warehouse,
    index: int,
    path: Path,
    file_report: FileReport,
    chunk: RawChunk,
    frame: pl.DataFrame,
    result: NormalisedChunk | dict[str, str],
    fields: tuple[Field, ...] = (),
) -> None:
    """Count one chunk's rows, quarantine what could not be split, stage the rest.

    ``result`` is the normalised chunk, or the matched columns to normalise it with here.
    """
    rows = frame.height + len(chunk.bad)
    load.report.rows_read += rows
    file_report.rows_read += rows
    quarantine_bad_records(load, wh, chunk.bad, path)
    if isinstance(result, dict):
        result = normalise_chunk(frame, result, fields, load.options)
    load.report.notes.update(result.notes)
    stage_chunk(load, wh, index, path, frame, result)


def _match(
    load: Load,
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
