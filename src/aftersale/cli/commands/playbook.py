"""``aftersale playbook validate|schema``: check playbook files, export the JSON Schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

__all__ = ["playbook_app", "register"]

playbook_app = typer.Typer(
    name="playbook",
    help="Check playbook files and export the playbook JSON Schema.",
    no_args_is_help=True,
)


@playbook_app.command("validate")
def validate(
    ctx: typer.Context,
    files: Annotated[list[Path], typer.Argument(help="Playbook YAML files.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False,
) -> None:
    """Report every problem in each file (file:line:column, play, field, what is wrong)."""
    from aftersale.errors import PlaybookError
    from aftersale.features.definitions import standard_registry
    from aftersale.playbooks import validate_playbook
    from aftersale.segments.config import load_segmentation

    rules = load_segmentation(ctx.obj.settings().segmentation.file)
    registry = standard_registry(rules.signals)
    report: list[dict[str, Any]] = []
    problems_total = 0
    for file in files:
        playbook, problems = validate_playbook(file, registry)
        problems_total += len(problems)
        report.append(
            {
                "file": str(file),
                "valid": playbook is not None,
                "plays": len(playbook.plays) if playbook else None,
                "problems": [
                    {
                        "line": p.line,
                        "column": p.column,
                        "play": p.play_id,
                        "field": p.pointer,
                        "message": p.message,
                        "text": str(p),
                    }
                    for p in problems
                ],
            }
        )
    if as_json:
        typer.echo(json.dumps(report, indent=2))
    else:
        console = ctx.obj.console
        for entry in report:
            if entry["valid"]:
                console.print(f"[green]ok[/] {entry['file']}: {entry['plays']} plays")
            for problem in entry["problems"]:
                console.print(problem["text"], highlight=False, soft_wrap=True)
    if problems_total:
        raise PlaybookError(f"{problems_total} problem(s) in {len(files)} playbook file(s)")


@playbook_app.command("schema")
def schema(
    out: Annotated[
        Path | None, typer.Option("--out", help="Write to this file instead of stdout.")
    ] = None,
) -> None:
    """Print the JSON Schema of playbook files (point your editor's YAML support at it)."""
    from aftersale.playbooks import json_schema

    text = json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")


def register(app: typer.Typer) -> None:
    """Add the ``playbook`` sub-app to the app."""
    app.add_typer(playbook_app, name="playbook")
