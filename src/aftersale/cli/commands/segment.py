"""``aftersale segment`` and ``aftersale profile``: snapshot every customer, show one."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from aftersale.cli.commands.models import AsJson, AsOf
from aftersale.cli.commands.models import _parse_as_of as _parse


def _parse_as_of(value: str | None) -> datetime | None:
    """``--as-of`` as an aware time (UTC when the text has no offset)."""
    moment = _parse(value)
    if moment is not None and moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment


__all__ = ["register"]

_GRADE_STYLE = {"green": "green", "yellow": "yellow", "red": "red"}


def segment(
    ctx: typer.Context,
    as_of: AsOf = None,
    full: Annotated[
        bool, typer.Option("--full", help="Recompute every customer instead of refreshing.")
    ] = False,
    as_json: AsJson = False,
) -> None:
    """Compute features, segments, buyer slices and health grades for every customer."""
    from aftersale.cli.progress import progress_bar
    from aftersale.services.segments import snapshot

    moment = _parse_as_of(as_of)
    with progress_bar(enabled=not as_json) as progress:
        result = snapshot(ctx.obj.settings(), moment, incremental=not full, progress=progress)
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=2))
        return
    print_summary(ctx.obj.console, result.to_dict())


def print_summary(console: Any, data: dict[str, Any]) -> None:
    from rich.table import Table

    console.print(
        f"snapshot at {data['as_of']} ({data['mode']}): {data['customers']:,} customers, "
        f"{data['touched']:,} recomputed, {data['texts_classified']:,} new texts classified, "
        f"{data['health_changes']:,} health grade changes"
    )
    sizes = data["sizes"]
    total = max(data["customers"], 1)
    for name, counts in sizes.items():
        table = Table(title=name.replace("_", " "), title_justify="left")
        table.add_column("value")
        table.add_column("customers", justify="right")
        table.add_column("share", justify="right")
        for value, n in sorted(counts.items(), key=lambda kv: -kv[1]):
            table.add_row(value, f"{n:,}", f"{n / total:.1%}")
        console.print(table)
    grid = Table(title="slice × health", title_justify="left")
    grid.add_column("slice")
    for grade in ("green", "yellow", "red"):
        grid.add_column(f"[{_GRADE_STYLE[grade]}]{grade}[/]", justify="right")
    for slice_name, grades in data["slice_by_health"].items():
        grid.add_row(slice_name, *[f"{grades.get(g, 0):,}" for g in ("green", "yellow", "red")])
    console.print(grid)


def profile(
    ctx: typer.Context,
    customer_id: Annotated[str, typer.Argument(help="The customer id.")],
    as_of: AsOf = None,
    as_json: AsJson = False,
    all_features: Annotated[
        bool, typer.Option("--all", help="Show every feature, not only the main ones.")
    ] = False,
) -> None:
    """Show one customer's features, segments, slice and health with their reasons."""
    from aftersale.services.segments import profile as load_profile

    result = load_profile(customer_id, _parse_as_of(as_of), ctx.obj.settings())
    data = result.to_dict()
    if as_json:
        typer.echo(json.dumps(data, indent=2, default=str))
        return
    _print_profile(ctx.obj.console, data, all_features)


_MAIN_FEATURES = (
    "orders",
    "monetary_minor",
    "aov_minor",
    "recency_days",
    "tenure_days",
    "expected_gap_days",
    "discount_share",
    "value_vs_category_median",
    "first_offer_tier",
    "hours_to_first_win",
    "key_actions",
    "support_tickets",
    "days_of_silence",
    "survey_answer",
)


def _print_profile(console: Any, data: dict[str, Any], all_features: bool) -> None:
    from rich.console import Group
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    seg = data["segments"]
    reasons = data["reasons"]
    grade = str(seg["health_grade"])
    lines = Table.grid(padding=(0, 2))
    lines.add_column(style="bold")
    lines.add_column()
    style = _GRADE_STYLE.get(grade, "white")
    rows = [
        ("health", f"[{style}]{grade}[/] (score {seg['health_score']:.0f})", "health_grade"),
        ("slice", f"{seg['slice_label']} ({seg['slice_confidence']:.0%} confident)", "slice"),
        ("lifecycle", str(seg["lifecycle"]), "lifecycle"),
        ("RFM", f"{seg['rfm_cell']} (R{seg['rfm_r']} F{seg['rfm_f']} M{seg['rfm_m']})",
         "rfm_cell"),
        ("value tier", str(seg["value_tier"]), "value_tier"),
        ("persona", str(seg["persona"]), "persona"),
        ("top category", str(seg.get("top_category")), "top_category"),
    ]  # fmt: skip
    for label, value, key in rows:
        lines.add_row(label, value)
        for reason in reasons.get(key, []):
            lines.add_row("", Text(f"· {reason}", style="dim"))
    features = Table(title="features", title_justify="left", show_header=False)
    features.add_column("name")
    features.add_column("value", justify="right")
    shown = (
        data["features"] if all_features else {k: data["features"].get(k) for k in _MAIN_FEATURES}
    )
    for name, value in shown.items():
        if isinstance(value, float):
            value = f"{value:,.2f}"
        features.add_row(name, "—" if value is None else str(value))
    affinity = ", ".join(f"{c['category']} {c['smoothed_share']:.0%}" for c in data["categories"])
    body = Group(lines, Text(f"category affinity: {affinity or 'none'}"), features)
    console.print(Panel(body, title=f"{data['customer_id']} at {data['as_of']}"))


def register(app: typer.Typer) -> None:
    """Add ``segment`` and ``profile`` to the app."""
    app.command("segment")(segment)
    app.command("profile")(profile)
