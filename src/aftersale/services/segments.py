"""Segmentation use-cases: snapshot every customer at ``as_of``, profile and explain one.

``snapshot`` classifies any new customer text (cached), computes the point-in-time features
(incrementally from the previous snapshot made under the same rules, when there is one),
assigns segments, slices and health grades, records grade changes (as rows and as
``Health Grade Changed`` events that playbooks can trigger on) and stores it all per ``as_of``.
``as_of`` defaults to the midnight after the latest order, so results depend on the data only.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from aftersale.clock import Clock, SystemClock, ensure_utc
from aftersale.config import Settings, load_settings
from aftersale.domain.events import ENGINE_SOURCE, HEALTH_CHANGED
from aftersale.errors import InvalidInputError, StorageError
from aftersale.features.definitions import standard_registry
from aftersale.features.predictions import predict, prediction_inputs
from aftersale.features.sources import FeatureContext, Sources, distinct_texts, prepare_views
from aftersale.features.table import Previous, feature_tables
from aftersale.segments.assign import Explanation, check_features, segment_table
from aftersale.segments.assign import explain as explain_values
from aftersale.segments.config import SegmentationConfig, load_segmentation
from aftersale.segments.text import LexiconClassifier, TextClassifier
from aftersale.store.snapshots import (
    CATEGORIES,
    CHANGES,
    FEATURES,
    NEED_SCHEMA,
    NEEDS,
    OFFER_SCHEMA,
    OFFERS,
    SEGMENTS,
    SnapshotRun,
    SnapshotStore,
    typed,
)
from aftersale.store.warehouse import Warehouse

__all__ = ["Profile", "SnapshotResult", "default_as_of", "explain", "profile", "snapshot"]

Progress = Callable[[str, int, int], None]
SUMMARY_COLUMNS = ("lifecycle", "rfm_cell", "value_tier", "persona", "slice", "health_grade")


@dataclass(slots=True)
class SnapshotResult:
    """What one snapshot did and the sizes people look at."""

    as_of: datetime
    mode: str
    customers: int
    touched: int
    texts_classified: int
    health_changes: int
    sizes: dict[str, dict[str, int]] = field(default_factory=dict)
    grid: dict[str, dict[str, int]] = field(default_factory=dict)
    predictions: str = ""
    value_basis: str = ""
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "as_of": self.as_of.isoformat(),
            "mode": self.mode,
            "customers": self.customers,
            "touched": self.touched,
            "texts_classified": self.texts_classified,
            "health_changes": self.health_changes,
            "sizes": self.sizes,
            "slice_by_health": self.grid,
            "predictions": self.predictions,
            "value_basis": self.value_basis,
            "warnings": self.warnings,
        }


def _sources(warehouse: Warehouse, store: SnapshotStore) -> Sources:
    return Sources(
        customers=warehouse.table("customers"),
        orders=warehouse.table("orders"),
        order_lines=warehouse.table("order_lines"),
        events=warehouse.table("events"),
        text_signals=store.text_signals(),
    )


def default_as_of(warehouse: Warehouse) -> datetime:
    """Midnight (UTC) after the latest order: the natural 'now' of a loaded history."""
    latest = warehouse.table("orders").ordered_at.max().to_pyarrow().as_py()
    if latest is None:
        raise InvalidInputError("the warehouse has no orders yet; load orders first")
    day = ensure_utc(latest).date() + timedelta(days=1)
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def classify_texts(
    sources: Sources, store: SnapshotStore, classifier: TextClassifier, name: str
) -> int:
    """Classify every (kind, text) not cached yet; return how many were added."""
    pending = distinct_texts(sources).anti_join(store.text_signals(), ["kind", "text"])
    frame = pending.execute()
    if frame.empty:
        return 0
    rows = []
    for kind, group in frame.groupby("kind", sort=True):
        texts = [str(t) for t in group["text"]]
        for text, signal in zip(texts, classifier.classify(str(kind), texts), strict=True):
            rows.append(
                (str(kind), text, signal.slice, signal.slice_hits, signal.tone, signal.sentiment)
            )
    out = pd.DataFrame(rows, columns=["kind", "text", "slice", "slice_hits", "tone", "sentiment"])
    out["classifier"] = name
    return store.add_text_signals(out)


def _changes(current: ir.Table, previous: ir.Table | None, since: datetime | None) -> ir.Table:
    """Customers whose grade differs from the previous snapshot (new customers excluded)."""
    if previous is None or since is None:
        empty = current.filter(ibis.literal(False))
        return empty.select(
            "customer_id",
            previous_as_of=ibis.null("timestamp('UTC')"),
            from_grade=ibis.null("string"),
            to_grade=empty.health_grade,
            health_score=empty.health_score,
        )
    old = previous.select("customer_id", from_grade=previous.health_grade)
    joined = current.join(old, "customer_id")
    changed = joined.filter(joined.health_grade != joined.from_grade)
    return changed.select(
        "customer_id",
        previous_as_of=ibis.literal(ensure_utc(since), type="timestamp('UTC')"),
        from_grade=changed.from_grade,
        to_grade=changed.health_grade,
        health_score=changed.health_score,
    )


def _emit_change_events(
    warehouse: Warehouse, changes: ir.Table, as_of: datetime, now: datetime
) -> None:
    """Write each grade change as a ``Health Grade Changed`` event (idempotent per as_of)."""
    frame = changes.execute()
    if frame.empty:
        return
    stamp = ensure_utc(as_of).strftime("%Y%m%dT%H%M%SZ")
    rows = pd.DataFrame(
        {
            "event_key": [f"{ENGINE_SOURCE}:health:{c}:{stamp}" for c in frame.customer_id],
            "message_id": [f"health:{c}:{stamp}" for c in frame.customer_id],
            "type": "track",
            "event": HEALTH_CHANGED,
            "customer_id": frame.customer_id.astype(str),
            "occurred_at": ensure_utc(as_of),
            "received_at": ensure_utc(now),
            "properties": [
                json.dumps({"from": f, "to": t, "health_score": float(s)})
                for f, t, s in zip(
                    frame.from_grade, frame.to_grade, frame.health_score, strict=True
                )
            ],
            "source": ENGINE_SOURCE,
            "source_file": "snapshot",
            "loaded_at": ensure_utc(now),
        }
    )
    warehouse.merge("events", ibis.memtable(rows), mode="insert_only")


def _counts(table: ir.Table, column: str) -> dict[str, int]:
    frame = table.group_by(column).aggregate(n=table.count()).execute()
    return {str(k): int(v) for k, v in sorted(zip(frame[column], frame["n"], strict=True))}


def _grid(table: ir.Table) -> dict[str, dict[str, int]]:
    frame = table.group_by(["slice", "health_grade"]).aggregate(n=table.count()).execute()
    grid: dict[str, dict[str, int]] = {}
    for s, g, n in zip(frame["slice"], frame["health_grade"], frame["n"], strict=True):
        grid.setdefault(str(s), {})[str(g)] = int(n)
    return dict(sorted(grid.items()))


def snapshot(
    settings: Settings | None = None,
    as_of: datetime | None = None,
    *,
    incremental: bool = True,
    clock: Clock | None = None,
    progress: Progress | None = None,
    classifier: TextClassifier | None = None,
    rules: SegmentationConfig | None = None,
) -> SnapshotResult:
    """Compute and store features, segments, slices and health for every buyer at ``as_of``."""
    settings = settings or load_settings()
    clock = clock or SystemClock()
    cfg = rules or load_segmentation(settings.segmentation.file)
    step = progress or (lambda _s, _d, _t: None)
    with Warehouse(settings.warehouse) as warehouse:
        warehouse.require_initialised()
        store = SnapshotStore(warehouse)
        moment = ensure_utc(as_of) if as_of is not None else default_as_of(warehouse)
        step("segmenting", 0, 4)
        if classifier is None:
            classifier = LexiconClassifier(
                cfg.lexicons.slices, cfg.lexicons.tones, cfg.tones.anger_sentiment
            )
            name = f"lexicon:{cfg.fingerprint()}"
        else:
            name = type(classifier).__name__
        classified = classify_texts(_sources(warehouse, store), store, classifier, name)
        sources = _sources(warehouse, store)
        fingerprint = cfg.fingerprint()
        before = store.latest_before(moment, fingerprint) if incremental else None
        previous = None
        if before is not None:
            previous = Previous(
                as_of=before.as_of,
                computed_at=before.computed_at,
                features=store.table_at(FEATURES, before.as_of),
                categories=store.table_at(CATEGORIES, before.as_of),
            )
        step("segmenting", 1, 4)
        ctx = FeatureContext(moment, cfg.signals)
        registry = standard_registry(cfg.signals)
        check_features(cfg, registry.names())
        inputs = prediction_inputs(sources, ctx, prepare_views(sources, ctx))
        predicted = predict({k: v.execute() for k, v in inputs.items()}, moment, cfg.predictions)
        scored = None
        if predicted.skipped is None:
            scored = warehouse.materialise(
                "snapshot", "predictions", ibis.memtable(predicted.customers)
            )
        else:
            cfg = cfg.model_copy(
                update={"value": cfg.value.model_copy(update={"basis": "monetary_minor"})}
            )
        tables = feature_tables(
            sources,
            ctx,
            registry,
            affinity_alpha=cfg.affinity.alpha,
            gap_prior_weight=cfg.lifecycle.gap_prior_weight,
            previous=previous,
            predictions=scored,
            materialise=lambda name, expr: warehouse.materialise("snapshot", name, expr),
        )
        features = warehouse.materialise("snapshot", "features", tables.features)
        step("segmenting", 2, 4)
        segments = segment_table(features, cfg)
        last = next((r for r in reversed(store.runs()) if r.as_of < moment), None)
        old_segments = store.table_at(SEGMENTS, last.as_of) if last else None
        segments = warehouse.materialise("snapshot", "segments", segments)
        changes = _changes(segments, old_segments, last.as_of if last else None)
        categories = tables.categories
        customers = int(features.count().execute())
        touched = int(tables.touched.count().execute()) if tables.touched is not None else customers
        step("segmenting", 3, 4)
        run = SnapshotRun(
            as_of=moment,
            computed_at=clock.now(),
            mode="incremental" if previous is not None else "full",
            customers=customers,
            touched=touched,
            fingerprint=fingerprint,
        )
        store.write(
            moment,
            {
                FEATURES: features,
                CATEGORIES: categories,
                SEGMENTS: segments,
                CHANGES: changes,
                NEEDS: typed(predicted.needs, NEED_SCHEMA),
                OFFERS: typed(predicted.offers, OFFER_SCHEMA),
            },
            run,
        )
        stored_changes = store.table_at(CHANGES, moment)
        _emit_change_events(warehouse, stored_changes, moment, clock.now())
        warehouse.drop_staging("snapshot")
        stored = store.table_at(SEGMENTS, moment)
        result = SnapshotResult(
            as_of=moment,
            mode=run.mode,
            customers=customers,
            touched=touched,
            texts_classified=classified,
            health_changes=int(stored_changes.count().execute()),
            sizes={c: _counts(stored, c) for c in SUMMARY_COLUMNS},
            grid=_grid(stored),
            predictions=predicted.skipped
            or f"fitted ({predicted.customers['purchase_model'].iloc[0]})",
            value_basis=cfg.value.basis,
            warnings=predicted.warnings,
        )
        step("segmenting", 4, 4)
        return result


@dataclass(slots=True)
class Profile:
    """One customer at one ``as_of``: features, segments, affinities and the reasons."""

    customer_id: str
    as_of: datetime
    features: dict[str, Any]
    segments: dict[str, Any]
    categories: list[dict[str, Any]]
    explanation: Explanation
    needs: list[dict[str, Any]] = field(default_factory=list)
    offers: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (timestamps as ISO text)."""

        def plain(value: Any) -> Any:
            return value.isoformat() if isinstance(value, datetime) else value

        return {
            "customer_id": self.customer_id,
            "as_of": self.as_of.isoformat(),
            "segments": {k: plain(v) for k, v in self.explanation.values.items()},
            "reasons": self.explanation.reasons,
            "features": {k: plain(v) for k, v in self.features.items()},
            "categories": [{k: plain(v) for k, v in c.items()} for c in self.categories],
            "next_needs": [{k: plain(v) for k, v in n.items()} for n in self.needs],
            "cross_sell": [{k: plain(v) for k, v in o.items()} for o in self.offers],
        }


def profile(
    customer_id: str, as_of: datetime | None = None, settings: Settings | None = None
) -> Profile:
    """One customer's stored snapshot at ``as_of`` (latest snapshot when None), explained."""
    settings = settings or load_settings()
    cfg = load_segmentation(settings.segmentation.file)
    with Warehouse(settings.warehouse) as warehouse:
        warehouse.require_initialised()
        store = SnapshotStore(warehouse)
        runs = store.runs()
        if not runs:
            raise StorageError("no snapshot yet; run `aftersale segment` first")
        if as_of is None:
            run = runs[-1]
        else:
            found = store.run_at(as_of)
            if found is None:
                stored = ", ".join(r.as_of.isoformat() for r in runs[-5:])
                raise InvalidInputError(
                    f"no snapshot at {ensure_utc(as_of).isoformat()}; stored: {stored}; "
                    "run `aftersale segment --as-of ...` first"
                )
            run = found
        features = store.row(FEATURES, run.as_of, customer_id)
        segments = store.row(SEGMENTS, run.as_of, customer_id)
        if features is None or segments is None:
            raise InvalidInputError(
                f"customer {customer_id!r} is not in the snapshot at {run.as_of.isoformat()} "
                "(only customers with a purchase before as_of are)"
            )
        categories = sorted(
            (
                r
                for r in store.rows(CATEGORIES, run.as_of, customer_id)
                if (r.get("rank") or 0) <= cfg.affinity.top
            ),
            key=lambda r: r.get("rank") or 0,
        )
        needs = sorted(
            store.rows(NEEDS, run.as_of, customer_id), key=lambda r: str(r.get("next_need_at"))
        )
        offers = sorted(store.rows(OFFERS, run.as_of, customer_id), key=lambda r: r["rank"])
        return Profile(
            customer_id,
            run.as_of,
            features,
            segments,
            categories,
            explain_values(features, segments, cfg),
            needs,
            offers,
        )


def explain(
    customer_id: str, as_of: datetime | None = None, settings: Settings | None = None
) -> Explanation:
    """Every value assigned to one customer with the reasons that produced it."""
    return profile(customer_id, as_of, settings).explanation
