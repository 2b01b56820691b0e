"""The operational state store: load runs, loaded files and the consent ledger over SQLAlchemy Core.

One code path serves a SQLite file (the default, WAL mode) and PostgreSQL (multi-worker
deployments, psycopg 3). The schema is owned by the Alembic migrations shipped in
``aftersale/store/migrations`` and applied by :meth:`StateStore.migrate`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from itertools import islice
from os import PathLike, fspath
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Self, cast

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Connection, Engine, func, select, text
from sqlalchemy.exc import SQLAlchemyError

from aftersale.config import Settings
from aftersale.errors import InvalidInputError, StorageError
from aftersale.store._state_engine import (
    WRITE_OPTION,
    batch_size,
    create_state_engine,
    dialect_insert,
    masked_url,
    sqlite_file,
    storage_error,
)
from aftersale.store.state_tables import (
    CONSENT_OPTIONAL,
    CONSENT_REQUIRED,
    ConsentAppendResult,
    LoadedFile,
    LoadRun,
    LoadStatus,
    consent_ledger,
    consent_row,
    load_files,
    load_run_from_row,
    load_runs,
    metadata,
    opt_out_first,
    report_json,
    utc_instant,
)
from aftersale.types import ConsentStatus

__all__ = ["ConsentAppendResult", "LoadRun", "LoadStatus", "LoadedFile", "StateStore"]

_MIGRATIONS_DIR = Path(__file__).resolve().with_name("migrations")
_MIGRATE_LOCK_KEY = 0x61667465  # "afte": serialises concurrent `migrate()` calls on PostgreSQL
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_NEWEST = (load_runs.c.started_at.desc(), load_runs.c.load_id.desc())
_COUNT_FIELDS = ("rows_read", "rows_loaded", "rows_merged", "rows_duplicate", "rows_quarantined")


class StateStore:
    """Transactional operational state; open with :meth:`from_url` or :meth:`from_settings`."""

    def __init__(self, engine: Engine) -> None:
        """Wrap an engine made by :func:`create_state_engine` (use the constructors instead)."""
        self._engine = engine
        self._writer = engine.execution_options(**{WRITE_OPTION: True})
        self._url = masked_url(engine.url)
        self._initialised = False

    @classmethod
    def from_url(cls, url: str) -> StateStore:
        """Open the store at a SQLAlchemy URL: ``sqlite:///...`` or ``postgresql+psycopg://...``."""
        return cls(create_state_engine(url))

    @classmethod
    def from_settings(cls, settings: Settings) -> StateStore:
        """Open the state store named by ``settings.state.url``."""
        return cls.from_url(settings.state.url.get_secret_value())

    @property
    def url(self) -> str:
        """The database URL with its password masked, safe to print."""
        return self._url

    @property
    def dialect(self) -> str:
        """The backend name: ``sqlite`` or ``postgresql``."""
        return self._engine.dialect.name

    def close(self) -> None:
        """Release every pooled connection."""
        self._engine.dispose()

    def __enter__(self) -> Self:
        """Use the store as a context manager that closes it on exit."""
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the store."""
        self.close()

    # --- schema --------------------------------------------------------------------------------

    def migrate(self) -> str:
        """Upgrade the schema to the newest revision (idempotent) and return that revision."""
        path = sqlite_file(self._engine.url)
        if path is not None:  # `aftersale init` may name a folder that does not exist yet
            path.parent.mkdir(parents=True, exist_ok=True)
        self._run_alembic("upgrade", "head")
        revision = self.current_revision()
        assert revision is not None
        return revision

    def downgrade(self, revision: str) -> None:
        """Downgrade the schema to ``revision`` (``"base"`` drops every table): tests, rollbacks."""
        self._run_alembic("downgrade", revision)

    def current_revision(self) -> str | None:
        """Return the schema revision the database is at, or ``None`` when it was never migrated."""
        path = sqlite_file(self._engine.url)
        if path is not None and not path.exists():  # don't create an empty file just to look
            return None
        with self._transaction("read the schema revision", write=False) as conn:
            return MigrationContext.configure(conn).get_current_revision()

    def head_revision(self) -> str:
        """Return the newest revision this version of aftersale ships."""
        head = ScriptDirectory.from_config(self._alembic_config(None)).get_current_head()
        assert head is not None
        return head

    # --- load runs -----------------------------------------------------------------------------

    def start_load(
        self,
        load_id: str,
        kind: str,
        source_format: str,
        paths: Sequence[str | PathLike[str]],
        started_at: datetime,
    ) -> None:
        """Record that a load has started (status ``running``)."""
        if not load_id or len(load_id) > 64:
            raise InvalidInputError(f"load_id must be 1-64 characters, got {load_id!r}")
        row = {
            "load_id": load_id,
            "kind": kind,
            "source_format": source_format,
            "paths": json.dumps([fspath(p) for p in paths]),
            "started_at": utc_instant("started_at", started_at),
            "status": "running",
        }
        self._require_initialised()
        with self._transaction(f"start load {load_id}", write=True) as conn:
            conn.execute(load_runs.insert().values(row))

    def finish_load(
        self,
        load_id: str,
        finished_at: datetime,
        status: LoadStatus,
        *,
        rows_read: int = 0,
        rows_loaded: int = 0,
        rows_merged: int = 0,
        rows_duplicate: int = 0,
        rows_quarantined: int = 0,
        report: Mapping[str, Any] | None = None,
        error: str | None = None,
    ) -> None:
        """Record how a load ended: its status, row counts, the whole report and any error."""
        if status not in ("succeeded", "failed"):
            raise InvalidInputError(
                f"finish_load status must be succeeded or failed, got {status!r}"
            )
        counts = dict(
            zip(
                _COUNT_FIELDS,
                (rows_read, rows_loaded, rows_merged, rows_duplicate, rows_quarantined),
                strict=True,
            )
        )
        for name, value in counts.items():
            if value < 0:
                raise InvalidInputError(f"{name} must be >= 0, got {value}")
        values: dict[str, Any] = {
            "finished_at": utc_instant("finished_at", finished_at),
            "status": status,
            "report": None if report is None else report_json(report),
            "error": error,
            **counts,
        }
        self._require_initialised()
        with self._transaction(f"finish load {load_id}", write=True) as conn:
            result = conn.execute(
                load_runs.update().where(load_runs.c.load_id == load_id).values(values)
            )
            if result.rowcount == 0:
                raise StorageError(
                    f"no load run {load_id!r} in state store at {self._url}; call start_load first"
                )

    def record_file(
        self, load_id: str, path: str | PathLike[str], sha256: str, bytes_: int, rows_read: int
    ) -> None:
        """Record one file a load read (re-recording the same path in a load replaces it)."""
        if not _SHA256.match(sha256):
            raise InvalidInputError(f"sha256 must be 64 lowercase hex digits, got {sha256!r}")
        row = {
            "load_id": load_id,
            "path": fspath(path),
            "sha256": sha256,
            "bytes": bytes_,
            "rows_read": rows_read,
        }
        self._require_initialised()
        with self._transaction(f"record file {row['path']}", write=True) as conn:
            stmt = dialect_insert(conn, load_files).values(row)
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=["load_id", "path"],
                    set_={k: stmt.excluded[k] for k in ("sha256", "bytes", "rows_read")},
                )
            )

    def files(self, load_id: str) -> list[LoadedFile]:
        """Return the files recorded for one load, by path."""
        query = (
            select(load_files).where(load_files.c.load_id == load_id).order_by(load_files.c.path)
        )
        with self._read("list loaded files") as conn:
            return [LoadedFile(**row._asdict()) for row in conn.execute(query)]

    def loads_with_file(self, sha256: str) -> list[LoadRun]:
        """Return every load that read a file with this content hash, newest first."""
        readers = select(load_files.c.load_id).where(load_files.c.sha256 == sha256)
        query = select(load_runs).where(load_runs.c.load_id.in_(readers)).order_by(*_NEWEST)
        with self._read("find loads of a file") as conn:
            return [load_run_from_row(row._mapping) for row in conn.execute(query)]

    def last_load(self, kind: str | None = None) -> LoadRun | None:
        """Return the most recently started load (of ``kind`` when given), or ``None``."""
        query = select(load_runs)
        if kind is not None:
            query = query.where(load_runs.c.kind == kind)
        query = query.order_by(*_NEWEST).limit(1)
        with self._read("read the last load") as conn:
            row = conn.execute(query).first()
        return None if row is None else load_run_from_row(row._mapping)

    def loads(self, limit: int = 20) -> list[LoadRun]:
        """Return up to ``limit`` loads, newest first."""
        if limit < 1:
            raise InvalidInputError(f"limit must be >= 1, got {limit}")
        query = select(load_runs).order_by(*_NEWEST).limit(limit)
        with self._read("list loads") as conn:
            return [load_run_from_row(row._mapping) for row in conn.execute(query)]

    # --- consent ledger ------------------------------------------------------------------------

    def append_consents(self, rows: Iterable[Mapping[str, Any]]) -> ConsentAppendResult:
        """Append consent rows in one transaction; rows already in the ledger are skipped.

        Keys: customer_id, channel, purpose, status, recorded_at (tz-aware) and optionally
        method, evidence, source, load_id; other keys are ignored.
        """
        self._require_initialised()
        inserted = total = 0
        with self._transaction("append consents", write=True) as conn:
            size = batch_size(conn, len(CONSENT_REQUIRED) + len(CONSENT_OPTIONAL))
            validated = (consent_row(i, row) for i, row in enumerate(rows))
            while batch := list(islice(validated, size)):
                stmt = dialect_insert(conn, consent_ledger).values(batch).on_conflict_do_nothing()
                # rowcount of an INSERT is only kept when asked for (psycopg would report -1)
                inserted += conn.execute(
                    stmt, execution_options={"preserve_rowcount": True}
                ).rowcount
                total += len(batch)
        return ConsentAppendResult(inserted=inserted, duplicates=total - inserted)

    def current_consent(self, customer_id: str, channel: str, purpose: str) -> ConsentStatus | None:
        """Return the customer's consent now: the latest entry wins, ``opt_out`` wins a tie."""
        c = consent_ledger.c
        query = (
            select(c.status)
            .where(c.customer_id == customer_id, c.channel == channel, c.purpose == purpose)
            .order_by(c.recorded_at.desc(), opt_out_first())
            .limit(1)
        )
        with self._read("read consent") as conn:
            status = conn.execute(query).scalar_one_or_none()
        return cast("ConsentStatus | None", status)

    def current_consents(
        self, customer_id: str | None = None
    ) -> dict[tuple[str, str, str], ConsentStatus]:
        """Return the current consent per (customer_id, channel, purpose), same rule as above."""
        c = consent_ledger.c
        rank = func.row_number().over(
            partition_by=(c.customer_id, c.channel, c.purpose),
            order_by=(c.recorded_at.desc(), opt_out_first()),
        )
        inner = select(c.customer_id, c.channel, c.purpose, c.status, rank.label("rank"))
        if customer_id is not None:
            inner = inner.where(c.customer_id == customer_id)
        sub = inner.subquery()
        query = select(sub.c.customer_id, sub.c.channel, sub.c.purpose, sub.c.status).where(
            sub.c.rank == 1
        )
        with self._read("read current consents") as conn:
            return {(r[0], r[1], r[2]): cast("ConsentStatus", r[3]) for r in conn.execute(query)}

    def consent_counts(self) -> dict[tuple[str, str, str], int]:
        """Count customers by their current consent: (channel, purpose, status) -> customers."""
        counts: dict[tuple[str, str, str], int] = {}
        for (_, channel, purpose), status in self.current_consents().items():
            key = (channel, purpose, status)
            counts[key] = counts.get(key, 0) + 1
        return counts

    def table_counts(self) -> dict[str, int]:
        """Return the row count of every state table, for ``aftersale status``."""
        with self._read("count rows") as conn:
            return {
                t.name: int(conn.execute(select(func.count()).select_from(t)).scalar_one())
                for t in sorted(metadata.tables.values(), key=lambda t: t.name)
            }

    # --- plumbing ------------------------------------------------------------------------------

    @contextmanager
    def reading(self, action: str) -> Iterator[Connection]:
        """A read transaction on an initialised store (for the store's other record keepers)."""
        with self._read(action) as conn:
            yield conn

    @contextmanager
    def writing(self, action: str) -> Iterator[Connection]:
        """A write transaction on an initialised store; all or nothing."""
        self._require_initialised()
        with self._transaction(action, write=True) as conn:
            yield conn

    def _require_initialised(self) -> None:
        """Raise StorageError unless the schema is at this version's head (checked once)."""
        if self._initialised:
            return
        revision = self.current_revision()
        if revision is None:
            raise StorageError(
                f"state store at {self._url} is not initialised; run `aftersale init`"
            )
        head = self.head_revision()
        if revision != head:
            raise StorageError(
                f"state store at {self._url} is at schema revision {revision} but this aftersale "
                f"expects {head}; run `aftersale init` to upgrade it (or upgrade aftersale if the "
                "database was migrated by a newer version)"
            )
        self._initialised = True

    @contextmanager
    def _read(self, action: str) -> Iterator[Connection]:
        """Open a read transaction on an initialised store."""
        self._require_initialised()
        with self._transaction(action, write=False) as conn:
            yield conn

    @contextmanager
    def _transaction(self, action: str, *, write: bool) -> Iterator[Connection]:
        """Run one transaction, translating database failures into StorageError."""
        try:
            with (self._writer if write else self._engine).begin() as conn:
                yield conn
        except SQLAlchemyError as exc:
            raise storage_error(action, exc, self._engine.url) from exc

    def _alembic_config(self, conn: Connection | None) -> Config:
        """Build the Alembic configuration in code: no alembic.ini is needed at runtime."""
        config = Config()
        config.set_main_option("script_location", str(_MIGRATIONS_DIR))
        config.set_main_option("path_separator", "os")
        config.attributes["connection"] = conn
        return config

    def _run_alembic(self, verb: Literal["upgrade", "downgrade"], revision: str) -> None:
        """Run an Alembic command inside one (locked) transaction."""
        self._initialised = False
        with self._transaction(f"{verb} the schema to {revision}", write=True) as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATE_LOCK_KEY})
            try:
                getattr(command, verb)(self._alembic_config(conn), revision)
            except CommandError as exc:
                raise StorageError(
                    f"cannot {verb} state store at {self._url} to {revision}: {exc}"
                ) from exc
