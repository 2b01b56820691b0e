"""``aftersale init``: create a project in a folder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

__all__ = ["register"]


def init(
    ctx: typer.Context,
    directory: Annotated[Path, typer.Argument(help="Project folder (created if missing).")] = Path(
        "."
    ),
) -> None:
    """Create aftersale.toml, the warehouse tables and the state schema (safe to rerun)."""
    from aftersale.config import load_settings
    from aftersale.services.project import init_project

    obj = ctx.obj
    settings = load_settings(obj.config) if obj.config else None
    result = init_project(directory, settings)
    console = obj.console
    if result.config_written:
        console.print(f"wrote {result.config_path}")
    console.print(
        f"warehouse {result.warehouse}: "
        + (f"created {', '.join(result.tables_created)}" if result.tables_created else "up to date")
    )
    console.print(f"state schema at revision {result.state_revision}")


def register(app: typer.Typer) -> None:
    """Add the command to the app."""
    app.command("init", help="Create a project: settings file, warehouse tables, state schema.")(
        init
    )
