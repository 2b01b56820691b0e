"""``aftersale simulate``: write a synthetic store and its hidden ground truth."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

__all__ = ["register"]


def simulate(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder to write into.")],
    customers: Annotated[int, typer.Option(min=1, help="Number of customers.")] = 20_000,
    days: Annotated[int, typer.Option(min=1, help="Length of the period in days.")] = 365,
    seed: Annotated[
        int, typer.Option(min=0, help="Random seed: the same seed gives the same files.")
    ] = 0,
    start: Annotated[
        str, typer.Option(help="First day of the period (YYYY-MM-DD, UTC).")
    ] = "2025-01-01",
    formats: Annotated[
        list[str] | None,
        typer.Option(
            "--format",
            help="Formats to write (repeat): csv, invoices, jsonl, parquet, shopify; default all.",
        ),
    ] = None,
    currency: Annotated[
        list[str] | None, typer.Option(help="Currencies used (repeat); default GBP.")
    ] = None,
) -> None:
    """Simulate a store (products, customers, orders, events, consents) with hidden truth."""
    from aftersale.cli.progress import progress_bar
    from aftersale.simulator import SimulationSpec, simulate_store
    from aftersale.simulator.spec import FORMATS

    spec = SimulationSpec(
        customers=customers,
        days=days,
        seed=seed,
        start=start,
        formats=frozenset(formats) if formats else frozenset(FORMATS),
        currencies=tuple(currency) if currency else ("GBP",),
    )
    with progress_bar() as progress:
        result = simulate_store(spec, out, progress=progress)
    table = Table(title=f"Simulated store in {out}", title_justify="left")
    table.add_column("file")
    table.add_column("rows", justify="right")
    for name, rows in sorted(result.row_counts.items()):
        table.add_row(name, f"{rows:,}")
    ctx.obj.console.print(table)


def register(app: typer.Typer) -> None:
    """Add the command to the app."""
    app.command("simulate", help="Write a synthetic store and its hidden ground truth.")(simulate)
