"""The decision engine's records in the state store: passes, journeys, decisions, outbox.

A pass is written in one transaction: its decisions (a second decision with the same
idempotency key is impossible: unique constraint, insert-or-ignore), an outbox row for every
send and defer, and the new state of every journey it started or moved. Either all of it is
stored or none of it, so a crash never leaves a decision without its outbox row.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from typing import Any

import polars as pl
from sqlalchemy import Connection, Select, Table, select

from aftersale.clock import ensure_utc
from aftersale.store._state_engine import batch_size, dialect_insert
from aftersale.store.state import StateStore
from aftersale.store.state_tables import (
    consent_ledger,
    decision_passes,
    decisions,
    journeys,
    opt_out_first,
    outbox,
)

__all__ = ["DecisionLog", "PassRecord"]

_UTC = pl.Datetime("us", "UTC")
_CHUNK = 500  # customer ids per IN (...) list


@dataclass(frozen=True, slots=True)
class PassRecord:
    """One stored decision pass."""

    pass_id: str
    as_of: datetime
    mode: str
    started_at: datetime
    finished_at: datetime
    playbook: str
    customers: int
    counts: dict[str, int]


def _chunks(values: Sequence[str]) -> Iterator[list[str]]:
    it = iter(values)
    while chunk := list(islice(it, _CHUNK)):
        yield chunk


def _frame(rows: Iterable[Any], schema: dict[str, Any]) -> pl.DataFrame:
    data = [tuple(r) for r in rows]
    return pl.DataFrame(data, schema=schema, orient="row")


class DecisionLog:
    """Reads and writes the engine's tables through an open :class:`StateStore`."""

    def __init__(self, state: StateStore) -> None:
        self.state = state

    # -- passes -------------------------------------------------------------------------------
    def passes(self) -> list[PassRecord]:
        """Every pass, oldest first."""
        c = decision_passes.c
        query = select(decision_passes).order_by(c.as_of, c.started_at)
        with self.state.reading("read decision passes") as conn:
            return [
                PassRecord(**{**r._mapping, "counts": json.loads(r._mapping["counts"])})
                for r in conn.execute(query)
            ]

    def latest_pass(self) -> PassRecord | None:
        """The pass with the latest ``as_of``, if any."""
        passes = self.passes()
        return passes[-1] if passes else None

    def previous_as_of(self, as_of: datetime) -> datetime | None:
        """``as_of`` of the latest pass strictly before ``as_of`` (the start of its window)."""
        c = decision_passes.c
        query = select(c.as_of).where(c.as_of < ensure_utc(as_of)).order_by(c.as_of.desc())
        with self.state.reading("read decision passes") as conn:
            return conn.execute(query.limit(1)).scalar_one_or_none()

    # -- reading state ------------------------------------------------------------------------
    def _select_many(
        self, query: Select[Any], column: Any, ids: Sequence[str] | None, schema: dict[str, Any]
    ) -> pl.DataFrame:
        parts: list[pl.DataFrame] = []
        with self.state.reading("read decision state") as conn:
            if ids is None:
                parts.append(_frame(conn.execute(query), schema))
            else:
                for chunk in _chunks(sorted(set(ids))):
                    parts.append(_frame(conn.execute(query.where(column.in_(chunk))), schema))
        if not parts:
            return pl.DataFrame(schema=schema)
        return pl.concat(parts, how="vertical")

    def journeys(
        self, customer_ids: Sequence[str] | None = None, *, schema: dict[str, Any]
    ) -> pl.DataFrame:
        """Stored journeys (all of them, or of these customers) in the engine's schema."""
        query = select(*(journeys.c[name] for name in schema))
        return self._select_many(query, journeys.c.customer_id, customer_ids, schema)

    def active_customers(self) -> list[str]:
        """Customers with a journey still running."""
        c = journeys.c
        query = select(c.customer_id).where(c.status == "active").distinct()
        with self.state.reading("read journeys") as conn:
            return [r[0] for r in conn.execute(query)]

    def history(
        self, since: datetime, customer_ids: Sequence[str] | None = None, *,
        schema: dict[str, Any],
    ) -> pl.DataFrame:  # fmt: skip
        """Decisions made at or after ``since`` as the gates' history (``at`` = decided_at)."""
        c = decisions.c
        columns = [c[name] if name != "at" else c.decided_at for name in schema]
        query = select(*columns).where(c.decided_at >= ensure_utc(since))
        return self._select_many(query, c.customer_id, customer_ids, schema)

    def consents(self, customer_ids: Sequence[str] | None, as_of: datetime) -> pl.DataFrame:
        """Each customer's consent per (channel, purpose) as recorded before ``as_of``."""
        schema = {
            "customer_id": pl.String,
            "channel": pl.String,
            "purpose": pl.String,
            "status": pl.String,
            "recorded_at": _UTC,
            "_first": pl.Int64,
        }
        c = consent_ledger.c
        query = select(
            c.customer_id, c.channel, c.purpose, c.status, c.recorded_at, opt_out_first()
        ).where(c.recorded_at < ensure_utc(as_of))
        frame = self._select_many(query, c.customer_id, customer_ids, schema)
        return (
            frame.sort("recorded_at", "_first", descending=[True, False])
            .unique(["customer_id", "channel", "purpose"], keep="first", maintain_order=True)
            .select("customer_id", "channel", "purpose", "status")
        )

    def decisions_for(self, customer_id: str) -> list[dict[str, Any]]:
        """Every stored decision about one customer, oldest first."""
        c = decisions.c
        query = select(decisions).where(c.customer_id == customer_id).order_by(c.decided_at, c.id)
        with self.state.reading("read decisions") as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def outbox_rows(self) -> list[dict[str, Any]]:
        """Every outbox row, oldest first."""
        with self.state.reading("read the outbox") as conn:
            return [dict(r._mapping) for r in conn.execute(select(outbox).order_by(outbox.c.id))]

    # -- writing a pass -----------------------------------------------------------------------
    def record(
        self,
        record: PassRecord,
        decided: pl.DataFrame,
        moved: pl.DataFrame,
    ) -> int:
        """Store one pass in one transaction; returns how many decisions were new."""
        now = ensure_utc(record.started_at)
        with self.state.writing("record a decision pass") as conn:
            conn.execute(
                dialect_insert(conn, decision_passes).values(
                    pass_id=record.pass_id,
                    as_of=ensure_utc(record.as_of),
                    mode=record.mode,
                    started_at=now,
                    finished_at=ensure_utc(record.finished_at),
                    playbook=record.playbook,
                    customers=record.customers,
                    counts=json.dumps(record.counts, sort_keys=True),
                )
            )
            rows = decided.with_columns(
                pass_id=pl.lit(record.pass_id), decided_at=pl.lit(ensure_utc(record.as_of), _UTC)
            ).to_dicts()
            new = _insert_ignore(conn, decisions, rows, ["idempotency_key"])
            mail = [
                {
                    "idempotency_key": r["idempotency_key"],
                    "customer_id": r["customer_id"],
                    "play_id": r["play_id"],
                    "step_id": r["step_id"],
                    "channel": r["channel"],
                    "purpose": r["purpose"],
                    "variant": r["variant"],
                    "order_id": r["order_id"],
                    "product_id": r["product_id"],
                    "due_at": r["send_at"],
                    "status": "pending",
                    "created_at": now,
                }
                for r in rows
                if r["outcome"] in ("send", "defer")
            ]
            _insert_ignore(conn, outbox, mail, ["idempotency_key"])
            _upsert(conn, journeys, moved.to_dicts(), "journey_id")
        return new


def _insert_ignore(
    conn: Connection, table: Table, rows: list[dict[str, Any]], keys: list[str]
) -> int:
    if not rows:
        return 0
    names = [c.name for c in table.columns if c.name in rows[0]]
    inserted = 0
    size = batch_size(conn, len(names))
    for start in range(0, len(rows), size):
        batch = [{k: r[k] for k in names} for r in rows[start : start + size]]
        stmt = dialect_insert(conn, table).values(batch).on_conflict_do_nothing(index_elements=keys)
        inserted += conn.execute(stmt, execution_options={"preserve_rowcount": True}).rowcount
    return inserted


def _upsert(conn: Connection, table: Table, rows: list[dict[str, Any]], key: str) -> None:
    if not rows:
        return
    names = [c.name for c in table.columns if c.name in rows[0]]
    size = batch_size(conn, len(names))
    for start in range(0, len(rows), size):
        batch = [{k: r[k] for k in names} for r in rows[start : start + size]]
        stmt = dialect_insert(conn, table).values(batch)
        stmt = stmt.on_conflict_do_update(
            index_elements=[key], set_={n: stmt.excluded[n] for n in names if n != key}
        )
        conn.execute(stmt)
