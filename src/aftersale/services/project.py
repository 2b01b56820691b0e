"""Project-level use-cases: create a project (``init``) and describe what it holds (``status``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aftersale.config import CONFIG_FILE_NAME, Settings, load_settings
from aftersale.store.state import LoadRun, StateStore
from aftersale.store.warehouse import Warehouse

__all__ = ["DEFAULT_CONFIG", "InitResult", "StatusReport", "init_project", "project_status"]

DEFAULT_CONFIG = """\
# aftersale project settings. Every key can be overridden by an environment variable:
# AFTERSALE_<SECTION>__<KEY>, e.g. AFTERSALE_STATE__URL=postgresql+psycopg://...

[warehouse]
backend = "duckdb"          # analytical tables (Ibis backend)
path = "aftersale.duckdb"   # relative to this file
memory_limit = "2GB"

[state]
url = "sqlite:///aftersale.sqlite"   # consent ledger, load runs; PostgreSQL for many workers

[ingest]
chunk_rows = 200000
default_time_zone = "UTC"   # zone of timestamps that carry no offset
# default_currency = "EUR"  # used when a row names no currency
"""


@dataclass(frozen=True, slots=True)
class InitResult:
    """What ``init`` did."""

    config_path: Path
    config_written: bool
    warehouse: str
    tables_created: list[str]
    state_revision: str


@dataclass(slots=True)
class StatusReport:
    """What a project holds: row counts per table, recent loads, consent totals."""

    warehouse: str
    state: str
    initialised: bool
    warehouse_counts: dict[str, int] = field(default_factory=dict)
    state_counts: dict[str, int] = field(default_factory=dict)
    state_revision: str | None = None
    recent_loads: list[LoadRun] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "warehouse": self.warehouse,
            "state": self.state,
            "initialised": self.initialised,
            "warehouse_counts": self.warehouse_counts,
            "state_counts": self.state_counts,
            "state_revision": self.state_revision,
            "recent_loads": [
                {
                    "load_id": r.load_id,
                    "kind": r.kind,
                    "source_format": r.source_format,
                    "status": r.status,
                    "started_at": r.started_at.isoformat(),
                    "finished_at": r.finished_at.isoformat() if r.finished_at else None,
                    "rows_read": r.rows_read,
                    "rows_loaded": r.rows_loaded,
                    "rows_merged": r.rows_merged,
                    "rows_unchanged": int((r.report or {}).get("rows_unchanged", 0)),
                    "rows_duplicate": r.rows_duplicate
                    - int((r.report or {}).get("rows_unchanged", 0)),
                    "rows_quarantined": r.rows_quarantined,
                }
                for r in self.recent_loads
            ],
        }


def init_project(directory: Path | str = ".", settings: Settings | None = None) -> InitResult:
    """Write ``aftersale.toml`` (if absent) and create the warehouse tables and state schema."""
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    config_path = root / CONFIG_FILE_NAME
    written = False
    if settings is None:
        if not config_path.exists():
            config_path.write_text(DEFAULT_CONFIG, encoding="utf-8")
            written = True
        settings = load_settings(config_path)
    with Warehouse(settings.warehouse) as warehouse:
        created = warehouse.initialise()
        location = warehouse.location
    with StateStore.from_settings(settings) as state:
        revision = state.migrate()
    return InitResult(config_path, written, location, created, revision)


def project_status(settings: Settings | None = None, recent: int = 5) -> StatusReport:
    """Describe the project: counts by table and the latest loads (nothing is created)."""
    settings = settings or load_settings()
    report = StatusReport(
        warehouse=str(settings.warehouse.path),
        state=_masked(settings.state.url.get_secret_value()),
        initialised=False,
    )
    warehouse = Warehouse(settings.warehouse)
    try:
        if warehouse.is_initialised():
            report.warehouse_counts = warehouse.counts()
            report.initialised = True
    finally:
        warehouse.close()
    with StateStore.from_settings(settings) as state:
        report.state_revision = state.current_revision()
        if report.state_revision is not None:
            report.state_counts = state.table_counts()
            report.recent_loads = state.loads(limit=recent)
        else:
            report.initialised = False
    return report


def _masked(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
