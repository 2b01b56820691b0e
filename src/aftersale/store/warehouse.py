"""The analytical store: canonical tables behind Ibis, on a DuckDB file by default.

Nothing outside ``aftersale.store`` knows which engine this is; callers get Ibis tables and
hand over Arrow / polars frames. Loads are staged into per-load tables first, then merged into
the canonical tables on each table's natural key, so a re-run changes nothing and a crash in
the middle of a load leaves the canonical tables as they were.
"""

from __future__ import annotations

import re
import shutil
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import polars as pl
import pyarrow as pa

from aftersale.config import WarehouseSettings
from aftersale.domain.tables import CANONICAL_TABLES, ColumnType, Table
from aftersale.errors import StorageError

__all__ = ["MergeCounts", "MergeMode", "Warehouse", "ibis_schema"]

MergeMode = Literal["replace", "coalesce", "insert_only", "update_only"]
_STAGE_PREFIX = "_stage_"
_MAX_PENDING_WRITES = 2
_STORAGE_VERSION = "v1.3.0"
_LINEAGE_UNCOMPARED = ("loaded_at", "source_file")
_TYPES: dict[ColumnType, dt.DataType] = {
    "string": dt.String(),
    "int64": dt.Int64(),
    "float64": dt.Float64(),
    "bool": dt.Boolean(),
    "timestamp": dt.Timestamp(timezone="UTC"),
    "json": dt.String(),
}


@dataclass(frozen=True, slots=True)
class MergeCounts:
    """What one merge did to a canonical table."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0


def ibis_schema(spec: Table) -> ibis.Schema:
    """Return the Ibis schema of a canonical table (JSON is kept as text for portability)."""
    return ibis.schema({c.name: _TYPES[c.type] for c in spec.columns})


class Warehouse:
    """Canonical tables, staging and idempotent merges over one Ibis backend connection."""

    def __init__(self, settings: WarehouseSettings) -> None:
        self.settings = settings
        self._con: Any = None
        self._staged: set[str] = set()
        self._parts: dict[tuple[str, str], list[Path]] = {}
        self._writer: ThreadPoolExecutor | None = None
        self._writes: deque[Future[None]] = deque()

    @property
    def location(self) -> str:
        """Where the data lives, for messages and status."""
        return str(self.settings.path)

    @property
    def con(self) -> Any:
        """The Ibis backend connection, opened on first use."""
        if self._con is None:
            path = self.settings.path
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                config: dict[str, Any] = {
                    "memory_limit": self.settings.memory_limit,
                    # DuckDB >= 1.3 storage: its string compression costs about a fifth less
                    # CPU when writing (bulk loads are dominated by it). Files stay readable
                    # by every DuckDB this project supports (>= 1.4).
                    "storage_compatibility_version": _STORAGE_VERSION,
                }
                if self.settings.threads:
                    config["threads"] = self.settings.threads
                self._con = ibis.duckdb.connect(str(path), **config)
            except Exception as exc:  # the engine raises its own error types
                raise StorageError(
                    f"cannot open the warehouse at {path}: {exc}; check the path and that no "
                    "other aftersale process is writing to it"
                ) from exc
        return self._con

    def close(self) -> None:
        """Close the connection (safe to call twice)."""
        if self._writer is not None:
            self._wait_for_writes(raise_errors=False)
            self._writer.shutdown()
            self._writer = None
        if self._con is not None:
            self._con.disconnect()
            self._con = None

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- schema ---------------------------------------------------------------------------
    def initialise(self) -> list[str]:
        """Create every missing canonical table; return the names created. Idempotent."""
        existing = set(self.con.list_tables())
        created = []
        for name, spec in CANONICAL_TABLES.items():
            if name in existing:
                self._check_columns(spec)
                continue
            self.con.create_table(name, schema=ibis_schema(spec))
            created.append(name)
        return created

    def is_initialised(self) -> bool:
        """True when every canonical table exists."""
        if not self.settings.path.exists():
            return False
        return set(CANONICAL_TABLES) <= set(self.con.list_tables())

    def require_initialised(self) -> None:
        """Raise a StorageError telling the user to run ``aftersale init`` when needed."""
        if not self.is_initialised():
            raise StorageError(
                f"the warehouse at {self.location} is not initialised; run `aftersale init`"
            )

    def _check_columns(self, spec: Table) -> None:
        have = set(self.con.get_schema(spec.name).names)
        missing = [c for c in spec.column_names if c not in have]
        if missing:
            raise StorageError(
                f"warehouse table {spec.name} at {self.location} lacks columns "
                f"{', '.join(missing)}; it was made by another version of aftersale"
            )

    # -- reading --------------------------------------------------------------------------
    def table(self, name: str) -> ir.Table:
        """Return a canonical (or staging) table as an Ibis expression."""
        return self.con.table(name)

    def counts(self) -> dict[str, int]:
        """Row counts of every canonical table (0 for a missing one)."""
        existing = set(self.con.list_tables()) if self.settings.path.exists() else set()
        return {
            name: int(self.con.table(name).count().execute()) if name in existing else 0
            for name in CANONICAL_TABLES
        }

    def to_polars(self, expr: ir.Table) -> pl.DataFrame:
        """Execute an expression into a polars frame."""
        result = self.con.to_polars(expr)
        assert isinstance(result, pl.DataFrame)
        return result

    # -- staging --------------------------------------------------------------------------
    def stage_name(self, load_id: str, name: str) -> str:
        """Name of the staging table of ``name`` for one load."""
        safe = re.sub(r"[^0-9a-zA-Z_]", "_", f"{load_id}_{name}")
        return f"{_STAGE_PREFIX}{safe}"

    def stage(self, load_id: str, name: str, frame: pl.DataFrame | pa.Table) -> None:
        """Append rows to the staging data of ``name`` for this load.

        Staged chunks are written as Parquet parts next to the warehouse file (several times
        cheaper than inserting into a table) and read back by the engine as one table; they
        are removed by :meth:`drop_staging` when the load ends, whatever its outcome. Parts are
        written by a background thread (so the caller prepares the next chunk meanwhile; at
        most two writes wait); :meth:`staged` and :meth:`drop_staging` wait for them, and a
        failed write raises there or at the next call.
        """
        data = frame if isinstance(frame, pl.DataFrame) else pl.from_arrow(frame)
        assert isinstance(data, pl.DataFrame)
        folder = self._staging_dir(load_id) / re.sub(r"[^0-9a-zA-Z_]", "_", name)
        folder.mkdir(parents=True, exist_ok=True)
        parts = self._parts.setdefault((load_id, name), [])
        path = folder / f"part-{len(parts):06d}.parquet"
        parts.append(path)
        while len(self._writes) >= _MAX_PENDING_WRITES or (self._writes and self._writes[0].done()):
            self._writes.popleft().result()
        if self._writer is None:
            self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="aftersale-stage")
        self._writes.append(self._writer.submit(_write_part, data, path))

    def _wait_for_writes(self, raise_errors: bool = True) -> None:
        """Wait until every staged part is on disk (re-raising a failed write)."""
        while self._writes:
            future = self._writes.popleft()
            if raise_errors:
                future.result()
            else:
                future.exception()

    def _staging_root(self) -> Path:
        return self.settings.path.with_name(self.settings.path.name + ".staging")

    def _staging_dir(self, load_id: str) -> Path:
        return self._staging_root() / re.sub(r"[^0-9a-zA-Z_]", "_", load_id)

    def staged(self, load_id: str, name: str) -> ir.Table | None:
        """Return the staged rows of ``name`` for this load, or None when nothing was staged."""
        parts = self._parts.get((load_id, name))
        self._wait_for_writes()
        if parts:
            return self.con.read_parquet(
                [str(p) for p in parts],
                table_name=self.stage_name(load_id, name),
                union_by_name=True,
            )
        stage = self.stage_name(load_id, name)
        return self.con.table(stage) if stage in self._staged else None

    def materialise(self, load_id: str, name: str, expr: ir.Table) -> ir.Table:
        """Store an expression as a temporary table (so later steps don't recompute it)."""
        stage = self.stage_name(load_id, name)
        # Drop, then create: Ibis' overwrite=True fills a table under another name and copies
        # it, which doubles the work for big intermediates.
        self.con.drop_table(stage, force=True)
        self.con.create_table(stage, obj=expr, temp=True)
        self._staged.add(stage)
        return self.con.table(stage)

    def drop_staging(self, load_id: str | None = None) -> int:
        """Drop the staged data of one load (or of every load); return how many parts."""
        self._wait_for_writes(raise_errors=False)
        prefix = _STAGE_PREFIX + (re.sub(r"[^0-9a-zA-Z_]", "_", load_id) if load_id else "")
        for name in sorted(t for t in self._staged if t.startswith(prefix)):
            self.con.drop_table(name, force=True)
            self._staged.discard(name)
        keys = [k for k in self._parts if load_id is None or k[0] == load_id]
        dropped = 0
        for key in keys:
            self.con.drop_view(self.stage_name(*key), force=True)
            dropped += len(self._parts.pop(key))
        root = self._staging_root()
        shutil.rmtree(self._staging_dir(load_id) if load_id else root, ignore_errors=True)
        if root.is_dir() and not any(root.iterdir()):
            root.rmdir()
        return dropped

    @contextmanager
    def _bulk(self) -> Iterator[None]:
        """Settings for one bulk insert into an empty table, reset afterwards.

        Rows may be written in any order (rows have no order, keys identify them), which lets
        the engine append in parallel without merging partial row groups; and text is not
        analysed for plain dictionary compression (the storage's dictionary+FSST method
        compresses the same columns as well, and trying both costs a quarter of the insert).
        """
        self.con.raw_sql("SET preserve_insertion_order = false")
        self.con.raw_sql("SET disabled_compression_methods = 'dictionary'")
        try:
            yield
        finally:
            self.con.raw_sql("RESET disabled_compression_methods")
            self.con.raw_sql("RESET preserve_insertion_order")

    def merge(self, name: str, incoming: ir.Table, mode: MergeMode = "replace") -> MergeCounts:
        """Merge rows (one per key) into canonical table ``name`` and count what happened.

        ``replace`` overwrites changed rows, ``coalesce`` keeps stored values where the new
        row has none, ``insert_only`` never touches existing rows (first write wins, as for
        Segment ``messageId``), ``update_only`` never creates rows. Unchanged rows are not
        rewritten, so merging the same data twice changes nothing.
        """
        spec = CANONICAL_TABLES[name]
        key = spec.key
        target = self.con.table(name)
        incoming = _project(incoming, spec)
        if mode != "update_only" and int(target.count().execute()) == 0:
            # Nothing stored yet: every row is new, no comparison needed (and counting the
            # table afterwards is cheaper than counting the incoming rows first).
            with self._bulk():
                self.con.insert(name, incoming)
            return MergeCounts(int(self.con.table(name).count().execute()), 0, 0)
        right = target.rename({f"{c}__old": c for c in spec.column_names})
        joined = incoming.left_join(right, incoming[key] == right[f"{key}__old"])
        is_new = joined[f"{key}__old"].isnull()
        merged: dict[str, ir.Value] = {}
        for col in spec.columns:
            new, old = joined[col.name], joined[f"{col.name}__old"]
            if mode in ("coalesce", "update_only") and col.name not in (key, *_LINEAGE_UNCOMPARED):
                merged[col.name] = ibis.coalesce(new, old)
            else:
                merged[col.name] = new
        compared = [c for c in spec.column_names if c not in (*_LINEAGE_UNCOMPARED, "source")]
        same = ibis.literal(True)
        for c in compared:
            same = same & merged[c].identical_to(joined[f"{c}__old"])
        flagged = joined.select(**merged, _is_new=is_new, _same=same)
        tmp = f"{_STAGE_PREFIX}merge_{name}"
        self.con.create_table(tmp, obj=flagged, overwrite=True, temp=True)
        try:
            staged = self.con.table(tmp)
            stats = staged.aggregate(
                new=staged._is_new.cast("int64").sum(),
                same=(~staged._is_new & staged._same).cast("int64").sum(),
                total=staged.count(),
            ).execute()
            new_n = int(stats["new"].iloc[0] or 0)
            same_n = int(stats["same"].iloc[0] or 0)
            changed_n = int(stats["total"].iloc[0]) - new_n - same_n
            columns = list(spec.column_names)
            if mode != "update_only" and new_n:
                self.con.insert(name, staged.filter(staged._is_new).select(columns))
            if mode != "insert_only" and changed_n:
                changed = staged.filter(~staged._is_new & ~staged._same).select(columns)
                self.con.upsert(name, changed, on=key)
        finally:
            self.con.drop_table(tmp, force=True)
        if mode == "update_only":
            return MergeCounts(0, changed_n, same_n)
        if mode == "insert_only":
            return MergeCounts(new_n, 0, same_n + changed_n)
        return MergeCounts(new_n, changed_n, same_n)


def _write_part(data: pl.DataFrame, path: Path) -> None:
    """Write one staged part (runs on the staging thread; polars releases the GIL)."""
    data.write_parquet(path, compression="lz4", statistics=False)


def _project(expr: ir.Table, spec: Table) -> ir.Table:
    """Select the canonical columns in order, typed; missing ones become typed nulls."""
    have = set(expr.columns)
    cols = {}
    for col in spec.columns:
        dtype = _TYPES[col.type]
        cols[col.name] = expr[col.name].cast(dtype) if col.name in have else ibis.null(dtype)
    return expr.select(**cols)
