"""``aftersale status``: what is stored, counts by table, the last loads."""

from __future__ import annotations

import json
from typing import Annotated

import typer

__all__ = ["register"]


def status(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
    recent: Annotated[int, typer.Option(min=1, help="How many recent loads to list.")] = 5,
) -> None:
    """Show where data lives, row counts per table and the most recent loads."""
    from aftersale.cli.render import status_tables
    from aftersale.services.project import project_status

    report = project_status(ctx.obj.settings(), recent=recent)
    if as_json:
        typer.echo(json.dumps(report.to_dict(), indent=2))
    else:
        ctx.obj.console.print(status_tables(report))


def register(app: typer.Typer) -> None:
    """Add the command to the app."""
    app.command("status", help="Show what is stored: counts by table and the last loads.")(status)
