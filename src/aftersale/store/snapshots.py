"""Derived warehouse tables: feature, category and segment snapshots per ``as_of``, the text
classification cache, health-grade changes and the log of snapshot runs.

Writing a snapshot replaces the rows of that ``as_of`` inside one transaction, so re-running
the same snapshot changes nothing and a crash leaves the previous version in place.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from aftersale.clock import ensure_utc
from aftersale.store.warehouse import Warehouse

__all__ = [
    "NEED_SCHEMA",
    "OFFER_SCHEMA",
    "SNAPSHOT_TABLES",
    "SnapshotRun",
    "SnapshotStore",
    "typed",
]

FEATURES = "feature_snapshots"
CATEGORIES = "category_snapshots"
SEGMENTS = "segment_snapshots"
RUNS = "snapshot_runs"
TEXTS = "text_signals"
CHANGES = "health_changes"
NEEDS = "need_snapshots"
OFFERS = "cross_sell_snapshots"
SNAPSHOT_TABLES = (FEATURES, CATEGORIES, SEGMENTS, CHANGES, NEEDS, OFFERS)

NEED_SCHEMA = ibis.schema(
    {
        "customer_id": "string",
        "category": "string",
        "last_purchase_at": "timestamp('UTC')",
        "n_purchases": "int64",
        "expected_interval_days": "float64",
        "next_need_at": "timestamp('UTC')",
        "next_need_lower_at": "timestamp('UTC')",
        "next_need_upper_at": "timestamp('UTC')",
        "confidence": "float64",
        "is_overdue": "boolean",
    }
)
OFFER_SCHEMA = ibis.schema(
    {
        "customer_id": "string",
        "rank": "int64",
        "item": "string",
        "antecedents": "string",
        "confidence": "float64",
        "lift": "float64",
        "support": "float64",
    }
)

_RUN_SCHEMA = ibis.schema(
    {
        "as_of": "timestamp('UTC')",
        "computed_at": "timestamp('UTC')",
        "mode": "string",
        "customers": "int64",
        "touched": "int64",
        "fingerprint": "string",
    }
)
_TEXT_SCHEMA = ibis.schema(
    {
        "kind": "string",
        "text": "string",
        "slice": "string",
        "slice_hits": "int64",
        "tone": "string",
        "sentiment": "float64",
        "classifier": "string",
    }
)


@dataclass(frozen=True)
class SnapshotRun:
    """One stored snapshot: when it is for, when it was made, how, and under which rules."""

    as_of: datetime
    computed_at: datetime
    mode: str
    customers: int
    touched: int
    fingerprint: str


class SnapshotStore:
    """Reads and writes the derived tables of one warehouse."""

    def __init__(self, warehouse: Warehouse) -> None:
        self.warehouse = warehouse
        self.con = warehouse.con

    def _has(self, name: str) -> bool:
        return name in set(self.con.list_tables())

    def _ensure(self, name: str, schema: ibis.Schema) -> None:
        if not self._has(name):
            self.con.create_table(name, schema=schema)

    # -- text classification cache ---------------------------------------------------------
    def text_signals(self) -> ir.Table:
        """The cached classification of every text seen so far."""
        self._ensure(TEXTS, _TEXT_SCHEMA)
        return self.con.table(TEXTS)

    def add_text_signals(self, frame: pd.DataFrame) -> int:
        """Cache new classifications (rows whose (kind, text) is already cached are skipped)."""
        if frame.empty:
            return 0
        cached = self.text_signals()
        incoming = ibis.memtable(frame[list(_TEXT_SCHEMA.names)]).cast(_TEXT_SCHEMA)
        new = incoming.anti_join(cached, ["kind", "text"])
        count = int(new.count().execute())
        if count:
            self.con.insert(TEXTS, new)
        return count

    # -- snapshots -------------------------------------------------------------------------
    def runs(self) -> list[SnapshotRun]:
        """Every stored snapshot, oldest ``as_of`` first."""
        if not self._has(RUNS):
            return []
        frame = self.con.table(RUNS).order_by("as_of").execute()
        return [
            SnapshotRun(
                as_of=ensure_utc(r.as_of.to_pydatetime()),
                computed_at=ensure_utc(r.computed_at.to_pydatetime()),
                mode=str(r.mode),
                customers=int(r.customers),
                touched=int(r.touched),
                fingerprint=str(r.fingerprint),
            )
            for r in frame.itertuples()
        ]

    def run_at(self, as_of: datetime) -> SnapshotRun | None:
        """The snapshot stored for exactly ``as_of``, if any."""
        moment = ensure_utc(as_of)
        return next((r for r in self.runs() if r.as_of == moment), None)

    def latest_before(self, as_of: datetime, fingerprint: str) -> SnapshotRun | None:
        """The latest snapshot strictly before ``as_of`` made under the same rules."""
        moment = ensure_utc(as_of)
        earlier = [r for r in self.runs() if r.as_of < moment and r.fingerprint == fingerprint]
        return earlier[-1] if earlier else None

    def table_at(self, name: str, as_of: datetime) -> ir.Table:
        """Rows of one derived table for one ``as_of`` (without the ``as_of`` column)."""
        table = self.con.table(name)
        moment = ibis.literal(ensure_utc(as_of), type="timestamp('UTC')")
        kept = table.filter(table.as_of == moment)
        return kept.drop("as_of")

    def write(self, as_of: datetime, tables: dict[str, ir.Table], run: SnapshotRun) -> None:
        """Replace everything stored for ``as_of`` with ``tables`` and record the run."""
        moment = ensure_utc(as_of)
        literal = ibis.literal(moment, type="timestamp('UTC')")
        # Materialise first (the expressions may read the rows about to be replaced).
        staged: dict[str, str] = {}
        for name, expr in tables.items():
            temp = f"_as_snapshot_{name}"
            self.con.create_table(temp, obj=expr.mutate(as_of=literal), overwrite=True, temp=True)
            staged[name] = temp
        self._ensure(RUNS, _RUN_SCHEMA)
        raw = self.con.con
        raw.begin()
        try:
            for name, temp in staged.items():
                if self._has(name):
                    raw.execute(f'DELETE FROM "{name}" WHERE as_of = ?', [moment])
                    raw.execute(f'INSERT INTO "{name}" BY NAME SELECT * FROM "{temp}"')
                else:
                    raw.execute(f'CREATE TABLE "{name}" AS SELECT * FROM "{temp}"')
            raw.execute(f'DELETE FROM "{RUNS}" WHERE as_of = ?', [moment])
            raw.execute(
                f'INSERT INTO "{RUNS}" VALUES (?, ?, ?, ?, ?, ?)',
                [
                    moment,
                    ensure_utc(run.computed_at),
                    run.mode,
                    run.customers,
                    run.touched,
                    run.fingerprint,
                ],
            )
            raw.commit()
        except Exception:
            raw.rollback()
            raise
        finally:
            for temp in staged.values():
                self.con.drop_table(temp, force=True)

    def row(self, name: str, as_of: datetime, customer_id: str) -> dict[str, Any] | None:
        """One customer's row of a derived table at ``as_of``."""
        table = self.table_at(name, as_of)
        frame = table.filter(table.customer_id == customer_id).execute()
        if frame.empty:
            return None
        return {k: _plain(v) for k, v in frame.iloc[0].to_dict().items()}

    def rows(self, name: str, as_of: datetime, customer_id: str) -> list[dict[str, Any]]:
        """Every row of one customer in a derived table at ``as_of``."""
        table = self.table_at(name, as_of)
        frame = table.filter(table.customer_id == customer_id).execute()
        return [{k: _plain(v) for k, v in r.items()} for r in frame.to_dict("records")]


def typed(frame: pd.DataFrame, schema: ibis.Schema) -> ir.Table:
    """A frame as an Ibis table of ``schema`` (missing columns null, extra ones dropped)."""
    size = len(frame)
    columns = {
        name: (
            frame[name].reset_index(drop=True)
            if name in frame.columns
            else pd.Series([None] * size, dtype=object)
        )
        for name in schema.names
    }
    return ibis.memtable(pd.DataFrame(columns, index=range(size))).cast(schema)


def _plain(value: Any) -> Any:
    """pandas / numpy scalars to plain Python (NaN and NaT to None)."""
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        return ensure_utc(value.to_pydatetime())
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and value != value:
        return None
    return value
