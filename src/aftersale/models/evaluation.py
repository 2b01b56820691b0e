"""How well a purchase-count model forecast a holdout period, in terms a user can check.

Given a calibration/holdout frame (``frequency``, ``recency``, ``T`` from the calibration
period; ``frequency_holdout`` and ``duration_holdout`` from the period after it, as
``aftersale.features.calibration_holdout`` builds it) and a count model fitted on the
calibration columns, :func:`evaluate_holdout` compares predicted with actual repeat purchases:
in total, by calibration frequency bucket (0, 1, …, 6, 7+, the layout of the published CDNOW
tables) and per customer (MAE, RMSE) against a naive baseline that projects each customer's
calibration rate, ``frequency / T × duration_holdout``. A model worth using beats that baseline.
:func:`calibration_chart` draws predicted against actual by bucket as a PNG (matplotlib, Agg).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from aftersale.errors import InvalidInputError
from aftersale.models._count_model import CountModel
from aftersale.models.base import FloatArray

__all__ = ["HOLDOUT_COLUMNS", "HoldoutEvaluation", "calibration_chart", "evaluate_holdout"]

HOLDOUT_COLUMNS = ("frequency", "recency", "T", "frequency_holdout", "duration_holdout")


@dataclass(frozen=True, slots=True)
class HoldoutEvaluation:
    """Predicted vs actual holdout purchases: totals, by bucket, and per-customer errors.

    ``buckets`` has one row per calibration frequency bucket (``bucket`` label "0" … "7+"):
    ``n_customers``, ``actual_mean``, ``predicted_mean``, ``naive_mean`` and the bucket totals
    ``actual_total``, ``predicted_total``; means are NaN for empty buckets.
    """

    buckets: pd.DataFrame
    n_customers: int
    actual_total: float
    predicted_total: float
    naive_total: float
    mae: float
    rmse: float
    naive_mae: float
    naive_rmse: float
    correlation: float
    model_used: str

    @property
    def beats_naive(self) -> bool:
        """True when the model's per-customer MAE is below the naive baseline's."""
        return self.mae < self.naive_mae

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (NaN as None)."""
        rows = [
            {k: _plain(v) for k, v in row.items()} for row in self.buckets.to_dict(orient="records")
        ]
        return {
            "model_used": self.model_used,
            "n_customers": self.n_customers,
            "actual_total": _plain(self.actual_total),
            "predicted_total": _plain(self.predicted_total),
            "naive_total": _plain(self.naive_total),
            "mae": _plain(self.mae),
            "rmse": _plain(self.rmse),
            "naive_mae": _plain(self.naive_mae),
            "naive_rmse": _plain(self.naive_rmse),
            "correlation": _plain(self.correlation),
            "beats_naive": self.beats_naive,
            "buckets": rows,
        }


def _plain(value: Any) -> Any:
    """Numpy scalars as Python values; NaN as None (strict JSON)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def _column(frame: Any, name: str) -> FloatArray:
    return np.asarray(frame[name], dtype=np.float64)


def evaluate_holdout(model: CountModel, frame: Any, *, max_bucket: int = 7) -> HoldoutEvaluation:
    """Compare ``model``'s holdout forecast with what each customer actually bought.

    ``frame`` is a pandas (or polars) frame with :data:`HOLDOUT_COLUMNS`; ``model`` must have
    been fitted on its calibration columns, in the same time unit as ``duration_holdout``.
    Customers with ``frequency >= max_bucket`` share the last bucket ("7+").

    Examples
    --------
    >>> import pandas as pd
    >>> from aftersale.models import BetaGeoModel
    >>> model = BetaGeoModel.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426)
    >>> frame = pd.DataFrame({"frequency": [0, 2], "recency": [0.0, 30.43], "T": [38.0, 38.86],
    ...                       "frequency_holdout": [0, 1], "duration_holdout": 39.0})
    >>> result = evaluate_holdout(model, frame)
    >>> round(result.predicted_total, 3), result.actual_total
    (1.425, 1.0)
    """
    missing = [c for c in HOLDOUT_COLUMNS if c not in frame.columns]
    if missing:
        raise InvalidInputError(
            f"Column(s) {', '.join(missing)} missing from the calibration/holdout frame; "
            f"expected columns: {', '.join(HOLDOUT_COLUMNS)} (from calibration_holdout)"
        )
    if max_bucket < 1:
        raise InvalidInputError(f"'max_bucket' must be >= 1; got {max_bucket}")
    x, t_x, age = (_column(frame, c) for c in ("frequency", "recency", "T"))
    actual = _column(frame, "frequency_holdout")
    duration = _column(frame, "duration_holdout")
    if x.size == 0:
        raise InvalidInputError("the calibration/holdout frame has no customers")
    if np.any(~np.isfinite(actual) | (actual < 0)) or np.any(~np.isfinite(duration)):
        raise InvalidInputError(
            "'frequency_holdout' must be finite counts >= 0 and 'duration_holdout' finite"
        )
    predicted = model.expected_purchases(duration, x, t_x, age)
    with np.errstate(divide="ignore", invalid="ignore"):
        naive = np.where(age > 0, x / age, 0.0) * duration
    bucket = np.minimum(x, max_bucket).astype(np.int64)
    labels = [str(k) for k in range(max_bucket)] + [f"{max_bucket}+"]
    rows = []
    for k, label in enumerate(labels):
        sel = bucket == k
        n = int(sel.sum())
        rows.append(
            {
                "bucket": label,
                "n_customers": n,
                "actual_mean": float(actual[sel].mean()) if n else float("nan"),
                "predicted_mean": float(predicted[sel].mean()) if n else float("nan"),
                "naive_mean": float(naive[sel].mean()) if n else float("nan"),
                "actual_total": float(actual[sel].sum()),
                "predicted_total": float(predicted[sel].sum()),
            }
        )
    err, naive_err = predicted - actual, naive - actual
    with np.errstate(all="ignore"):
        corr = (
            float(np.corrcoef(predicted, actual)[0, 1])
            if np.std(predicted) > 0 and np.std(actual) > 0
            else float("nan")
        )
    return HoldoutEvaluation(
        buckets=pd.DataFrame(rows),
        n_customers=int(x.size),
        actual_total=float(actual.sum()),
        predicted_total=float(predicted.sum()),
        naive_total=float(naive.sum()),
        mae=float(np.mean(np.abs(err))),
        rmse=float(np.sqrt(np.mean(err**2))),
        naive_mae=float(np.mean(np.abs(naive_err))),
        naive_rmse=float(np.sqrt(np.mean(naive_err**2))),
        correlation=corr,
        model_used=str(getattr(model, "model_used_", type(model).__name__)),
    )


def calibration_chart(
    evaluation: HoldoutEvaluation,
    path: Path | str,
    *,
    title: str = "Holdout purchases by calibration frequency",
    time_label: str = "holdout period",
) -> Path:
    """Write predicted vs actual mean holdout purchases by bucket as a PNG (Agg, no display)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    table = evaluation.buckets
    positions = np.arange(len(table))
    fig = Figure(figsize=(7.5, 4.5), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    ax.plot(positions, table["actual_mean"], "o-", color="#1f4e79", label="actual", lw=2)
    ax.plot(
        positions,
        table["predicted_mean"],
        "s--",
        color="#c55a11",
        label=f"model ({evaluation.model_used})",
        lw=2,
    )
    ax.plot(positions, table["naive_mean"], "^:", color="#7f7f7f", label="naive (calibration rate)")
    ax.set_xticks(positions)
    ax.set_xticklabels(
        [f"{b}\n(n={n:,})" for b, n in zip(table["bucket"], table["n_customers"], strict=True)],
        fontsize=8,
    )
    ax.set_xlabel("repeat purchases in the calibration period")
    ax.set_ylabel(f"mean repeat purchases in the {time_label}")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left")
    summary = (
        f"total actual {evaluation.actual_total:,.0f}, "
        f"predicted {evaluation.predicted_total:,.1f}\n"
        f"MAE {evaluation.mae:.3f} (naive {evaluation.naive_mae:.3f}), "
        f"RMSE {evaluation.rmse:.3f} (naive {evaluation.naive_rmse:.3f})"
    )
    ax.text(0.99, 0.03, summary, transform=ax.transAxes, ha="right", va="bottom", fontsize=8)
    fig.tight_layout()
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(target, format="png", metadata={"Software": None})
    return target
