"""``aftersale decide``, ``aftersale why`` and ``aftersale backtest``: the decision engine."""

from __future__ import annotations

import csv
import json
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

from aftersale.cli.commands.models import AsJson, AsOf
from aftersale.cli.commands.segment import _parse_as_of

__all__ = ["register"]


def decide(
    ctx: typer.Context,
    as_of: AsOf = None,
    customers: Annotated[
        list[str] | None,
        typer.Option("--customer", help="Decide only for this customer (repeatable)."),
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Run one decision pass at the snapshot's as_of and store decisions, outbox and journeys."""
    from aftersale.cli.progress import progress_bar
    from aftersale.services.decisions import run_decisions

    with progress_bar(enabled=not as_json) as progress:
        result = run_decisions(
            ctx.obj.settings(), _parse_as_of(as_of), customer_ids=customers, progress=progress
        )
    data = result.to_dict()
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    print_pass(ctx.obj.console, data)


def print_pass(console: Any, data: dict[str, Any]) -> None:
    """One pass as a line of counts and tables by play and by gate."""
    from rich.table import Table

    counts = data["counts"]
    since = data["since"] or "first pass"
    console.print(
        f"pass at {data['as_of']} ({data['mode']}, window from {since}, playbook "
        f"{data['playbook']}): {counts['send']:,} send, {counts['defer']:,} defer, "
        f"{counts['suppress']:,} suppress ({data['new_decisions']:,} new); "
        f"{counts['journeys_touched']:,} journeys moved, {counts['not_entered']:,} entries refused"
    )
    table = Table(title="decisions by play", title_justify="left")
    for column in ("play", "send", "defer", "suppress"):
        table.add_column(column, justify="left" if column == "play" else "right")
    for play, outcomes in data["by_play"].items():
        table.add_row(play, *(f"{outcomes.get(k, 0):,}" for k in ("send", "defer", "suppress")))
    console.print(table)
    if data["by_gate"]:
        gates = Table(title="suppressed or deferred, by gate", title_justify="left")
        gates.add_column("gate")
        gates.add_column("decisions", justify="right")
        for gate, n in data["by_gate"].items():
            gates.add_row(gate, f"{n:,}")
        console.print(gates)


def why(
    ctx: typer.Context,
    customer_id: Annotated[str, typer.Argument(help="The customer id.")],
    as_of: AsOf = None,
    as_json: AsJson = False,
) -> None:
    """Why a customer got what they got, and why not each other play."""
    from aftersale.services.decisions import why as explain_customer

    report = explain_customer(customer_id, _parse_as_of(as_of), ctx.obj.settings())
    if as_json:
        typer.echo(json.dumps(report.to_dict(), indent=2, default=str))
        return
    typer.echo(report.text(), nl=False)


def _parse_step(text: str) -> timedelta:
    from aftersale.errors import InvalidInputError
    from aftersale.playbooks.schema import parse_duration

    try:
        return parse_duration(text)
    except ValueError as exc:
        raise InvalidInputError(f"--step: {exc}") from exc


def backtest(
    ctx: typer.Context,
    start: Annotated[str, typer.Option("--from", help="First day (YYYY-MM-DD, UTC).")],
    end: Annotated[str, typer.Option("--to", help="Last day (YYYY-MM-DD, UTC).")],
    step: Annotated[str, typer.Option("--step", help="Time between passes: 1d, 12h...")] = "1d",
    out: Annotated[
        Path | None, typer.Option("--out", help="Write every decision to this CSV file.")
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Replay the decisions day by day on history, point in time; nothing is stored or sent."""
    from aftersale.cli.progress import progress_bar
    from aftersale.errors import InvalidInputError
    from aftersale.services.decisions import backtest as replay

    first, last = _parse_as_of(start), _parse_as_of(end)
    if first is None or last is None:
        raise InvalidInputError("--from and --to are required")
    with progress_bar(enabled=not as_json) as progress:
        report = replay(ctx.obj.settings(), first, last, _parse_step(step), progress=progress)
    if out is not None:
        write_decisions_csv(report.decisions.to_dicts(), out)
    data = report.to_dict()
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    _print_backtest(ctx.obj.console, data, out)


def write_decisions_csv(rows: list[dict[str, Any]], path: Path) -> None:
    """Decisions as a spreadsheet-safe CSV (formula-like text neutralised)."""
    from aftersale.domain.spreadsheet import neutralise

    path.parent.mkdir(parents=True, exist_ok=True)
    columns = list(rows[0]) if rows else ["customer_id", "play_id", "step_id", "outcome"]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: neutralise(_cell(v)) for k, v in row.items()})


def _cell(value: Any) -> Any:
    if isinstance(value, list):
        return ", ".join(map(str, value))
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def _print_backtest(console: Any, data: dict[str, Any], out: Path | None) -> None:
    from rich.table import Table

    outcomes = data["by_outcome"]
    busiest = data["busiest"]
    console.print(
        f"backtest {data['start'][:10]} to {data['end'][:10]} ({data['days']} passes, "
        f"{data['customers']:,} customers): " + ", ".join(f"{n:,} {k}" for k, n in outcomes.items())
        + f"; at most {busiest['max_per_week']:.0f} messages to one customer in a week"
    )  # fmt: skip
    table = Table(title="messages per customer per week", title_justify="left")
    for column in ("play", "channel", "messages", "per customer-week"):
        table.add_column(column, justify="left" if column in ("play", "channel") else "right")
    for row in data["per_customer_week"]:
        table.add_row(
            row["play_id"], str(row["channel"]), f"{row['messages']:,}",
            f"{row['per_customer_week']:.4f}",
        )  # fmt: skip
    console.print(table)
    gates = Table(title="cap hits, quiet-hour deferrals and suppressions, by gate",
                  title_justify="left")  # fmt: skip
    gates.add_column("gate")
    gates.add_column("decisions", justify="right")
    for gate, n in data["by_gate"].items():
        gates.add_row(gate, f"{n:,}")
    console.print(gates)
    if out is not None:
        console.print(f"every decision written to {out}")


def register(app: typer.Typer) -> None:
    """Add ``decide``, ``why`` and ``backtest`` to the app."""
    app.command("decide")(decide)
    app.command("why")(why)
    app.command("backtest")(backtest)
