"""NBD: gamma-mixed Poisson purchasing with no dropout (Ehrenberg 1959), the first fallback.

Each customer buys as a Poisson process with rate ``lambda ~ Gamma(r, alpha)``, so the count
in ``(0, T]`` is negative binomial. With no dropout process it still forecasts purchase
volumes when too few customers bought again to fit BG/NBD or Pareto/NBD; its P(alive) is the
RFM heuristic's, since the NBD itself assumes everyone stays active.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from scipy.special import gammaln, xlogy

from aftersale.models._count_model import CountModel
from aftersale.models._likelihoods import CountLikelihood
from aftersale.models.base import FloatArray, LoglikGrad, RfmData, wsum

__all__ = ["NBDModel"]


def initial_rate_params(data: RfmData) -> tuple[float, float]:
    """Start ``(r, alpha)`` with the pooled purchase rate ``r / alpha`` and ``r = 1``."""
    exposure = wsum(data.weights, data.T)
    rate = wsum(data.weights, data.x) / max(exposure, 1e-12)
    mean_t = exposure / data.total_weight
    alpha = 1.0 / rate if rate > 0 else max(mean_t, 1.0)
    return 1.0, float(np.clip(alpha, 1e-3, 1e6))


class NBDModel(CountModel):
    """Negative binomial distribution model of repeat-purchase counts (``r``, ``alpha``).

    Parameters of ``fit`` and the predictions are those of :class:`CountModel`; ``recency``
    is validated but does not enter the NBD likelihood.

    Examples
    --------
    >>> NBDModel.from_params(r=0.385, alpha=12.07).expected_purchases_unconditional(39).round(3)
    array([1.244])
    """

    _param_names: ClassVar[tuple[str, ...]] = ("r", "alpha")
    _name: ClassVar[str] = "nbd"
    _default_min_share: ClassVar[float] = 0.0
    _default_min_buyers: ClassVar[int] = 1

    def _initial_params(self, data: RfmData) -> tuple[float, ...]:
        return initial_rate_params(data)

    def _fit_fallback(self, data: RfmData) -> CountModel:
        return self._heuristic()

    def _loglik_terms(
        self,
        theta: tuple[float, ...],
        x: FloatArray,
        t_x: FloatArray,
        T: FloatArray,  # noqa: N803
    ) -> FloatArray:
        r, alpha = theta
        return np.asarray(
            gammaln(r + x)
            - gammaln(r)
            - gammaln(x + 1.0)
            + r * (np.log(alpha) - np.log(alpha + T))
            + xlogy(x, T)
            - x * np.log(alpha + T),
            dtype=np.float64,
        )

    def _loglik_grad(self, data: RfmData) -> LoglikGrad:
        """Weighted log-likelihood with its analytic gradient, constants precomputed once."""
        return CountLikelihood(data, "none")

    def _p_alive(self, x: FloatArray, t_x: FloatArray, T: FloatArray) -> FloatArray:  # noqa: N803
        return self._heuristic()._p_alive(x, t_x, T)

    def _expected_given_alive(
        self,
        t: FloatArray,
        x: FloatArray,
        t_x: FloatArray,
        T: FloatArray,  # noqa: N803
    ) -> FloatArray:
        r, alpha = self._values()
        return np.asarray((r + x) / (alpha + T) * t, dtype=np.float64)

    def _expected(
        self,
        t: FloatArray,
        x: FloatArray,
        t_x: FloatArray,
        T: FloatArray,  # noqa: N803
    ) -> FloatArray:
        return self._expected_given_alive(t, x, t_x, T)

    def _expected_unconditional(self, t: FloatArray) -> FloatArray:
        r, alpha = self._values()
        return np.asarray(r * t / alpha, dtype=np.float64)

    def _pmf(self, t: FloatArray, n: FloatArray) -> FloatArray:
        r, alpha = self._values()
        log_p = (
            gammaln(r + n)
            - gammaln(r)
            - gammaln(n + 1.0)
            + r * (np.log(alpha) - np.log(alpha + t))
            + xlogy(n, t)
            - n * np.log(alpha + t)
        )
        return np.asarray(np.exp(log_p), dtype=np.float64)
