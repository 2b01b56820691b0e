"""``aftersale ingest KIND PATH``: load files into the warehouse with a load report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

__all__ = ["register"]

KINDS = ("customers", "products", "orders", "order-lines", "events", "consents")


def ingest(
    ctx: typer.Context,
    kind: Annotated[str, typer.Argument(help=f"What the files hold: {', '.join(KINDS)}.")],
    paths: Annotated[list[str], typer.Argument(help="Files, folders or globs.")],
    source_format: Annotated[
        str | None,
        typer.Option(
            "--format",
            "-f",
            help="csv, parquet, jsonl, shopify or segment (default: from the name).",
        ),
    ] = None,
    maps: Annotated[
        list[str] | None,
        typer.Option("--map", "-m", help="target=source column mapping; repeat for more."),
    ] = None,
    mapping: Annotated[
        Path | None, typer.Option("--mapping", help="TOML mapping file ([columns], [options]).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the load report as JSON.")] = False,
    strict: Annotated[
        bool, typer.Option("--strict", help="Exit 6 when any row was quarantined.")
    ] = False,
) -> None:
    """Load files; bad rows go to quarantine with their file, row, field and reason."""
    from aftersale.cli.progress import progress_bar
    from aftersale.cli.render import load_report_table
    from aftersale.ingestion.mapping import parse_map_flags
    from aftersale.services.ingest import ingest as ingest_files

    if kind not in (*KINDS, "order_lines"):
        raise typer.BadParameter(f"{kind!r} is not one of {', '.join(KINDS)}", param_hint="KIND")
    columns = parse_map_flags(maps or [])
    with progress_bar(enabled=not as_json) as progress:
        report = ingest_files(
            kind,
            paths,
            source_format=source_format,
            columns=columns,
            mapping=mapping,
            settings=ctx.obj.settings(),
            progress=progress,
        )
    if as_json:
        typer.echo(report.to_json())
    else:
        ctx.obj.console.print(load_report_table(report))
    if strict and report.rows_quarantined:
        raise typer.Exit(6)


def register(app: typer.Typer) -> None:
    """Add the command to the app."""
    app.command(
        "ingest", help="Load customers, products, orders, order lines, events or consents."
    )(ingest)
