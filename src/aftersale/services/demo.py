"""The main job: simulate a store, create a project, load every file, re-load one, segment it,
decide the first messages.

Used by ``aftersale demo`` (and ``make demo``). The re-load at the end shows that loading the
same data twice changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from aftersale.clock import Clock, SystemClock
from aftersale.config import load_settings
from aftersale.ingestion.report import LoadReport
from aftersale.services.decisions import DecisionPass, run_decisions
from aftersale.services.ingest import ingest
from aftersale.services.project import init_project
from aftersale.services.segments import SnapshotResult, snapshot
from aftersale.simulator import SimulationResult, SimulationSpec, simulate_store
from aftersale.store.warehouse import Warehouse

__all__ = ["DEMO_LOADS", "DemoResult", "run_demo"]

# (kind, file written by the simulator), in dependency order.
DEMO_LOADS: tuple[tuple[str, str], ...] = (
    ("products", "products.csv"),
    ("customers", "customers.csv"),
    ("orders", "orders.csv"),
    ("order-lines", "order_lines.csv"),
    ("events", "events.jsonl"),
    ("consents", "consents.csv"),
)


@dataclass(slots=True)
class DemoResult:
    """Everything the demo produced."""

    directory: Path
    simulation: SimulationResult
    reports: list[LoadReport] = field(default_factory=list)
    reload: LoadReport | None = None
    stored: dict[str, int] = field(default_factory=dict)
    invoice_export: LoadReport | None = None
    segments: SnapshotResult | None = None
    decisions: DecisionPass | None = None


def run_demo(
    directory: Path | str,
    customers: int = 20_000,
    days: int = 365,
    seed: int = 7,
    clock: Clock | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    on_report: Callable[[LoadReport], None] | None = None,
) -> DemoResult:
    """Simulate ``customers`` over ``days`` into ``directory/data`` and load it into a project."""
    root = Path(directory)
    clock = clock or SystemClock()
    spec = SimulationSpec(
        customers=customers, days=days, seed=seed, formats=frozenset({"csv", "jsonl", "invoices"})
    )
    simulation = simulate_store(spec, root / "data", progress=progress)
    init = init_project(root)
    settings = load_settings(init.config_path)
    result = DemoResult(root, simulation)
    for kind, name in DEMO_LOADS:
        report = ingest(
            kind, simulation.path(name), settings=settings, clock=clock, progress=progress
        )
        result.reports.append(report)
        if on_report:
            on_report(report)
    result.reload = ingest(
        "orders", simulation.path("orders.csv"), settings=settings, clock=clock, progress=progress
    )
    if on_report:
        on_report(result.reload)
    with Warehouse(settings.warehouse) as warehouse:
        result.stored = warehouse.counts()
    result.segments = snapshot(settings, clock=clock, progress=progress)
    # The first decision pass with the default playbook (stored; delivery is a later step).
    result.decisions = run_decisions(settings, clock=clock, progress=progress)
    # The same store's invoice-style export, with the mess real exports have, in a project of
    # its own: cancellations, guests, postage and fee lines, duplicates, stray whitespace.
    export = init_project(root / "invoice-export")
    result.invoice_export = ingest(
        "orders",
        simulation.path("invoices.csv"),
        mapping=simulation.path("invoices.mapping.toml"),
        settings=load_settings(export.config_path),
        clock=clock,
        progress=progress,
    )
    if on_report:
        on_report(result.invoice_export)
    return result
