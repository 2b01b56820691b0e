"""Look at and export quarantined rows (exports are safe to open in a spreadsheet)."""

from __future__ import annotations

import csv
from pathlib import Path

import polars as pl

from aftersale.config import Settings, load_settings
from aftersale.domain.spreadsheet import neutralise
from aftersale.store.warehouse import Warehouse

__all__ = ["export_csv", "quarantined_rows"]

_COLUMNS = ("source_file", "row_number", "kind", "field", "reason", "detail", "raw", "load_id")


def quarantined_rows(
    settings: Settings | None = None, kind: str | None = None, limit: int | None = None
) -> pl.DataFrame:
    """Return quarantined rows (newest load first, then file and row order)."""
    settings = settings or load_settings()
    with Warehouse(settings.warehouse) as warehouse:
        warehouse.require_initialised()
        table = warehouse.table("quarantine")
        if kind:
            table = table.filter(table.kind == kind)
        table = table.order_by([table.loaded_at.desc(), table.source_file, table.row_number])
        if limit:
            table = table.limit(limit)
        return warehouse.to_polars(table.select(*_COLUMNS))


def export_csv(frame: pl.DataFrame, path: Path | str) -> int:
    """Write ``frame`` as CSV with formula-like text neutralised; return rows written."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(frame.columns)
        for row in frame.iter_rows():
            writer.writerow([neutralise(v) if v is not None else "" for v in row])
    return frame.height
