"""aftersale: post-purchase segmentation and retention, from orders and events to measured uplift.

The public API is re-exported here and loaded on first use, so ``import aftersale`` stays cheap::

    import aftersale

    settings = aftersale.load_settings()            # ./aftersale.toml + AFTERSALE_* variables
    aftersale.init_project(".")                      # warehouse tables + state schema
    report = aftersale.ingest("orders", "exports/orders.csv")
    print(report.rows_loaded, report.quarantined)
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from aftersale._version import __version__

_EXPORTS: dict[str, str] = {
    "AftersaleError": "aftersale.errors",
    "Clock": "aftersale.clock",
    "ConfigError": "aftersale.errors",
    "FixedClock": "aftersale.clock",
    "InvalidInputError": "aftersale.errors",
    "LoadReport": "aftersale.ingestion.report",
    "Mapping": "aftersale.ingestion.mapping",
    "MappingOptions": "aftersale.ingestion.mapping",
    "NotFittedError": "aftersale.errors",
    "SchemaError": "aftersale.errors",
    "Settings": "aftersale.config",
    "SimulationResult": "aftersale.simulator",
    "SimulationSpec": "aftersale.simulator",
    "SourceReadError": "aftersale.errors",
    "StateStore": "aftersale.store.state",
    "StorageError": "aftersale.errors",
    "SystemClock": "aftersale.clock",
    "Warehouse": "aftersale.store.warehouse",
    "Explanation": "aftersale.segments",
    "BacktestReport": "aftersale.services.decisions",
    "DecisionPass": "aftersale.services.decisions",
    "Engine": "aftersale.services.decisions",
    "Policy": "aftersale.decisions",
    "WhyReport": "aftersale.services.decisions",
    "backtest": "aftersale.services.decisions",
    "decide": "aftersale.decisions",
    "default_playbook": "aftersale.playbooks",
    "load_playbook": "aftersale.playbooks",
    "run_decisions": "aftersale.services.decisions",
    "why": "aftersale.services.decisions",
    "FeatureRegistry": "aftersale.features.registry",
    "Profile": "aftersale.services.segments",
    "SegmentationConfig": "aftersale.segments",
    "SnapshotResult": "aftersale.services.segments",
    "explain": "aftersale.services.segments",
    "export_csv": "aftersale.services.quarantine",
    "ingest": "aftersale.services.ingest",
    "init_project": "aftersale.services.project",
    "load_mapping": "aftersale.ingestion.mapping",
    "load_segmentation": "aftersale.segments",
    "load_settings": "aftersale.config",
    "profile": "aftersale.services.segments",
    "project_status": "aftersale.services.project",
    "quarantined_rows": "aftersale.services.quarantine",
    "run_demo": "aftersale.services.demo",
    "simulate_store": "aftersale.simulator",
    "snapshot": "aftersale.services.segments",
    "standard_registry": "aftersale.features.definitions",
}

__all__ = sorted([*_EXPORTS, "__version__"])


def __getattr__(name: str) -> Any:
    """Load a public name from its module on first access."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'aftersale' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:  # pragma: no cover - for type checkers and editors only
    from aftersale.clock import Clock, FixedClock, SystemClock
    from aftersale.config import Settings, load_settings
    from aftersale.decisions import Policy, decide
    from aftersale.errors import (
        AftersaleError,
        ConfigError,
        InvalidInputError,
        NotFittedError,
        SchemaError,
        SourceReadError,
        StorageError,
    )
    from aftersale.features.definitions import standard_registry
    from aftersale.features.registry import FeatureRegistry
    from aftersale.ingestion.mapping import Mapping, MappingOptions, load_mapping
    from aftersale.ingestion.report import LoadReport
    from aftersale.playbooks import default_playbook, load_playbook
    from aftersale.segments import Explanation, SegmentationConfig, load_segmentation
    from aftersale.services.decisions import (
        BacktestReport,
        DecisionPass,
        Engine,
        WhyReport,
        backtest,
        run_decisions,
        why,
    )
    from aftersale.services.demo import run_demo
    from aftersale.services.ingest import ingest
    from aftersale.services.project import init_project, project_status
    from aftersale.services.quarantine import export_csv, quarantined_rows
    from aftersale.services.segments import Profile, SnapshotResult, explain, profile, snapshot
    from aftersale.simulator import SimulationResult, SimulationSpec, simulate_store
    from aftersale.store.state import StateStore
    from aftersale.store.warehouse import Warehouse
