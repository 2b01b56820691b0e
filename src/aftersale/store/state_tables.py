"""State-store tables (one ``MetaData`` the migrations must match) and the records they hold.

The first Alembic migration creates exactly these tables; ``tests/store/test_migrations.py``
compares the migrated schema with this metadata on SQLite and PostgreSQL, so a change here
without a new migration fails the tests.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from os import PathLike, fspath
from typing import Any, Literal, get_args

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    case,
)
from sqlalchemy.types import TypeDecorator

from aftersale.clock import ensure_utc
from aftersale.errors import InvalidInputError
from aftersale.types import Channel, ConsentStatus, Purpose

__all__ = [
    "CONSENT_OPTIONAL",
    "CONSENT_REQUIRED",
    "NAMING_CONVENTION",
    "ConsentAppendResult",
    "LoadRun",
    "LoadStatus",
    "LoadedFile",
    "UtcDateTime",
    "consent_ledger",
    "consent_row",
    "load_files",
    "load_run_from_row",
    "load_runs",
    "metadata",
    "opt_out_first",
    "report_json",
    "utc_instant",
]

LoadStatus = Literal["running", "succeeded", "failed"]
CONSENT_REQUIRED = ("customer_id", "channel", "purpose", "status", "recorded_at")
CONSENT_OPTIONAL = ("method", "evidence", "source", "load_id")
_CHANNELS = frozenset(get_args(Channel))
_PURPOSES = frozenset(get_args(Purpose))
_CONSENT_STATUSES = frozenset(get_args(ConsentStatus))

NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(table_name)s_%(column_0_name)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

# An autoincrementing 64-bit key; SQLite only autoincrements a plain INTEGER PRIMARY KEY.
_BigId = BigInteger().with_variant(Integer(), "sqlite")


class UtcDateTime(TypeDecorator[datetime]):
    """A tz-aware UTC timestamp on every backend (SQLite stores naive UTC text, read back aware)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Reject naive values and convert aware ones to UTC (naive UTC text on SQLite)."""
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime, got {type(value).__name__}")
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} has no time zone")
        utc = value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        """Return the stored instant as a tz-aware UTC datetime."""
        if value is None:
            return None
        instant = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
        if instant.tzinfo is None:
            return instant.replace(tzinfo=UTC)
        return instant.astimezone(UTC)


load_runs = Table(
    "load_runs",
    metadata,
    Column("load_id", String(64), primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("source_format", String(32), nullable=False),
    Column("paths", Text, nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("finished_at", UtcDateTime, nullable=True),
    Column("status", String(16), nullable=False),
    Column("rows_read", BigInteger, nullable=False, server_default="0"),
    Column("rows_loaded", BigInteger, nullable=False, server_default="0"),
    Column("rows_merged", BigInteger, nullable=False, server_default="0"),
    Column("rows_duplicate", BigInteger, nullable=False, server_default="0"),
    Column("rows_quarantined", BigInteger, nullable=False, server_default="0"),
    Column("report", Text, nullable=True),
    Column("error", Text, nullable=True),
    CheckConstraint("status IN ('running', 'succeeded', 'failed')", name="status"),
    Index("ix_load_runs_kind_started_at", "kind", "started_at"),
    Index("ix_load_runs_started_at", "started_at"),
)

load_files = Table(
    "load_files",
    metadata,
    Column(
        "load_id",
        String(64),
        ForeignKey("load_runs.load_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("path", Text, primary_key=True),
    Column("sha256", String(64), nullable=False),
    Column("bytes", BigInteger, nullable=False),
    Column("rows_read", BigInteger, nullable=False),
    Index("ix_load_files_sha256", "sha256"),
)

consent_ledger = Table(
    "consent_ledger",
    metadata,
    Column("id", _BigId, primary_key=True, autoincrement=True),
    Column("customer_id", String(255), nullable=False),
    Column("channel", String(32), nullable=False),
    Column("purpose", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("recorded_at", UtcDateTime, nullable=False),
    Column("method", String(255), nullable=True),
    Column("evidence", Text, nullable=True),
    Column("source", String(255), nullable=True),
    Column(
        "load_id",
        String(64),
        ForeignKey("load_runs.load_id", ondelete="SET NULL"),
        nullable=True,
    ),
    UniqueConstraint(
        "customer_id", "channel", "purpose", "recorded_at", "status", name="uq_consent_ledger_entry"
    ),
    CheckConstraint("status IN ('opt_in', 'opt_out')", name="status"),
    Index("ix_consent_ledger_load_id", "load_id"),
)


@dataclass(frozen=True, slots=True)
class LoadRun:
    """One load of source files into the warehouse, as recorded in ``load_runs``."""

    load_id: str
    kind: str
    source_format: str
    paths: tuple[str, ...]
    started_at: datetime
    finished_at: datetime | None
    status: LoadStatus
    rows_read: int
    rows_loaded: int
    rows_merged: int
    rows_duplicate: int
    rows_quarantined: int
    report: dict[str, Any] | None = field(default=None, hash=False)
    error: str | None = None


@dataclass(frozen=True, slots=True)
class LoadedFile:
    """One source file read by a load, fingerprinted so a re-load of it can be recognised."""

    load_id: str
    path: str
    sha256: str
    bytes: int
    rows_read: int


@dataclass(frozen=True, slots=True)
class ConsentAppendResult:
    """How many consent rows were new and how many were already in the ledger."""

    inserted: int
    duplicates: int


def utc_instant(name: str, value: datetime) -> datetime:
    """Return ``value`` in UTC; a naive or non-datetime value is bad input naming ``name``."""
    if not isinstance(value, datetime):
        raise InvalidInputError(f"{name} must be a datetime, got {type(value).__name__}")
    try:
        return ensure_utc(value)
    except ValueError as exc:
        raise InvalidInputError(f"{name}: {exc}") from exc


def consent_row(index: int, row: Mapping[str, Any]) -> dict[str, Any]:
    """Validate one consent mapping; errors name the row (0-based) and the field."""
    missing = [k for k in CONSENT_REQUIRED if row.get(k) in (None, "")]
    if missing:
        raise InvalidInputError(f"consent row {index}: missing {', '.join(missing)}")
    allowed = {"channel": _CHANNELS, "purpose": _PURPOSES, "status": _CONSENT_STATUSES}
    for key, values in allowed.items():
        if row[key] not in values:
            raise InvalidInputError(
                f"consent row {index}: {key} {row[key]!r} is not one of {', '.join(sorted(values))}"
            )
    out = {k: row.get(k) for k in CONSENT_REQUIRED + CONSENT_OPTIONAL}
    out["customer_id"] = str(out["customer_id"])
    out["recorded_at"] = utc_instant(f"consent row {index}: recorded_at", row["recorded_at"])
    return out


def report_json(value: Mapping[str, Any]) -> str:
    """Serialise a report as JSON; datetimes become ISO text and paths strings."""

    def default(obj: object) -> object:
        if isinstance(obj, datetime | date):
            return obj.isoformat()
        if isinstance(obj, PathLike):
            return fspath(obj)
        if isinstance(obj, set | frozenset):
            return sorted(obj, key=str)
        raise InvalidInputError(f"report value {obj!r} of type {type(obj).__name__} is not JSON")

    return json.dumps(value, default=default, sort_keys=True)


def load_run_from_row(row: Mapping[Any, Any]) -> LoadRun:
    """Turn one ``load_runs`` row into a :class:`LoadRun`."""
    values = dict(row)
    values["paths"] = tuple(json.loads(values["paths"]))
    values["report"] = None if values["report"] is None else json.loads(values["report"])
    return LoadRun(**values)


def opt_out_first() -> Any:
    """Sort key putting ``opt_out`` before ``opt_in`` when two entries share a timestamp."""
    return case((consent_ledger.c.status == "opt_out", 0), else_=1)


# -- the decision engine's state (migration 0002) ---------------------------------------------
decision_passes = Table(
    "decision_passes",
    metadata,
    Column("pass_id", String(64), primary_key=True),
    Column("as_of", UtcDateTime, nullable=False),
    Column("mode", String(16), nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("finished_at", UtcDateTime, nullable=False),
    Column("playbook", String(64), nullable=False),
    Column("customers", BigInteger, nullable=False),
    Column("counts", Text, nullable=False),
    CheckConstraint("mode IN ('batch', 'incremental')", name="mode"),
    Index("ix_decision_passes_as_of", "as_of"),
)

journeys = Table(
    "journeys",
    metadata,
    Column("journey_id", String(64), primary_key=True),
    Column("customer_id", String(255), nullable=False),
    Column("play_id", String(64), nullable=False),
    Column("occurrence", String(255), nullable=False),
    Column("order_id", String(255), nullable=True),
    Column("product_id", String(255), nullable=True),
    Column("entered_at", UtcDateTime, nullable=False),
    Column("trigger", Text, nullable=True),
    Column("evidence", Text, nullable=True),
    Column("pc", Integer, nullable=False),
    Column("step_id", String(64), nullable=True),
    Column("due_at", UtcDateTime, nullable=True),
    Column("waiting_since", UtcDateTime, nullable=True),
    Column("status", String(16), nullable=False),
    Column("exit_reason", Text, nullable=True),
    Column("path", Text, nullable=True),
    Column("updated_at", UtcDateTime, nullable=False),
    CheckConstraint("status IN ('active', 'done', 'exited')", name="status"),
    Index("ix_journeys_customer_id", "customer_id", "play_id"),
    Index("ix_journeys_status", "status", "due_at"),
)

decisions = Table(
    "decisions",
    metadata,
    Column("id", _BigId, primary_key=True, autoincrement=True),
    Column("idempotency_key", String(64), nullable=False),
    Column("pass_id", String(64), ForeignKey("decision_passes.pass_id"), nullable=False),
    Column("decided_at", UtcDateTime, nullable=False),
    Column("customer_id", String(255), nullable=False),
    Column("play_id", String(64), nullable=False),
    Column("step_id", String(64), nullable=False),
    Column("occurrence", String(255), nullable=False),
    Column("journey_id", String(64), nullable=True),
    Column("order_id", String(255), nullable=True),
    Column("product_id", String(255), nullable=True),
    Column("purpose", String(16), nullable=False),
    Column("goal", String(32), nullable=False),
    Column("priority", Integer, nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("gate", String(32), nullable=True),
    Column("reason", Text, nullable=True),
    Column("channel", String(16), nullable=True),
    Column("variant", String(64), nullable=True),
    Column("send_at", UtcDateTime, nullable=True),
    Column("explanation", Text, nullable=True),
    UniqueConstraint("idempotency_key", name="uq_decisions_idempotency_key"),
    CheckConstraint("outcome IN ('send', 'defer', 'suppress')", name="outcome"),
    Index("ix_decisions_customer_id", "customer_id", "decided_at"),
    Index("ix_decisions_decided_at", "decided_at"),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", _BigId, primary_key=True, autoincrement=True),
    Column("idempotency_key", String(64), nullable=False),
    Column("customer_id", String(255), nullable=False),
    Column("play_id", String(64), nullable=False),
    Column("step_id", String(64), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("purpose", String(16), nullable=False),
    Column("variant", String(64), nullable=True),
    Column("order_id", String(255), nullable=True),
    Column("product_id", String(255), nullable=True),
    Column("due_at", UtcDateTime, nullable=False),
    Column("status", String(16), nullable=False, server_default="pending"),
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint("idempotency_key", name="uq_outbox_idempotency_key"),
    Index("ix_outbox_status", "status", "due_at"),
)
