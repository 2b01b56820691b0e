"""BG/NBD: beta-geometric / negative binomial model (Fader, Hardie & Lee 2005, Marketing Science).

While active a customer buys as a Poisson process with rate ``lambda ~ Gamma(r, alpha)``; after
each repeat purchase they drop out with probability ``p ~ Beta(a, b)``. The likelihood,
P(alive), conditional and unconditional expectations and ``P(X(t) = n)`` are equations (6),
(10), (9) and (8) of the paper, evaluated in log space.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from scipy.special import betaln, gammaln, xlogy

from aftersale.models._count_model import CountModel
from aftersale.models._likelihoods import CountLikelihood
from aftersale.models._special import (
    beta_geo_alive,
    expected_with_fallback,
    hyp_tail,
    nbd_survival,
    not_one,
)
from aftersale.models.base import FloatArray, LoglikGrad, RfmData
from aftersale.models.nbd import initial_rate_params

__all__ = ["BetaGeoModel"]


class BetaGeoModel(CountModel):
    """BG/NBD customer-base model with parameters ``r``, ``alpha`` (time unit), ``a``, ``b``.

    Fit on ``frequency`` (repeat purchases), ``recency`` and ``T`` in one time unit; see
    :class:`~aftersale.models._count_model.CountModel` for the prediction methods and fallback.

    Examples
    --------
    >>> model = BetaGeoModel.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426)  # CDNOW, weeks
    >>> model.probability_of_n_purchases(39, 0).round(4)
    array([0.5738])
    >>> model.expected_purchases(39, frequency=2, recency=30.43, T=38.86).round(3)
    array([1.226])
    """

    _param_names: ClassVar[tuple[str, ...]] = ("r", "alpha", "a", "b")
    _smooth_in_scale: ClassVar[bool] = True
    _name: ClassVar[str] = "bgnbd"

    def _initial_params(self, data: RfmData) -> tuple[float, ...]:
        r, alpha = initial_rate_params(data)
        return r, alpha, 1.0, 1.0

    def _loglik_terms(
        self,
        theta: tuple[float, ...],
        x: FloatArray,
        t_x: FloatArray,
        T: FloatArray,  # noqa: N803
    ) -> FloatArray:
        r, alpha, a, b = theta
        head = gammaln(r + x) - gammaln(r) + r * np.log(alpha) - betaln(a, b)
        stay = betaln(a, b + x) - (r + x) * np.log(alpha + T)
        x1 = np.maximum(x, 1.0)
        drop = betaln(a + 1.0, b + x1 - 1.0) - (r + x) * np.log(alpha + t_x)
        drop = np.where(x > 0, drop, -np.inf)
        return np.asarray(head + np.logaddexp(stay, drop), dtype=np.float64)

    def _loglik_grad(self, data: RfmData) -> LoglikGrad:
        """Weighted log-likelihood with its analytic gradient, constants precomputed once."""
        return CountLikelihood(data, "bg")

    def _p_alive(self, x: FloatArray, t_x: FloatArray, T: FloatArray) -> FloatArray:  # noqa: N803
        return beta_geo_alive(x, t_x, T, self._values(), modified=False)

    def _expected_given_alive(
        self,
        t: FloatArray,
        x: FloatArray,
        t_x: FloatArray,
        T: FloatArray,  # noqa: N803
    ) -> FloatArray:
        r, alpha, a, b = self._values()
        a = not_one(a)
        tail = hyp_tail(r + x, b + x, a + b + x - 1.0, alpha + T, t)
        pre = (a + b + x - 1.0) / (a - 1.0)
        return expected_with_fallback(pre, tail, r + x, alpha + T, a, b + x, t)

    def _expected_unconditional(self, t: FloatArray) -> FloatArray:
        r, alpha, a, b = self._values()
        a = not_one(a)
        tail = hyp_tail(r, b, a + b - 1.0, alpha, t)
        return expected_with_fallback((a + b - 1.0) / (a - 1.0), tail, r, alpha, a, b, t)

    def _pmf(self, t: FloatArray, n: FloatArray) -> FloatArray:
        r, alpha, a, b = self._values()
        log_nbd = (
            gammaln(r + n)
            - gammaln(r)
            - gammaln(n + 1.0)
            + r * (np.log(alpha) - np.log(alpha + t))
            + xlogy(n, t)
            - n * np.log(alpha + t)
        )
        first = np.exp(betaln(a, b + n) - betaln(a, b) + log_nbd)
        n1 = np.maximum(n, 1.0)
        second = np.exp(betaln(a + 1.0, b + n1 - 1.0) - betaln(a, b)) * nbd_survival(n, r, alpha, t)
        return np.asarray(first + np.where(n > 0, second, 0.0), dtype=np.float64)
