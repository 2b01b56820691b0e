"""Fitted models saved as plain JSON (never pickles) and loaded back with identical predictions.

A file holds the format name and version, the aftersale version that wrote it, the data window
the model was fitted on (``as_of`` / ``calibration_end`` / ``observation_end``, time unit,
number of customers) and the model's state: class name, constructor settings, parameters,
standard errors, covariance, log-likelihood, ``model_used_`` and, for the purchase-count models,
the fitted RFM heuristic and fallback estimator that serve predictions. Floats are written with
``repr`` precision (exact round trip); NaN and infinities become ``null`` / ``"inf"`` /
``"-inf"`` so the file stays strict JSON. Only classes of ``aftersale.models`` are loaded, by
name, and files written by a newer format version are refused rather than misread.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from aftersale._version import __version__
from aftersale.errors import InvalidInputError
from aftersale.models._count_model import CountModel
from aftersale.models.base import BaseModel
from aftersale.models.bgbb import BetaGeoBetaBinomModel
from aftersale.models.bgnbd import BetaGeoModel
from aftersale.models.gamma_gamma import GammaGammaModel
from aftersale.models.heuristic import RfmHeuristicModel
from aftersale.models.mbgnbd import ModifiedBetaGeoModel
from aftersale.models.nbd import NBDModel
from aftersale.models.pareto_nbd import ParetoNBDModel
from aftersale.models.sbg import ShiftedBetaGeoModel

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "MODEL_CLASSES",
    "DataWindow",
    "SavedModel",
    "load_model",
    "load_saved_model",
    "model_from_state",
    "model_state",
    "save_model",
]

FORMAT_NAME = "aftersale.model"
FORMAT_VERSION = 1

MODEL_CLASSES: dict[str, type[BaseModel]] = {
    cls.__name__: cls
    for cls in (
        BetaGeoModel,
        ModifiedBetaGeoModel,
        ParetoNBDModel,
        NBDModel,
        RfmHeuristicModel,
        GammaGammaModel,
        BetaGeoBetaBinomModel,
        ShiftedBetaGeoModel,
    )
}

# Learned scalars beyond params/SEs that some models carry (restored when present).
_EXTRA_ATTRIBUTES = (
    "n_customers_",
    "n_repeat_buyers_",
    "n_periods_",
    "mean_spend_",
    "frequency_monetary_correlation_",
    "optimizer_",
)


@dataclass(frozen=True, slots=True)
class DataWindow:
    """The data a model was fitted on: cut-off dates, time unit and number of customers."""

    as_of: datetime | None = None
    calibration_end: datetime | None = None
    observation_end: datetime | None = None
    time_unit: str = "W"
    n_customers: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (dates as ISO 8601)."""
        return {
            "as_of": _iso(self.as_of),
            "calibration_end": _iso(self.calibration_end),
            "observation_end": _iso(self.observation_end),
            "time_unit": self.time_unit,
            "n_customers": self.n_customers,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DataWindow:
        """Inverse of :meth:`to_dict`."""
        return cls(
            as_of=_date(data.get("as_of")),
            calibration_end=_date(data.get("calibration_end")),
            observation_end=_date(data.get("observation_end")),
            time_unit=str(data.get("time_unit", "W")),
            n_customers=None if data.get("n_customers") is None else int(data["n_customers"]),
        )


@dataclass(frozen=True, slots=True)
class SavedModel:
    """What a model file holds: the model, its data window and who wrote it."""

    model: BaseModel
    window: DataWindow | None
    aftersale_version: str
    format_version: int


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _date(value: Any) -> datetime | None:
    return None if value is None else datetime.fromisoformat(str(value))


def _num(value: Any) -> float | str | None:
    """A float as strict JSON: exact finite values, ``None`` for NaN, strings for infinities."""
    number = float(value)
    if math.isnan(number):
        return None
    if math.isinf(number):
        return "inf" if number > 0 else "-inf"
    return number


def _float(value: Any) -> float:
    """Inverse of :func:`_num`."""
    return float("nan") if value is None else float(value)


def _series(values: pd.Series) -> dict[str, float | str | None]:
    return {str(k): _num(v) for k, v in values.items()}


def model_state(model: BaseModel) -> dict[str, Any]:
    """JSON-ready state of a fitted model (recursing into its heuristic and fallback)."""
    model.check_is_fitted("save_model()")
    name = type(model).__name__
    if name not in MODEL_CLASSES:
        raise InvalidInputError(
            f"{name} cannot be saved: supported models are {', '.join(sorted(MODEL_CLASSES))}"
        )
    assert model.params_ is not None
    cov = getattr(model, "covariance_", None)
    state: dict[str, Any] = {
        "class": name,
        "settings": model.get_params(),
        "params": _series(model.params_),
        "standard_errors": _series(model.standard_errors_),
        "covariance": None if cov is None else [[_num(v) for v in row] for row in cov],
        "log_likelihood": _num(model.log_likelihood_),
        "converged": bool(model.converged_),
        "model_used": model.model_used_,
        "attributes": {
            attr: (value if isinstance(value, str) else _num(value))
            for attr in _EXTRA_ATTRIBUTES
            if (value := getattr(model, attr, None)) is not None
        },
    }
    if isinstance(model, CountModel):
        heuristic = model.heuristic_
        state["heuristic"] = (
            "self"
            if heuristic is model
            else (None if heuristic is None else model_state(heuristic))
        )
        state["fallback"] = None if model.fallback_ is None else model_state(model.fallback_)
    return state


def model_from_state(state: dict[str, Any]) -> BaseModel:
    """Rebuild a model from :func:`model_state` output; unknown classes are refused."""
    name = state.get("class")
    cls = MODEL_CLASSES.get(str(name))
    if cls is None:
        raise InvalidInputError(
            f"unknown model class {name!r}; supported: {', '.join(sorted(MODEL_CLASSES))}"
        )
    names = list(cls._param_names)
    if sorted(state["params"]) != sorted(names):
        raise InvalidInputError(
            f"{name} needs parameters {', '.join(names)}; found {', '.join(state['params'])}"
        )
    model = cls(**state["settings"])
    values = np.array([_float(state["params"][p]) for p in names], dtype=np.float64)
    model.params_ = pd.Series(values, index=names, dtype=np.float64)
    ses = [_float(state["standard_errors"].get(p)) for p in names]
    model.standard_errors_ = pd.Series(ses, index=names, dtype=np.float64)
    cov = state.get("covariance")
    model.covariance_ = (
        None if cov is None else np.array([[_float(v) for v in row] for row in cov], dtype=float)
    )
    model.log_likelihood_ = _float(state["log_likelihood"])
    model.converged_ = bool(state["converged"])
    model.model_used_ = str(state["model_used"])
    for attr, value in state.get("attributes", {}).items():
        if attr not in _EXTRA_ATTRIBUTES:
            raise InvalidInputError(f"unknown attribute {attr!r} for {name}")
        setattr(model, attr, value if isinstance(value, str) else _float(value))
    if isinstance(model, CountModel):
        heuristic = state.get("heuristic")
        restored = model if heuristic == "self" else _nested(heuristic)
        if restored is not None and not isinstance(restored, RfmHeuristicModel):
            raise InvalidInputError(f"the heuristic of {name} must be an RfmHeuristicModel")
        model.heuristic_ = restored
        fallback = _nested(state.get("fallback"))
        if fallback is not None and not isinstance(fallback, CountModel):
            raise InvalidInputError(f"the fallback of {name} must be a purchase-count model")
        model.fallback_ = fallback
    return model


def _nested(state: Any) -> BaseModel | None:
    """A nested estimator (heuristic or fallback) rebuilt from its state, if any."""
    return None if state is None else model_from_state(state)


def _aftersale_version() -> str:
    """The aftersale version that wrote the file."""
    return __version__


def save_model(model: BaseModel, path: Path | str, *, window: DataWindow | None = None) -> Path:
    """Write a fitted model (and the data window it came from) to ``path`` as JSON."""
    document = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "aftersale_version": _aftersale_version(),
        "window": None if window is None else window.to_dict(),
        "model": model_state(model),
    }
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(document, indent=2, allow_nan=False)
    target.write_text(text + "\n", encoding="utf-8")
    return target


def load_saved_model(path: Path | str) -> SavedModel:
    """Read a model file: the model, its window and versions; bad files raise with the path."""
    source = Path(path)
    try:
        document = json.loads(source.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise InvalidInputError(f"{source}: model file not found") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInputError(f"{source}: not a readable JSON model file ({exc})") from exc
    if not isinstance(document, dict) or document.get("format") != FORMAT_NAME:
        raise InvalidInputError(
            f'{source}: not an aftersale model file (expected "format": "{FORMAT_NAME}")'
        )
    version = document.get("format_version")
    if not isinstance(version, int) or version < 1:
        raise InvalidInputError(f"{source}: invalid format_version {version!r}")
    if version > FORMAT_VERSION:
        raise InvalidInputError(
            f"{source}: format_version {version} is newer than this aftersale reads "
            f"({FORMAT_VERSION}); written by aftersale {document.get('aftersale_version')}, "
            "upgrade aftersale to load it"
        )
    try:
        model = model_from_state(document["model"])
        window_data = document.get("window")
        window = None if window_data is None else DataWindow.from_dict(window_data)
    except InvalidInputError as exc:
        raise InvalidInputError(f"{source}: {exc}") from exc
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise InvalidInputError(
            f"{source}: malformed model file ({type(exc).__name__}: {exc})"
        ) from exc
    return SavedModel(model, window, str(document.get("aftersale_version")), version)


def load_model(path: Path | str) -> BaseModel:
    """Load a model saved by :func:`save_model`; its predictions equal the original's exactly.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from aftersale.models import BetaGeoModel
    >>> model = BetaGeoModel.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426)
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "bgnbd.json"
    >>> again = load_model(save_model(model, path, window=DataWindow(time_unit="W")))
    >>> bool((again.expected_purchases(39, 2, 30.43, 38.86) ==
    ...       model.expected_purchases(39, 2, 30.43, 38.86)).all())
    True
    """
    return load_saved_model(path).model
