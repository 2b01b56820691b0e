"""RFM heuristic: the last-resort model when no likelihood-based fit can be trusted.

Each customer's purchase rate is estimated with one pseudo-gap of shrinkage,
``lambda_i = (x + 1) / (t_x + m)``, where ``m`` is the (weighted) median inter-purchase gap
``t_x / x`` of repeat buyers, or the median age ``T`` when nobody bought again. P(alive) is
the chance that a customer still buying at that rate would have stayed silent since the last
purchase, ``exp(-lambda_i (T - t_x))``: finite, in [0, 1], 1 right after a purchase and
increasing in recency. Population predictions use the pooled Poisson rate ``sum x / sum T``.
"""

from __future__ import annotations

from typing import ClassVar, Self

import numpy as np
from scipy.stats import poisson

from aftersale.models._count_model import CountModel
from aftersale.models.base import FloatArray, RfmData, wsum

__all__ = ["RfmHeuristicModel"]


def _weighted_median(values: FloatArray, weights: FloatArray) -> float:
    """Lower weighted median; a linear-time selection when every weight is 1 (raw rows)."""
    if values.size and bool(np.all(weights == 1.0)):
        k = (values.size + 1) // 2 - 1  # the element the cumulative-weight search finds
        return float(np.partition(values, k)[k])
    order = np.argsort(values)
    cum = np.cumsum(weights[order])
    return float(values[order][np.searchsorted(cum, 0.5 * cum[-1])])


class RfmHeuristicModel(CountModel):
    """Recency/frequency heuristic P(alive) and rates; no optimisation, never fails.

    Parameters learned by ``fit``: ``mean_gap`` (typical time between purchases, the time
    unit of the data) and ``pooled_rate`` (repeat purchases per time unit across customers).

    Examples
    --------
    >>> model = RfmHeuristicModel.from_params(mean_gap=10.0, pooled_rate=0.05)
    >>> model.probability_alive(frequency=[0, 2], recency=[0, 30], T=[20, 38]).round(3)
    array([0.135, 0.549])
    """

    _param_names: ClassVar[tuple[str, ...]] = ("mean_gap", "pooled_rate")
    _name: ClassVar[str] = "rfm_heuristic"

    def _fit_data(self, data: RfmData) -> Self:
        rep = data.x > 0
        if np.any(rep):
            gap = _weighted_median(data.t_x[rep] / data.x[rep], data.weights[rep])
        else:
            gap = _weighted_median(data.T, data.weights)
        gap = max(gap, 1e-9 * max(1.0, float(data.T.max())))
        rate = wsum(data.weights, data.x) / max(wsum(data.weights, data.T), 1e-300)
        self._set_params(np.array([gap, rate]), None, float("nan"), converged=True)
        self.n_customers_ = data.total_weight
        self.n_repeat_buyers_ = data.repeat_weight
        self.heuristic_ = self
        self.fallback_ = None
        return self

    def _after_from_params(self) -> None:
        self.heuristic_ = self

    def _rate(self, x: FloatArray, t_x: FloatArray) -> FloatArray:
        gap = self._values()[0]
        return np.asarray((x + 1.0) / (t_x + gap), dtype=np.float64)

    def _p_alive(self, x: FloatArray, t_x: FloatArray, T: FloatArray) -> FloatArray:  # noqa: N803
        return np.asarray(np.exp(-self._rate(x, t_x) * (T - t_x)), dtype=np.float64)

    def _expected_given_alive(
        self,
        t: FloatArray,
        x: FloatArray,
        t_x: FloatArray,
        T: FloatArray,  # noqa: N803
    ) -> FloatArray:
        return np.asarray(self._rate(x, t_x) * t, dtype=np.float64)

    def _expected_unconditional(self, t: FloatArray) -> FloatArray:
        return np.asarray(self._values()[1] * t, dtype=np.float64)

    def _pmf(self, t: FloatArray, n: FloatArray) -> FloatArray:
        return np.asarray(poisson.pmf(n, self._values()[1] * t), dtype=np.float64)

    def _wait_quantile(
        self,
        q: FloatArray,
        x: FloatArray,
        t_x: FloatArray,
        T: FloatArray,  # noqa: N803
    ) -> FloatArray:
        return np.asarray(-np.log1p(-q) / self._rate(x, t_x), dtype=np.float64)
