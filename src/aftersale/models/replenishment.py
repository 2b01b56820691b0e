"""Replenishment: when each customer will next need a product or category again.

Inter-purchase intervals of one customer and one key (a product, a category: the caller picks
the column) are modelled on the log scale as a hierarchical normal–normal model::

    log interval_ij ~ Normal(mu_i, sigma2_k)      customer i's own rhythm, within-customer noise
    mu_i            ~ Normal(m_k, tau2_k)         customers of key k around the key's typical rhythm

Per key, ``sigma2_k`` is the pooled within-customer variance (shrunk toward the all-key value with
a scaled-inverse-chi-square prior worth ``_SIGMA_PRIOR_DF`` degrees of freedom; the all-key value
itself toward ``_VAGUE_WITHIN_VAR``) and ``m_k``,
``tau2_k`` are the DerSimonian–Laird random-effects moment estimates from the customers' mean
log-intervals. All of it is closed-form group sums (no optimiser, no loop over customers). A
customer with ``n`` intervals and mean log-interval ``ybar`` then has the conjugate posterior
``mu_i | y ~ Normal(mu_post, v_post)`` with ``1/v_post = 1/tau2 + n/sigma2`` and the next
log-interval is predicted as ``Normal(mu_post, v_post + sigma2)``; with ``n = 0`` (one purchase)
that is the key's own distribution. Log-normal intervals suit durations (positive, right-skewed,
multiplicative noise) and keep the conjugacy exact.

``expected_interval_days`` is the predictive median ``exp(mu_post)``: the due date is as likely to
be early as late. ``confidence = 1 - v_post / tau2 = n tau2 / (n tau2 + sigma2)`` is the share of
the prior uncertainty about the customer's rhythm that their own intervals have removed: 0 with
no interval, toward 1 with many regular ones.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Self

import numpy as np
import pandas as pd
from scipy import stats

from aftersale.errors import InvalidInputError, NotFittedError, SchemaError

__all__ = ["ReplenishmentModel"]

_SIGMA_PRIOR_DF = 4.0
_TAU2_FLOOR = 1e-6
_VAGUE_WITHIN_VAR = 0.25  # all-key sigma2 prior: intervals vary about +-50 % around a rhythm
_PARAM_COLUMNS = [
    "prior_mean_log",
    "prior_var_log",
    "within_var_log",
    "typical_interval_days",
    "n_customers",
    "n_intervals",
]


class ReplenishmentModel:
    """Empirical-Bayes next-need dates per customer x key from inter-purchase intervals.

    Parameters
    ----------
    min_interval_days
        Purchases of the same key fewer than this many UTC calendar days after the previous one
        are merged into it (1 merges same-day purchases). Intervals are whole days >= this.
    interval_level
        Probability mass of the predictive interval ``[interval_lower_days, interval_upper_days]``.
    key
        Name of the grouping column in the purchases frame (``"product_id"``, ``"category"``...).

    Examples
    --------
    >>> import pandas as pd
    >>> at = pd.to_datetime(["2025-01-01", "2025-01-31", "2025-03-02", "2025-01-05"], utc=True)
    >>> df = pd.DataFrame({"customer_id": list("aaab"), "key": ["x"] * 4, "purchased_at": at})
    >>> model = ReplenishmentModel().fit(df)
    >>> out = model.predict(df, as_of=pd.Timestamp("2025-03-10", tz="UTC"))
    >>> round(float(out.loc[out.customer_id == "a", "expected_interval_days"].iloc[0]))
    30
    """

    def __init__(
        self, min_interval_days: int = 1, interval_level: float = 0.8, key: str = "key"
    ) -> None:
        self.min_interval_days = min_interval_days
        self.interval_level = interval_level
        self.key = key

    # ------------------------------------------------------------------ public API
    def fit(self, purchases: Any) -> Self:
        """Learn each key's prior (typical log-interval, between- and within-customer variance)."""
        self._check_params()
        events = self._events(purchases, as_of=None)
        if events.empty:
            raise InvalidInputError("purchases has no rows: fit needs at least one purchase")
        stats_ = _customer_stats(events)
        self.global_params_ = _estimate_priors(stats_.assign(_k=0), "_k", None).iloc[0]
        self.category_params_ = _estimate_priors(stats_, "key", self.global_params_)
        self.category_params_.index.name = self.key
        return self

    def predict(self, purchases: Any, as_of: datetime | pd.Timestamp) -> pd.DataFrame:
        """Per customer x key bought before ``as_of``: next-need date, interval, confidence."""
        self.check_is_fitted("predict")
        when = _as_utc(as_of, "as_of")
        events = self._events(purchases, as_of=when)
        cust = _customer_stats(events)
        prior = self.category_params_.reindex(cust["key"].to_numpy())
        for col in ("prior_mean_log", "prior_var_log", "within_var_log"):
            prior[col] = prior[col].fillna(float(self.global_params_[col]))
        m = prior["prior_mean_log"].to_numpy(dtype=float)
        tau2 = prior["prior_var_log"].to_numpy(dtype=float)
        sigma2 = prior["within_var_log"].to_numpy(dtype=float)
        n = cust["n_intervals"].to_numpy(dtype=float)
        ybar = cust["mean_log"].to_numpy(dtype=float)
        precision = 1.0 / tau2 + n / sigma2
        v_post = 1.0 / precision
        mu_post = v_post * (m / tau2 + n * np.nan_to_num(ybar) / sigma2)
        half = stats.norm.ppf(0.5 + self.interval_level / 2.0) * np.sqrt(v_post + sigma2)
        last = pd.to_datetime(cust["last_purchase_at"], utc=True)
        expected = np.exp(mu_post)
        lower, upper = np.exp(mu_post - half), np.exp(mu_post + half)
        next_need = last + pd.to_timedelta(expected, unit="D")
        out = pd.DataFrame(
            {
                "customer_id": cust["customer_id"].to_numpy(),
                self.key: cust["key"].to_numpy(),
                "last_purchase_at": last.to_numpy(),
                "n_purchases": (n + 1).astype(np.int64),
                "expected_interval_days": expected,
                "interval_lower_days": lower,
                "interval_upper_days": upper,
                "next_need_at": next_need.to_numpy(),
                "next_need_lower_at": (last + pd.to_timedelta(lower, unit="D")).to_numpy(),
                "next_need_upper_at": (last + pd.to_timedelta(upper, unit="D")).to_numpy(),
                "confidence": np.clip(1.0 - v_post / tau2, 0.0, 1.0),
                "is_overdue": (next_need < when).to_numpy(),
            }
        )
        for col in ("last_purchase_at", "next_need_at", "next_need_lower_at", "next_need_upper_at"):
            out[col] = pd.to_datetime(out[col], utc=True).astype("datetime64[ns, UTC]")
        return out.sort_values(["customer_id", self.key], ignore_index=True)

    def check_is_fitted(self, method: str = "this method") -> None:
        """Raise :class:`NotFittedError` unless ``fit`` has run."""
        if getattr(self, "category_params_", None) is None:
            raise NotFittedError(
                f"ReplenishmentModel is not fitted yet, so {method} cannot run: call "
                "ReplenishmentModel().fit(purchases) first."
            )

    # ------------------------------------------------------------------ input handling
    def _check_params(self) -> None:
        """Reject bad settings, naming every bad argument at once."""
        problems = []
        m = self.min_interval_days
        if isinstance(m, bool) or not isinstance(m, int | np.integer) or m < 1:
            problems.append(f"min_interval_days must be a whole number >= 1; got {m!r}")
        level = self.interval_level
        if isinstance(level, bool) or not isinstance(level, float | int) or not 0 < level < 1:
            problems.append(f"interval_level must be strictly between 0 and 1; got {level!r}")
        if not isinstance(self.key, str) or not self.key:
            problems.append(f"key must be a non-empty column name; got {self.key!r}")
        if problems:
            raise InvalidInputError("ReplenishmentModel: " + "; ".join(problems))

    def _events(self, purchases: Any, as_of: pd.Timestamp | None) -> pd.DataFrame:
        """Validated (customer_id, key, purchased_at, day) rows before ``as_of``, merged, sorted."""
        if hasattr(purchases, "to_pandas") and not isinstance(purchases, pd.DataFrame):
            purchases = purchases.to_pandas()
        if not isinstance(purchases, pd.DataFrame):
            raise InvalidInputError(
                f"purchases must be a pandas or polars DataFrame; got {type(purchases).__name__}"
            )
        needed = ["customer_id", self.key, "purchased_at"]
        missing = [c for c in needed if c not in purchases.columns]
        if missing:
            raise SchemaError(
                f"Column(s) {', '.join(repr(c) for c in missing)} missing from purchases; "
                f"expected columns: {', '.join(needed)}",
                missing=missing,
                found=[str(c) for c in purchases.columns],
            )
        frame = pd.DataFrame(
            {
                "customer_id": purchases["customer_id"].to_numpy(),
                "key": purchases[self.key].to_numpy(),
                "purchased_at": _as_utc_column(purchases["purchased_at"]),
            }
        )
        nulls = [
            name for name, col in zip(needed, frame.columns, strict=True) if frame[col].isna().any()
        ]
        if nulls:
            raise InvalidInputError(
                f"purchases has missing values in column(s) {', '.join(map(repr, nulls))}; "
                "drop or fill those rows first"
            )
        if as_of is not None:
            frame = frame[frame["purchased_at"] < as_of]
        frame = frame.sort_values(["customer_id", "key", "purchased_at"], ignore_index=True)
        epoch = pd.Timestamp(0, tz="UTC")
        frame["day"] = ((frame["purchased_at"] - epoch) // pd.Timedelta(days=1)).astype(np.int64)
        same = (frame["customer_id"] == frame["customer_id"].shift()) & (
            frame["key"] == frame["key"].shift()
        )
        gap = frame["day"] - frame["day"].shift()
        # Chained merge: a purchase too close to the previous one belongs to the same event.
        keep = ~same | (gap >= self.min_interval_days)
        return frame[keep.to_numpy()].reset_index(drop=True)


def _as_utc(value: Any, name: str) -> pd.Timestamp:
    """A tz-aware UTC Timestamp, or InvalidInputError naming ``name`` for naive/bad values."""
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(
            f"'{name}' must be a timezone-aware datetime; got {value!r}"
        ) from exc
    if pd.isna(ts) or ts.tzinfo is None:
        raise InvalidInputError(
            f"'{name}' must be a timezone-aware datetime (UTC); got naive {value!r}: attach a "
            "timezone, e.g. datetime(..., tzinfo=timezone.utc)"
        )
    return ts.tz_convert("UTC")


def _as_utc_column(col: pd.Series) -> pd.Series:
    """The column as tz-aware UTC datetimes; naive or non-datetime columns are rejected."""
    if not isinstance(col.dtype, pd.DatetimeTZDtype):
        kind = "naive datetimes" if pd.api.types.is_datetime64_dtype(col) else str(col.dtype)
        raise InvalidInputError(
            f"Column 'purchased_at' must hold timezone-aware (UTC) timestamps; got {kind}: "
            "convert with pd.to_datetime(..., utc=True) or .dt.tz_localize('UTC')"
        )
    out: pd.Series = col.dt.tz_convert("UTC").reset_index(drop=True)
    return out


def _customer_stats(events: pd.DataFrame) -> pd.DataFrame:
    """Per customer x key: interval count, mean and spread of log-intervals, last purchase."""
    same = (events["customer_id"] == events["customer_id"].shift()) & (
        events["key"] == events["key"].shift()
    )
    log_gap = np.log((events["day"] - events["day"].shift()).where(same).astype(float))
    grouped = events.assign(y=log_gap, y2=log_gap**2).groupby(
        ["customer_id", "key"], sort=False, observed=True
    )
    out = grouped.agg(
        n_intervals=("y", "count"),
        sum_log=("y", "sum"),
        sum_sq=("y2", "sum"),
        last_purchase_at=("purchased_at", "max"),
    ).reset_index()
    n = out["n_intervals"].to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        out["mean_log"] = np.where(n > 0, out["sum_log"] / n, np.nan)
    out["ss_within"] = np.maximum(out["sum_sq"] - n * np.nan_to_num(out["mean_log"]) ** 2, 0.0)
    return out


def _estimate_priors(cust: pd.DataFrame, by: str, fallback: pd.Series | None) -> pd.DataFrame:
    """Per group: pooled within variance and DerSimonian–Laird mean and between variance."""
    rep = cust[cust["n_intervals"] > 0].copy()
    n = rep["n_intervals"].astype(float)
    rep["df"] = n - 1.0
    g = rep.groupby(by, observed=True)
    df = g["df"].sum()
    ss = g["ss_within"].sum()
    groups = pd.Index(cust[by].unique(), name=by)
    out = pd.DataFrame(index=groups)
    out["n_customers"] = cust.groupby(by, observed=True).size().reindex(groups).astype(np.int64)
    out["n_intervals"] = g["n_intervals"].sum().reindex(groups).fillna(0).astype(np.int64)
    df = df.reindex(groups).fillna(0.0)
    ss = ss.reindex(groups).fillna(0.0)
    s0 = _VAGUE_WITHIN_VAR if fallback is None else float(fallback["within_var_log"])
    sigma2 = (ss + _SIGMA_PRIOR_DF * s0) / (df + _SIGMA_PRIOR_DF)
    sigma2 = sigma2.clip(lower=_TAU2_FLOOR)
    rep["sigma2"] = sigma2.reindex(rep[by]).to_numpy()
    rep["w"] = n / rep["sigma2"]
    rep["wy"] = rep["w"] * rep["mean_log"]
    rep["w2"] = rep["w"] ** 2
    g = rep.groupby(by, observed=True)
    sw, swy, sw2, k = g["w"].sum(), g["wy"].sum(), g["w2"].sum(), g.size()
    m_fixed = (swy / sw).reindex(rep[by]).to_numpy()
    rep["q"] = rep["w"] * (rep["mean_log"] - m_fixed) ** 2
    q = rep.groupby(by, observed=True)["q"].sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        tau2 = ((q - (k - 1)) / (sw - sw2 / sw)).clip(lower=_TAU2_FLOOR)
    rep["ws"] = 1.0 / (tau2.reindex(rep[by]).to_numpy() + rep["sigma2"] / n)
    rep["wsy"] = rep["ws"] * rep["mean_log"]
    g = rep.groupby(by, observed=True)
    m = g["wsy"].sum() / g["ws"].sum()
    ok = (k >= 2).reindex(groups).fillna(False).to_numpy(dtype=bool)
    # The all-key prior takes even one customer's mean; a key needs two customers of its own.
    has_mean = ok if fallback is not None else (k >= 1).reindex(groups).fillna(False).to_numpy()
    out["prior_mean_log"] = m.reindex(groups).where(has_mean)
    out["prior_var_log"] = tau2.reindex(groups).where(ok)
    out["within_var_log"] = sigma2
    if fallback is not None:
        for col in ("prior_mean_log", "prior_var_log"):
            out[col] = out[col].fillna(float(fallback[col]))
    else:  # The all-key prior with too little data: vague, around a month.
        out["prior_mean_log"] = out["prior_mean_log"].fillna(np.log(30.0))
        out["prior_var_log"] = out["prior_var_log"].fillna(1.0)
    out["typical_interval_days"] = np.exp(out["prior_mean_log"])
    return out[_PARAM_COLUMNS]
