"""Gamma-Gamma spend model (Fader, Hardie & Lee 2005, JMR; Fader & Hardie 2013 note 025).

A customer's transaction values are Gamma(p, nu) with ``nu ~ Gamma(q, gamma)`` across
customers, so the mean ``zbar`` of ``x`` repeat transactions has a closed-form density. It is
fitted on repeat buyers only (``frequency > 0``; ``monetary_value`` = mean value of the repeat
transactions, first purchase excluded) and assumes spend is independent of frequency, which
``frequency_monetary_correlation_`` lets callers check. ``clv`` combines it with any fitted
purchase-count model.
"""

from __future__ import annotations

import warnings
from typing import Any, ClassVar, Literal, Self

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import gammaln

from aftersale.errors import InvalidInputError
from aftersale.models._count_model import CountModel
from aftersale.models._likelihoods import SpendLikelihood
from aftersale.models.base import (
    BaseModel,
    FloatArray,
    as_float_array,
    collapse_rows,
    validate_rfm,
    wsum,
)
from aftersale.models.warnings import FewRepeatBuyersWarning, NumericalWarning

__all__ = ["PERIODS_PER_MONTH", "GammaGammaModel"]

PERIODS_PER_MONTH: dict[str, float] = {"W": 4.345, "M": 1.0, "D": 30.0, "H": 30.0 * 24.0}
"""Time units per month for monthly discounting, as in lifetimes' ``customer_lifetime_value``."""


def _validate_spend(
    frequency: ArrayLike, monetary_value: ArrayLike, weights: ArrayLike | None = None
) -> tuple[FloatArray, FloatArray, FloatArray]:
    x = as_float_array(frequency, "frequency")
    m = as_float_array(monetary_value, "monetary_value")
    w = np.ones_like(x) if weights is None else as_float_array(weights, "weights")
    if not x.size == m.size == w.size:
        raise InvalidInputError(
            f"frequency, monetary_value (and weights) must have the same length; got {x.size}, "
            f"{m.size}, {w.size}"
        )
    problems = []
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(m)) and np.all(np.isfinite(w))):
        problems.append("values must be finite (no NaN/inf)")
    elif np.any(x < 0) or np.any(x != np.floor(x)):
        problems.append("'frequency' must be whole numbers >= 0")
    elif np.any((x > 0) & (m <= 0)):
        problems.append("'monetary_value' must be > 0 for customers with frequency > 0")
    if np.any(w < 0):
        problems.append("'weights' must be >= 0")
    if problems:
        raise InvalidInputError("Invalid spend input: " + "; ".join(problems))
    return x, m, w


class GammaGammaModel(BaseModel):
    """Gamma-Gamma model of average transaction value with parameters ``p``, ``q``, ``gamma``.

    ``min_repeat_buyers``: below this many repeat buyers (or if the fit fails) the model
    warns and falls back to ``model_used_ == "empirical_mean"``: a repeat buyer's own average,
    and the repeat buyers' mean for everyone else.

    Examples
    --------
    >>> model = GammaGammaModel.from_params(p=6.25, q=3.74, gamma=15.44)  # CDNOW, dollars
    >>> model.expected_spend(frequency=[0, 2], monetary_value=[0.0, 22.35]).round(2)
    array([35.22, 24.66])
    """

    _param_names: ClassVar[tuple[str, ...]] = ("p", "q", "gamma")
    _name: ClassVar[str] = "gamma_gamma"

    def __init__(self, *, penalizer_coef: float = 0.0, min_repeat_buyers: int = 30) -> None:
        super().__init__(penalizer_coef=penalizer_coef)
        self.min_repeat_buyers = min_repeat_buyers

    def get_params(self) -> dict[str, Any]:
        """Constructor settings, as in scikit-learn (learned values are in ``params_``)."""
        return {**super().get_params(), "min_repeat_buyers": self.min_repeat_buyers}

    def fit(
        self, frequency: ArrayLike, monetary_value: ArrayLike, *, weights: ArrayLike | None = None
    ) -> Self:
        """Fit on repeat buyers (rows with ``frequency > 0``); other rows are ignored."""
        x, m, w = _validate_spend(frequency, monetary_value, weights)
        keep = (x > 0) & (w > 0)
        if not np.any(keep):
            raise InvalidInputError(
                "GammaGammaModel needs at least one customer with frequency > 0 and their mean "
                "repeat-transaction value in monetary_value"
            )
        (xs, ms), wts = collapse_rows((x[keep], m[keep]), w[keep])
        self.n_customers_ = float(wts.sum())
        self.mean_spend_ = wsum(wts, ms) / float(wts.sum())
        self.frequency_monetary_correlation_ = _weighted_corr(xs, ms, wts)
        if self.n_customers_ < self.min_repeat_buyers:
            warnings.warn(
                FewRepeatBuyersWarning(
                    f"GammaGammaModel: {self.n_customers_:.0f} repeat buyers (< "
                    f"{self.min_repeat_buyers}); using each buyer's own mean spend"
                ),
                stacklevel=2,
            )
            self._set_params(np.full(3, np.nan), None, float("nan"), converged=False)
            trusted = False
        else:
            init = (1.0, 2.0, self.mean_spend_)
            trusted = self._maximise(
                lambda th: self._loglik_terms(th, xs, ms),
                wts,
                init,
                loglik_grad=SpendLikelihood(xs, ms, wts),
            )
        if not trusted:
            self.model_used_ = "empirical_mean"
        return self

    def _after_from_params(self) -> None:
        p, q, gamma = self._values()
        self.mean_spend_ = p * gamma / (q - 1.0) if q > 1.0 else float("nan")

    @staticmethod
    def _loglik_terms(theta: FloatArray, x: FloatArray, m: FloatArray) -> FloatArray:
        p, q, gamma = (float(v) for v in theta)
        px = p * x
        return np.asarray(
            gammaln(px + q)
            - gammaln(px)
            - gammaln(q)
            + q * np.log(gamma)
            + (px - 1.0) * np.log(m)
            + px * np.log(x)
            - (px + q) * np.log(gamma + x * m),
            dtype=np.float64,
        )

    def log_likelihood(self, frequency: ArrayLike, monetary_value: ArrayLike) -> float:
        """Log-likelihood of repeat buyers' mean spends (density of zbar, constants included)."""
        self.check_is_fitted("log_likelihood()")
        x, m, _ = _validate_spend(frequency, monetary_value)
        keep = x > 0
        return float(np.sum(self._loglik_terms(np.array(self._values()), x[keep], m[keep])))

    def expected_spend(self, frequency: ArrayLike, monetary_value: ArrayLike) -> FloatArray:
        """Expected average transaction value per customer: a credibility-weighted mean.

        ``(p (gamma + x zbar)) / (p x + q - 1)``, i.e. the population mean shrunk towards the
        customer's own average as ``x`` grows; customers with ``frequency == 0`` get the
        population mean ``p gamma / (q - 1)``.
        """
        self.check_is_fitted("expected_spend()")
        x, m, _ = _validate_spend(frequency, monetary_value)
        own = np.where(x > 0, m, self.mean_spend_)
        if self.model_used_ != self._name:
            return np.asarray(own, dtype=np.float64)
        p, q, gamma = self._values()
        with np.errstate(all="ignore"):
            out = p * (gamma + x * np.where(x > 0, m, 0.0)) / (p * x + q - 1.0)
        bad = ~np.isfinite(out) | (out <= 0)
        if np.any(bad):
            warnings.warn(
                NumericalWarning(
                    f"GammaGammaModel.expected_spend: {int(bad.sum())} value(s) "
                    "undefined (q <= 1); own/mean spend used"
                ),
                stacklevel=2,
            )
            out = np.where(bad, own, out)
        return np.asarray(out, dtype=np.float64)

    def clv(
        self,
        transaction_model: CountModel,
        frequency: ArrayLike,
        recency: ArrayLike,
        T: ArrayLike,  # noqa: N803
        monetary_value: ArrayLike,
        *,
        horizon_months: int = 12,
        discount_rate: float = 0.01,
        margin: float = 1.0,
        time_unit: Literal["W", "M", "D", "H"] = "W",
    ) -> FloatArray:
        """Discounted customer lifetime value over ``horizon_months``, as lifetimes computes it.

        For each month ``m = 1..horizon`` the expected purchases in that month (from
        ``transaction_model``, whose data are in ``time_unit``: 4.345 weeks, 30 days or 720
        hours per month) times ``expected_spend`` times ``margin`` is discounted by
        ``(1 + discount_rate) ** m`` (``discount_rate`` is monthly) and summed. The months share
        P(alive), so BG/NBD-type models compute the whole discounted sum in one pass.
        """
        if time_unit not in PERIODS_PER_MONTH:
            raise InvalidInputError(f"'time_unit' must be one of {sorted(PERIODS_PER_MONTH)}")
        if horizon_months < 0 or discount_rate <= -1.0:
            raise InvalidInputError("'horizon_months' must be >= 0 and 'discount_rate' > -1")
        spend = self.expected_spend(frequency, monetary_value) * margin
        x, t_x, age, _ = validate_rfm(frequency, recency, T)
        if horizon_months == 0:
            return np.zeros(np.broadcast_shapes(spend.shape, x.shape))
        months = np.arange(1, horizon_months + 1, dtype=np.float64)
        times = months * PERIODS_PER_MONTH[time_unit]
        factors = 1.0 / (1.0 + discount_rate) ** months
        return np.asarray(
            spend * transaction_model._discounted_purchases(times, factors, x, t_x, age),
            dtype=np.float64,
        )


def _weighted_corr(x: FloatArray, y: FloatArray, w: FloatArray) -> float:
    """Weighted Pearson correlation; NaN when either variable is constant."""
    if x.size < 2:
        return float("nan")
    total = float(w.sum())
    dx = x - wsum(w, x) / total
    dy = y - wsum(w, y) / total
    denom = float(np.sqrt(wsum(w, dx * dx) * wsum(w, dy * dy)))
    return float(wsum(w, dx * dy) / denom) if denom > 0 else float("nan")
