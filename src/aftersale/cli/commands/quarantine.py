"""``aftersale quarantine``: list quarantined rows or export them to CSV."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

__all__ = ["register"]


def quarantine(
    ctx: typer.Context,
    kind: Annotated[
        str | None, typer.Option(help="Only rows of this kind (orders, events …).")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="Rows to show.")] = 20,
    export: Annotated[
        Path | None, typer.Option(help="Write every matching row to this CSV file.")
    ] = None,
) -> None:
    """Show why rows were quarantined, with file, row, field and reason."""
    from aftersale.services.quarantine import export_csv, quarantined_rows

    settings = ctx.obj.settings()
    if export is not None:
        frame = quarantined_rows(settings, kind=kind)
        n = export_csv(frame, export)
        ctx.obj.console.print(f"wrote {n:,} quarantined rows to {export}")
        return
    frame = quarantined_rows(settings, kind=kind, limit=limit)
    table = Table(title=f"Quarantined rows (latest {limit})", title_justify="left")
    for col in ("file", "row", "kind", "field", "reason", "detail"):
        table.add_column(col, overflow="fold")
    for row in frame.iter_rows(named=True):
        table.add_row(
            str(row["source_file"]).rsplit("/", 1)[-1],
            str(row["row_number"]),
            row["kind"],
            row["field"] or "",
            row["reason"],
            row["detail"],
        )
    ctx.obj.console.print(table)


def register(app: typer.Typer) -> None:
    """Add the command to the app."""
    app.command("quarantine", help="List quarantined rows with their reasons, or export them.")(
        quarantine
    )
