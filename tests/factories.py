"""Small builders shared by tests: project settings and files written on the fly."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from aftersale.config import IngestSettings, Settings, StateSettings, WarehouseSettings

__all__ = ["load_simulated", "make_settings", "write_csv", "write_jsonl"]


def make_settings(root: Path, state_url: str | None = None, **ingest: Any) -> Settings:
    """Settings for a throw-away project under ``root`` (SQLite state unless a URL is given)."""
    root.mkdir(parents=True, exist_ok=True)
    return Settings(
        warehouse=WarehouseSettings(path=root / "warehouse.duckdb", memory_limit="1GB"),
        state=StateSettings(url=SecretStr(state_url or f"sqlite:///{root / 'state.sqlite'}")),
        ingest=IngestSettings(**ingest),
    )


def write_csv(
    path: Path,
    header: Sequence[str],
    rows: Iterable[Sequence[Any]],
    encoding: str = "utf-8",
    bom: bool = False,
) -> Path:
    """Write a CSV file by hand (so tests control quoting, encodings and mistakes)."""
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(row)
    data = buffer.getvalue().encode(encoding)
    if bom:
        data = b"\xef\xbb\xbf" + data
    path.write_bytes(data)
    return path


def write_jsonl(path: Path, objects: Iterable[Any]) -> Path:
    """Write one JSON value per line (strings are written as given, to allow broken lines)."""
    lines = [obj if isinstance(obj, str) else json.dumps(obj) for obj in objects]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def load_simulated(
    root: Path,
    spec: Any,
    loads: Sequence[tuple[str, str]] = (
        ("orders", "orders.csv"),
        ("order-lines", "order_lines.csv"),
        ("events", "events.jsonl"),
    ),
    settings: Settings | None = None,
) -> tuple[Settings, Any]:
    """Simulate ``spec`` under ``root/store`` and load ``loads`` (kind, file) into a project."""
    from aftersale.services.ingest import ingest
    from aftersale.simulator import simulate_store

    store = simulate_store(spec, root / "store")
    settings = settings or make_settings(root / "project")
    for kind, name in loads:
        ingest(kind, store.path(name), settings=settings)
    return settings, store
