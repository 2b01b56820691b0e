"""Shifted-beta-geometric (sBG) retention model for subscriptions (Fader & Hardie 2007).

Each subscriber cancels at the end of any period with probability ``theta ~ Beta(alpha,
beta)``, so survival is ``S(t) = B(alpha, beta + t) / B(alpha, beta)`` and the aggregate
retention rate ``(beta + t - 1) / (alpha + beta + t - 1)`` rises over time through sorting
(the most loyal stay). Fitted from one cohort's survivor counts per period.
"""

from __future__ import annotations

from typing import ClassVar, Self

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import betaln

from aftersale.errors import InvalidInputError
from aftersale.models.base import BaseModel, FloatArray, as_float_array

__all__ = ["ShiftedBetaGeoModel"]


class ShiftedBetaGeoModel(BaseModel):
    """sBG model: ``alpha`` and ``beta`` of the beta-distributed churn probability.

    Examples
    --------
    >>> model = ShiftedBetaGeoModel.from_params(alpha=0.704, beta=1.182)  # "regular" cohort
    >>> model.survival([1, 7]).round(3), model.retention_rate([1, 7]).round(3)
    (array([0.627, 0.239]), array([0.627, 0.911]))
    """

    _param_names: ClassVar[tuple[str, ...]] = ("alpha", "beta")
    _name: ClassVar[str] = "sbg"

    def fit(self, survivors: ArrayLike) -> Self:
        """Fit on a cohort's survivor counts ``[n_0, n_1, ..., n_k]`` (``n_0`` = cohort size).

        Customers lost in period ``t`` contribute ``P(T = t)``; the ``n_k`` still active after
        the last period are right-censored and contribute ``S(k)``.
        """
        counts = self._check_survivors(survivors)
        lost = -np.diff(counts)
        periods = np.arange(1, counts.size, dtype=np.float64)
        weights = np.append(lost, counts[-1])

        def terms(theta: FloatArray) -> FloatArray:
            alpha, beta = (float(v) for v in theta)
            churn = betaln(alpha + 1.0, beta + periods - 1.0) - betaln(alpha, beta)
            censored = betaln(alpha, beta + periods[-1]) - betaln(alpha, beta)
            return np.asarray(np.append(churn, censored), dtype=np.float64)

        self.n_customers_ = float(counts[0])
        self.n_periods_ = int(periods.size)
        self._maximise(terms, weights, (1.0, 1.0))
        return self

    @staticmethod
    def _check_survivors(survivors: ArrayLike) -> FloatArray:
        counts = as_float_array(survivors, "survivors")
        if (
            counts.size < 2
            or not np.all(np.isfinite(counts))
            or np.any(counts < 0)
            or np.any(np.diff(counts) > 0)
            or counts[0] <= 0
        ):
            raise InvalidInputError(
                "'survivors' must be at least two finite counts [cohort size, after period 1, ...] "
                f"that never increase; got {counts.tolist()[:15]}"
            )
        return counts

    def log_likelihood(self, survivors: ArrayLike) -> float:
        """Log-likelihood of survivor counts under the current parameters."""
        self.check_is_fitted("log_likelihood()")
        counts = self._check_survivors(survivors)
        alpha, beta = self._values()
        periods = np.arange(1, counts.size, dtype=np.float64)
        churn = betaln(alpha + 1.0, beta + periods - 1.0) - betaln(alpha, beta)
        censored = betaln(alpha, beta + periods[-1]) - betaln(alpha, beta)
        return float(np.dot(-np.diff(counts), churn) + counts[-1] * censored)

    def survival(self, t: ArrayLike) -> FloatArray:
        """P(a new subscriber is still active after ``t`` periods), ``S(0) = 1``."""
        self.check_is_fitted("survival()")
        alpha, beta = self._values()
        tt = np.asarray(t, dtype=np.float64)
        if np.any(tt < 0):
            raise InvalidInputError("'t' must be >= 0")
        return np.asarray(np.exp(betaln(alpha, beta + tt) - betaln(alpha, beta)), dtype=np.float64)

    def churn_probability(self, t: ArrayLike) -> FloatArray:
        """P(a new subscriber cancels in period ``t``), ``t >= 1``: ``B(alpha+1, beta+t-1) / B``."""
        self.check_is_fitted("churn_probability()")
        alpha, beta = self._values()
        tt = np.asarray(t, dtype=np.float64)
        if np.any(tt < 1):
            raise InvalidInputError("'t' must be >= 1 for churn_probability")
        return np.asarray(
            np.exp(betaln(alpha + 1.0, beta + tt - 1.0) - betaln(alpha, beta)), dtype=np.float64
        )

    def retention_rate(self, t: ArrayLike) -> FloatArray:
        """Share of those active at ``t - 1`` who are still active at ``t`` (``t >= 1``)."""
        self.check_is_fitted("retention_rate()")
        alpha, beta = self._values()
        tt = np.asarray(t, dtype=np.float64)
        if np.any(tt < 1):
            raise InvalidInputError("'t' must be >= 1 for retention_rate")
        return np.asarray((beta + tt - 1.0) / (alpha + beta + tt - 1.0), dtype=np.float64)

    def expected_survivors(self, t: ArrayLike, cohort_size: float) -> FloatArray:
        """Expected number of a cohort of ``cohort_size`` still active after ``t`` periods."""
        return cohort_size * self.survival(t)
