"""Model use-cases: fit the customer-base models on the warehouse and judge them on a holdout.

``fit_models`` builds the point-in-time RFM summary from the warehouse's orders table, fits
BG/NBD (purchase counts and dropout, with its fallbacks) and Gamma-Gamma (spend per repeat
purchase, in the orders' minor units) and saves both as JSON. ``evaluate_models`` splits the
history at ``as_of - holdout_weeks``, fits BG/NBD on the calibration part, compares its forecast
with what customers bought in the holdout (``aftersale.models.evaluation``) and writes the
numbers as JSON and the calibration chart as PNG. Files go to ``<warehouse folder>/models/``
unless ``out_dir`` says otherwise. ``as_of`` defaults to the day after the latest order, so
results depend only on the data, never on the wall clock.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from aftersale.config import Settings, load_settings
from aftersale.errors import InvalidInputError
from aftersale.features import calibration_holdout, rfm_summary
from aftersale.models import BaseModel, BetaGeoModel, GammaGammaModel, ModelWarning
from aftersale.models.evaluation import HoldoutEvaluation, calibration_chart, evaluate_holdout
from aftersale.models.persistence import DataWindow, save_model
from aftersale.store.warehouse import Warehouse

__all__ = ["EvaluateResult", "FitResult", "FittedModel", "evaluate_models", "fit_models"]

TimeUnitName = Literal["W", "D"]
_UNIT_DAYS = {"W": 7.0, "D": 1.0}


@dataclass(slots=True)
class FittedModel:
    """One saved model: what it is, what serves predictions, its parameters and file."""

    role: str
    model: BaseModel
    path: Path

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: class, model used, log-likelihood, parameters with SEs."""
        summary = self.model.summary()
        return {
            "role": self.role,
            "class": type(self.model).__name__,
            "model_used": self.model.model_used_,
            "log_likelihood": _plain(self.model.log_likelihood_),
            "params": {
                str(name): {"coef": _plain(row["coef"]), "se": _plain(row["se"])}
                for name, row in summary.iterrows()
            },
            "path": str(self.path),
        }


@dataclass(slots=True)
class FitResult:
    """What ``models fit`` did: the data window, the models and the files written."""

    window: DataWindow
    n_repeat_buyers: int
    models: list[FittedModel]
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "window": self.window.to_dict(),
            "n_repeat_buyers": self.n_repeat_buyers,
            "models": [m.to_dict() for m in self.models],
            "warnings": self.warnings,
        }


@dataclass(slots=True)
class EvaluateResult:
    """What ``models evaluate`` did: the split, the calibration fit, the holdout comparison."""

    window: DataWindow
    holdout_weeks: int
    model: FittedModel
    evaluation: HoldoutEvaluation
    report_path: Path
    chart_path: Path
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "window": self.window.to_dict(),
            "holdout_weeks": self.holdout_weeks,
            "model": self.model.to_dict(),
            "evaluation": self.evaluation.to_dict(),
            "report_path": str(self.report_path),
            "chart_path": str(self.chart_path),
            "warnings": self.warnings,
        }


def _plain(value: Any) -> float | None:
    number = float(value)
    return number if pd.notna(number) else None


def _check_unit(time_unit: str) -> TimeUnitName:
    if time_unit not in _UNIT_DAYS:
        raise InvalidInputError(f"'time_unit' must be W (weeks) or D (days); got {time_unit!r}")
    return "W" if time_unit == "W" else "D"


def _utc(value: datetime, name: str) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    if value.utcoffset() is None:
        raise InvalidInputError(f"'{name}' has an invalid time zone: {value.isoformat()}")
    return value.astimezone(UTC)


def _order_span(warehouse: Warehouse) -> tuple[datetime, datetime]:
    """First and last order time in the warehouse; a clear error when there are none."""
    orders = warehouse.table("orders")
    span = warehouse.to_polars(
        orders.aggregate(first=orders.ordered_at.min(), last=orders.ordered_at.max())
    )
    first, last = span["first"][0], span["last"][0]
    if first is None or last is None:
        raise InvalidInputError(
            f"the warehouse at {warehouse.location} holds no orders; load some with "
            "`aftersale ingest orders <file>` first"
        )
    return _utc(first, "first order"), _utc(last, "last order")


def _resolve_as_of(as_of: datetime | None, first: datetime, last: datetime) -> datetime:
    """``as_of`` in UTC; by default midnight after the latest order's UTC day."""
    if as_of is None:
        day = last.replace(hour=0, minute=0, second=0, microsecond=0)
        return day + timedelta(days=1)
    moment = _utc(as_of, "as_of")
    if moment <= first:
        raise InvalidInputError(
            f"'as_of' {moment.isoformat()} is not after the first order ({first.isoformat()}); "
            "nothing would be observed"
        )
    return moment


def _out_dir(settings: Settings, out_dir: Path | str | None) -> Path:
    folder = Path(out_dir) if out_dir is not None else settings.warehouse.path.parent / "models"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _fit_count_model(frame: pd.DataFrame, messages: list[str]) -> BetaGeoModel:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ModelWarning)
        model = BetaGeoModel().fit(frame["frequency"], frame["recency"], frame["T"])
    messages.extend(str(w.message) for w in caught if issubclass(w.category, ModelWarning))
    return model


def fit_models(
    settings: Settings | None = None,
    as_of: datetime | None = None,
    holdout_weeks: int | None = None,
    time_unit: str = "W",
    out_dir: Path | str | None = None,
) -> FitResult:
    """Fit BG/NBD and Gamma-Gamma on every order before ``as_of`` and save them as JSON.

    ``holdout_weeks`` is accepted for symmetry with :func:`evaluate_models` and must be None:
    the production fit uses all the history (evaluate first, then fit).
    """
    if holdout_weeks is not None:
        raise InvalidInputError(
            "'holdout_weeks' applies to evaluate_models; fit_models uses the whole history"
        )
    unit = _check_unit(time_unit)
    settings = settings or load_settings()
    with Warehouse(settings.warehouse) as warehouse:
        warehouse.require_initialised()
        first, last = _order_span(warehouse)
        moment = _resolve_as_of(as_of, first, last)
        summary = warehouse.to_polars(rfm_summary(warehouse.table("orders"), moment, unit))
    frame = summary.to_pandas()
    if frame.empty:
        raise InvalidInputError(
            f"no purchases before as_of {moment.isoformat()}; choose a later --as-of"
        )
    messages: list[str] = []
    window = DataWindow(as_of=moment, time_unit=unit, n_customers=len(frame))
    folder = _out_dir(settings, out_dir)
    count_model = _fit_count_model(frame, messages)
    fitted = [
        FittedModel(
            "purchases",
            count_model,
            save_model(count_model, folder / "bgnbd.json", window=window),
        )
    ]
    repeaters = frame[frame["frequency"] > 0]
    if repeaters.empty:
        messages.append("no repeat buyers: the spend model (Gamma-Gamma) was not fitted")
    else:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ModelWarning)
            spend = GammaGammaModel().fit(repeaters["frequency"], repeaters["monetary_value"])
        messages.extend(str(w.message) for w in caught if issubclass(w.category, ModelWarning))
        path = save_model(spend, folder / "gamma_gamma.json", window=window)
        fitted.append(FittedModel("spend", spend, path))
    return FitResult(window, len(repeaters), fitted, messages)


def _default_holdout_weeks(first: datetime, as_of: datetime) -> int:
    """A third of the observed history, in whole weeks (at least one)."""
    return max(1, int((as_of - first).days / 7 / 3))


def evaluate_models(
    settings: Settings | None = None,
    as_of: datetime | None = None,
    holdout_weeks: int | None = None,
    time_unit: str = "W",
    out_dir: Path | str | None = None,
) -> EvaluateResult:
    """Fit BG/NBD on history before ``as_of - holdout_weeks`` and judge it on the rest.

    ``holdout_weeks`` defaults to a third of the history (whole weeks). Writes
    ``bgnbd_calibration.json`` (the calibration model), ``evaluation.json`` (the comparison)
    and ``evaluation.png`` (the chart).
    """
    unit = _check_unit(time_unit)
    if holdout_weeks is not None and holdout_weeks < 1:
        raise InvalidInputError(f"'holdout_weeks' must be at least 1; got {holdout_weeks}")
    settings = settings or load_settings()
    with Warehouse(settings.warehouse) as warehouse:
        warehouse.require_initialised()
        first, last = _order_span(warehouse)
        moment = _resolve_as_of(as_of, first, last)
        weeks = holdout_weeks or _default_holdout_weeks(first, moment)
        calibration_end = moment - timedelta(weeks=weeks)
        if calibration_end <= first:
            raise InvalidInputError(
                f"'holdout_weeks' {weeks} leaves no calibration period: the first order is "
                f"{first.date()} and the holdout would start {calibration_end.date()}"
            )
        table = calibration_holdout(warehouse.table("orders"), calibration_end, moment, unit)
        frame = warehouse.to_polars(table).to_pandas()
    if frame.empty:
        raise InvalidInputError("no purchases in the calibration period; use fewer holdout weeks")
    messages: list[str] = []
    window = DataWindow(
        as_of=calibration_end,
        calibration_end=calibration_end,
        observation_end=moment,
        time_unit=unit,
        n_customers=len(frame),
    )
    folder = _out_dir(settings, out_dir)
    model = _fit_count_model(frame, messages)
    model_path = save_model(model, folder / "bgnbd_calibration.json", window=window)
    evaluation = evaluate_holdout(model, frame)
    chart = calibration_chart(
        evaluation,
        folder / "evaluation.png",
        title=f"Holdout {calibration_end.date()} to {moment.date()}: predicted vs actual",
        time_label=f"{weeks}-week holdout",
    )
    report = folder / "evaluation.json"
    result = EvaluateResult(
        window,
        weeks,
        FittedModel("purchases", model, model_path),
        evaluation,
        report,
        chart,
        messages,
    )
    report.write_text(json.dumps(result.to_dict(), indent=2) + "\n", encoding="utf-8")
    return result
