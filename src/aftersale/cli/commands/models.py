"""``aftersale models fit|evaluate``: fit the customer-base models, judge them on a holdout."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from rich.table import Table

__all__ = ["models_app", "register"]

models_app = typer.Typer(
    name="models",
    help="Fit the purchase and spend models on the warehouse and check them on a holdout.",
    no_args_is_help=True,
)

AsOf = Annotated[
    str | None,
    typer.Option(
        "--as-of",
        help="Cut-off date (YYYY-MM-DD or ISO time, UTC if no offset); default the day after "
        "the latest order.",
    ),
]
TimeUnitOpt = Annotated[
    str, typer.Option("--time-unit", help="Time unit of recency/T and the parameters: W or D.")
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]


def _parse_as_of(value: str | None) -> datetime | None:
    from aftersale.errors import InvalidInputError

    if value is None:
        return None
    try:
        return datetime.fromisoformat(value.strip())
    except ValueError as exc:
        raise InvalidInputError(
            f"--as-of {value!r} is not a date; use YYYY-MM-DD or an ISO 8601 time"
        ) from exc


def _check_time_unit(value: str) -> str:
    from aftersale.errors import InvalidInputError

    unit = value.strip().upper()
    if unit not in ("W", "D"):
        raise InvalidInputError(f"--time-unit must be W (weeks) or D (days); got {value!r}")
    return unit


def _fmt(value: Any, digits: int = 4) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}"


def _params_table(model: dict[str, Any]) -> Table:
    from rich.table import Table

    title = f"{model['class']} ({model['role']})"
    table = Table(title=title, title_justify="left")
    for col in ("parameter", "estimate", "std. error"):
        table.add_column(col, justify="left" if col == "parameter" else "right")
    for name, values in model["params"].items():
        table.add_row(name, _fmt(values["coef"]), _fmt(values["se"]))
    return table


def _print_model(console: Any, model: dict[str, Any]) -> None:
    console.print(_params_table(model))
    console.print(
        f"model used {model['model_used']}, log-likelihood {_fmt(model['log_likelihood'], 3)}"
    )


@models_app.command("fit")
def fit(
    ctx: typer.Context,
    as_of: AsOf = None,
    time_unit: TimeUnitOpt = "W",
    as_json: AsJson = False,
) -> None:
    """Fit BG/NBD and Gamma-Gamma on all orders before --as-of and save them as JSON."""
    from aftersale.services.models import fit_models

    moment = _parse_as_of(as_of)
    unit = _check_time_unit(time_unit)
    result = fit_models(ctx.obj.settings(), as_of=moment, time_unit=unit)
    data = result.to_dict()
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    console = ctx.obj.console
    window = data["window"]
    console.print(
        f"as of {window['as_of']}: {window['n_customers']:,} customers, "
        f"{data['n_repeat_buyers']:,} repeat buyers (time unit {window['time_unit']})"
    )
    for model in data["models"]:
        _print_model(console, model)
        console.print(f"saved {model['path']}")
    for message in data["warnings"]:
        console.print(f"[yellow]warning:[/] {message}")


@models_app.command("evaluate")
def evaluate(
    ctx: typer.Context,
    as_of: AsOf = None,
    holdout_weeks: Annotated[
        int | None,
        typer.Option(
            "--holdout-weeks",
            help="Weeks before --as-of held out for the check; default a third of the history.",
        ),
    ] = None,
    time_unit: TimeUnitOpt = "W",
    as_json: AsJson = False,
) -> None:
    """Fit BG/NBD before the holdout, compare its forecast with what customers bought."""
    from rich.table import Table

    from aftersale.errors import InvalidInputError
    from aftersale.services.models import evaluate_models

    moment = _parse_as_of(as_of)
    unit = _check_time_unit(time_unit)
    if holdout_weeks is not None and holdout_weeks < 1:
        raise InvalidInputError(f"--holdout-weeks must be at least 1; got {holdout_weeks}")
    result = evaluate_models(
        ctx.obj.settings(), as_of=moment, holdout_weeks=holdout_weeks, time_unit=unit
    )
    data = result.to_dict()
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    console = ctx.obj.console
    window, ev = data["window"], data["evaluation"]
    console.print(
        f"calibration to {window['calibration_end']}, holdout {data['holdout_weeks']} weeks to "
        f"{window['observation_end']}: {window['n_customers']:,} customers"
    )
    _print_model(console, data["model"])
    buckets = Table(
        title="Repeat purchases in the holdout, by calibration repeat purchases",
        title_justify="left",
    )
    for col in ("bucket", "customers", "actual mean", "predicted mean", "naive mean"):
        buckets.add_column(col, justify="right")
    for row in ev["buckets"]:
        buckets.add_row(
            row["bucket"],
            f"{row['n_customers']:,}",
            _fmt(row["actual_mean"], 3),
            _fmt(row["predicted_mean"], 3),
            _fmt(row["naive_mean"], 3),
        )
    buckets.add_section()
    buckets.add_row(
        "total",
        f"{ev['n_customers']:,}",
        _fmt(ev["actual_total"], 1),
        _fmt(ev["predicted_total"], 1),
        _fmt(ev["naive_total"], 1),
    )
    console.print(buckets)
    errors = Table(title="Per-customer error", title_justify="left")
    for col in ("", "model", "naive baseline"):
        errors.add_column(col, justify="right")
    errors.add_row("MAE", _fmt(ev["mae"], 3), _fmt(ev["naive_mae"], 3))
    errors.add_row("RMSE", _fmt(ev["rmse"], 3), _fmt(ev["naive_rmse"], 3))
    console.print(errors)
    verdict = "beats" if ev["beats_naive"] else "does NOT beat"
    console.print(f"the model {verdict} the naive baseline on MAE")
    console.print(f"saved {data['model']['path']}")
    console.print(f"saved {data['report_path']}")
    console.print(f"saved {data['chart_path']}")
    for message in data["warnings"]:
        console.print(f"[yellow]warning:[/] {message}")


def register(app: typer.Typer) -> None:
    """Add the ``models`` sub-app to the app."""
    app.add_typer(models_app, name="models")
