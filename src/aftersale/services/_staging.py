"""Staging one chunk of a load: typed rows, rows they imply, and quarantined rows."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import polars as pl

from aftersale.ingestion import assemble, segment
from aftersale.ingestion.lines import classify_lines
from aftersale.ingestion.normalise import NormalisedChunk, normalise_chunk
from aftersale.ingestion.readers import (
    ROW,
    BadRecord,
)
from aftersale.ingestion.rollup import Rollup
from aftersale.ingestion.schema import KIND_FIELDS, Field
from aftersale.ingestion.sequence import POSITION, REPEAT, RUN, LineSequencer
from aftersale.ingestion.shopify import consent_rows
from aftersale.services._load import MESSAGE, Load
from aftersale.store.warehouse import Warehouse

__all__ = [
    "finish_rollup",
    "quarantine",
    "quarantine_bad_records",
    "stage",
    "stage_chunk",
    "with_event_identity",
    "with_hash",
]


def quarantine_bad_records(load: Load, wh: Warehouse, bad: list[BadRecord], path: Path) -> None:
    if not bad:
        return
    load.report.quarantined.update(b.reason for b in bad)
    quarantine(
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


def stage_chunk(
    load: Load, wh: Warehouse, index: int, path: Path, raw: pl.DataFrame, result: NormalisedChunk
) -> None:
    bad = result.bad
    if bad.height:
        load.report.quarantined.update(bad["reason"].to_list())
        quarantine(
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
    if load.kind == "events":
        good = with_event_identity(good)
    if load.mode == "lines" or load.kind == "order-lines":
        good = classify_lines(good, load.rules)
        if "line_number" not in good.columns:
            good = _sequence(load, wh, with_hash(good))
    if load.kind == "consents":
        good = _with_consent_key(good)
    stage(load, wh, "primary", good)
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


def _sequence(load: Load, wh: Warehouse, lines: pl.DataFrame) -> pl.DataFrame:
    """Number the lines, drop exact repeats and roll complete orders up, while streaming.

    Only the first copy of a repeated line is staged (a repeat is an exact duplicate of an
    earlier row of the load whatever the row order, so the sort-based fallback agrees).
    """
    load.sequencer = load.sequencer or LineSequencer()
    if load.rollup is None:
        load.rollup = Rollup(load.rules.cancellation_prefix, orders=load.kind == "orders")
    numbered = load.sequencer(lines)
    kept = numbered.filter(~pl.col(REPEAT)).with_columns(
        pl.col(POSITION).alias("line_number"),
        pl.concat_str(pl.col("order_id"), pl.lit(":"), pl.col(POSITION).cast(pl.String)).alias(
            "line_id"
        ),
    )
    stage_part(load, wh, "rolled_orders", load.rollup(kept))
    return kept.drop(POSITION, REPEAT, RUN)


def finish_rollup(load: Load, wh: Warehouse) -> None:
    """Stage the orders still open when the last chunk was read."""
    if load.rollup is not None:
        stage_part(load, wh, "rolled_orders", load.rollup.finish())


def stage_part(load: Load, wh: Warehouse, name: str, frame: pl.DataFrame) -> None:
    """Stage rows as they are (no row hash); an empty frame only when nothing was staged."""
    if frame.height == 0 and (name in load.staged or not frame.columns):
        return
    wh.stage(load.load_id, name, frame)
    load.staged[name] += frame.height


def _derive(
    load: Load,
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
        quarantine(
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
    stage(load, wh, name, good)


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


def with_hash(frame: pl.DataFrame) -> pl.DataFrame:
    """Add the row hash that stands for the row's values in duplicate checks (once)."""
    if assemble.HASH in frame.columns:
        return frame
    values = [c for c in frame.columns if c not in (ROW, "_file", "source_file")]
    if not values:
        return frame
    return frame.with_columns(frame.select(values).hash_rows(seed=0).alias(assemble.HASH))


def with_event_identity(events: pl.DataFrame) -> pl.DataFrame:
    """Give events from generic files a call type and, when they have none, a content id.

    A row with an event name is a ``track`` call, one without is an ``identify``; a missing
    ``messageId`` is derived from the content (SHA-256, stable across versions), so a replayed
    file is still recognised as duplicates.
    """
    columns = ("event", "customer_id", "anonymous_id", "occurred_at", "properties")
    present = [c for c in columns if c in events.columns]
    if "type" not in events.columns:
        event = pl.col("event") if "event" in events.columns else pl.lit(None, pl.String)
        events = events.with_columns(
            pl.when(event.is_not_null())
            .then(pl.lit("track"))
            .otherwise(pl.lit("identify"))
            .alias("type")
        )
    missing = [
        c for c in ("message_id", "order_id", "properties", "traits") if c not in events.columns
    ]
    events = events.with_columns(pl.lit(None, dtype=pl.String).alias(c) for c in missing)
    if events["message_id"].null_count():
        content = pl.concat_str(
            [pl.col(c).cast(pl.String).fill_null("") for c in ["type", *present]], separator="\x1f"
        )
        derived = content.map_elements(
            lambda text: "derived-" + hashlib.sha256(text.encode()).hexdigest()[:32],
            return_dtype=pl.String,
        )
        events = events.with_columns(pl.coalesce(pl.col("message_id"), derived).alias("message_id"))
    return events


def stage(load: Load, wh: Warehouse, name: str, frame: pl.DataFrame) -> None:
    if frame.height == 0 and load.staged[name]:
        return
    wh.stage(load.load_id, name, with_hash(frame))
    load.staged[name] += frame.height


# -- settling and merging -----------------------------------------------------------------


def quarantine(load: Load, wh: Warehouse, frame: pl.DataFrame) -> None:
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
    stage(load, wh, "quarantine", frame)
