"""``aftersale demo``: the main job end to end on the embedded stores (no server)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

__all__ = ["register"]


def demo(
    ctx: typer.Context,
    directory: Annotated[Path, typer.Option("--dir", help="Project folder to create.")] = Path(
        "demo"
    ),
    customers: Annotated[int, typer.Option(min=1, help="Customers to simulate.")] = 20_000,
    days: Annotated[int, typer.Option(min=1, help="Days to simulate.")] = 365,
    seed: Annotated[int, typer.Option(min=0, help="Random seed.")] = 7,
) -> None:
    """Simulate a store, load it into DuckDB + SQLite, print each load report and what is stored."""
    from aftersale.cli.commands.segment import print_summary
    from aftersale.cli.progress import progress_bar
    from aftersale.cli.render import load_report_table, stored_table
    from aftersale.ingestion.report import LoadReport
    from aftersale.services.demo import run_demo

    console = ctx.obj.console

    def show(report: LoadReport) -> None:
        console.print(load_report_table(report))

    with progress_bar() as progress:
        result = run_demo(
            directory, customers=customers, days=days, seed=seed, progress=progress, on_report=show
        )
    console.print(stored_table(result.stored))
    if result.invoice_export is not None:
        export = result.invoice_export
        console.print(
            f"Invoice-style export of the same store (project {result.directory}/invoice-export): "
            f"{export.rows_read:,} lines read, {export.rows_duplicate:,} duplicates, "
            f"{export.notes['cancelled_orders']:,} cancellations, "
            f"{export.notes['guest_orders']:,} guest orders, "
            f"{sum(v for k, v in export.notes.items() if k.startswith('non_product_lines')):,} "
            "non-product lines, "
            f"{export.rows_quarantined:,} quarantined (see them with `aftersale --config "
            f"{result.directory}/invoice-export/aftersale.toml quarantine`)."
        )
    if result.segments is not None:
        print_summary(console, result.segments.to_dict())
    if result.decisions is not None:
        from aftersale.cli.commands.decide import print_pass

        print_pass(console, result.decisions.to_dict())
    reload = result.reload
    if reload is not None:
        changed = reload.rows_loaded + reload.rows_merged
        console.print(
            f"Re-loading orders.csv: {reload.rows_unchanged:,} rows unchanged, {changed} changed."
        )
    console.print(
        f"Project in {result.directory}; "
        f"try `aftersale --config {result.directory}/aftersale.toml status` or "
        f"`aftersale --config {result.directory}/aftersale.toml profile C0000001`."
    )


def register(app: typer.Typer) -> None:
    """Add the command to the app."""
    app.command("demo", help="Run the main job: simulate a store and load it end to end.")(demo)
