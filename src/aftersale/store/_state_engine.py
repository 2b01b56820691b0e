"""Engine set-up for the state store: SQLite pragmas and transactions, PostgreSQL defaults.

Kept apart from :mod:`aftersale.store.state` so that module holds only what is stored; this
one holds how the two backends are connected to so the same Core statements behave alike.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Table, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, SQLAlchemyError
from sqlalchemy.pool import StaticPool

from aftersale.errors import StorageError

__all__ = [
    "WRITE_OPTION",
    "batch_size",
    "create_state_engine",
    "dialect_insert",
    "driver_message",
    "masked_url",
    "sqlite_file",
    "storage_error",
]

WRITE_OPTION = "aftersale_write"
"""Execution option marking a write transaction (``BEGIN IMMEDIATE`` on SQLite)."""

_SQLITE_BUSY_SECONDS = 30.0
_PG_CONNECT_TIMEOUT_SECONDS = 10
_WAL_ATTEMPTS = 200  # x 50 ms: as patient as the busy timeout for a first switch to WAL


def masked_url(url: URL) -> str:
    """Render ``url`` with its password replaced by ``***`` for messages and logs."""
    return url.render_as_string(hide_password=True)


def sqlite_file(url: URL) -> Path | None:
    """Return the database file of a file-backed SQLite URL, else ``None``."""
    if url.get_backend_name() != "sqlite":
        return None
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file:") or "mode=memory" in str(url):
        return None
    return Path(database)


def create_state_engine(raw_url: str) -> Engine:
    """Create an engine for SQLite (WAL, foreign keys, real transactions) or PostgreSQL."""
    try:
        url = make_url(raw_url)
    except ArgumentError as exc:
        raise StorageError(
            "state.url is not a valid SQLAlchemy URL; expected sqlite:///path/to/state.sqlite "
            "or postgresql+psycopg://user:password@host:5432/database"
        ) from exc
    backend = url.get_backend_name()
    try:
        if backend == "sqlite":
            return _sqlite_engine(url)
        if backend == "postgresql":
            return _postgresql_engine(url)
    except (SQLAlchemyError, ImportError) as exc:
        raise StorageError(f"cannot open state store at {masked_url(url)}: {exc}") from exc
    raise StorageError(
        f"state store at {masked_url(url)} uses an unsupported database {backend!r}; "
        "use sqlite:///path/to/state.sqlite or postgresql+psycopg://user:password@host/db"
    )


def _sqlite_engine(url: URL) -> Engine:
    """SQLite: pysqlite's implicit transactions off, explicit BEGIN from SQLAlchemy events."""
    memory = sqlite_file(url) is None
    engine = create_engine(
        url,
        connect_args={"timeout": _SQLITE_BUSY_SECONDS, "check_same_thread": False},
        **({"poolclass": StaticPool} if memory else {}),
    )
    event.listen(engine, "connect", _sqlite_on_connect)
    event.listen(engine, "begin", _sqlite_on_begin)
    return engine


def _sqlite_on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
    """Per connection: let SQLAlchemy own transactions; WAL, foreign keys, busy timeout."""
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout={int(_SQLITE_BUSY_SECONDS * 1000)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        _enable_wal(cursor)
    finally:
        cursor.close()


def _enable_wal(cursor: sqlite3.Cursor) -> None:
    """Switch the file to WAL; the switch skips the busy handler, so retry while it is locked."""
    for attempt in range(_WAL_ATTEMPTS):
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == _WAL_ATTEMPTS - 1:
                raise
            time.sleep(0.05)


def _sqlite_on_begin(conn: Connection) -> None:
    """Writers take the write lock up front so concurrent writers queue instead of failing."""
    immediate = conn.get_execution_options().get(WRITE_OPTION, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _postgresql_engine(url: URL) -> Engine:
    """PostgreSQL through psycopg 3 (also for a bare ``postgresql://`` URL)."""
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    connect_args: dict[str, Any] = {}
    if "connect_timeout" not in url.query:
        connect_args["connect_timeout"] = _PG_CONNECT_TIMEOUT_SECONDS
    return create_engine(url, pool_pre_ping=True, connect_args=connect_args)


def batch_size(conn: Connection, columns: int) -> int:
    """Rows per multi-row INSERT that keep under the backend's bound-parameter limit."""
    if conn.dialect.name == "sqlite":
        limit = 32_766 if sqlite3.sqlite_version_info >= (3, 32, 0) else 999
    else:
        limit = 65_535
    return max(1, min(1_000, limit // columns))


def dialect_insert(conn: Connection, table: Table) -> Any:
    """Return the dialect's INSERT so ON CONFLICT works on SQLite and PostgreSQL alike."""
    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table)


def storage_error(action: str, exc: SQLAlchemyError, url: URL) -> StorageError:
    """Translate a database failure into a StorageError naming the (masked) database."""
    if isinstance(exc, IntegrityError):
        return StorageError(
            f"cannot {action}: state store at {masked_url(url)} rejected it: "
            f"{driver_message(exc, url)}"
        )
    return StorageError(
        f"cannot {action}: state store at {masked_url(url)} failed: {driver_message(exc, url)}; "
        "check that the database is reachable and that state.url (AFTERSALE_STATE__URL) is right"
    )


def driver_message(exc: SQLAlchemyError, url: URL) -> str:
    """The driver's first message line, without SQL echo and with any password blanked."""
    orig = getattr(exc, "orig", None)
    message = str(orig if orig is not None else exc).strip()
    line = message.splitlines()[0] if message else type(exc).__name__
    if url.password:
        line = line.replace(str(url.password), "***")
    return line
