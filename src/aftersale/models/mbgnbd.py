"""MBG/NBD: modified BG/NBD (Batislam, Denizel & Filiztekin 2007, IJRM 24(3):201-209).

As BG/NBD, but a customer may also drop out right after the first purchase (time 0), so
customers with no repeat purchase are not forced to be alive. Per-customer likelihood::

    L = B(a, b+x+1)/B(a, b) * NBD-part(T) + B(a+1, b+x)/B(a, b) * NBD-part(t_x)

with ``NBD-part(s) = Gamma(r+x) alpha^r / (Gamma(r) (alpha+s)^(r+x))``. Expectations follow by
the same steps as FHL (2005) with the dropout chance applied once more (see docs/MODELS.md).
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

__all__ = ["ModifiedBetaGeoModel"]


class ModifiedBetaGeoModel(CountModel):
    """MBG/NBD customer-base model with parameters ``r``, ``alpha`` (time unit), ``a``, ``b``.

    Same inputs, predictions and fallback as :class:`~aftersale.models.bgnbd.BetaGeoModel`.

    Examples
    --------
    >>> model = ModifiedBetaGeoModel.from_params(r=0.525, alpha=6.183, a=0.891, b=1.614)
    >>> model.probability_alive([0, 2], [0, 30.43], [38.86, 38.86]).round(3)
    array([0.39 , 0.706])
    """

    _param_names: ClassVar[tuple[str, ...]] = ("r", "alpha", "a", "b")
    _smooth_in_scale: ClassVar[bool] = True
    _name: ClassVar[str] = "mbgnbd"

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
        stay = betaln(a, b + x + 1.0) - (r + x) * np.log(alpha + T)
        drop = betaln(a + 1.0, b + x) - (r + x) * np.log(alpha + t_x)
        return np.asarray(head + np.logaddexp(stay, drop), dtype=np.float64)

    def _loglik_grad(self, data: RfmData) -> LoglikGrad:
        """Weighted log-likelihood with its analytic gradient, constants precomputed once."""
        return CountLikelihood(data, "mbg")

    def _p_alive(self, x: FloatArray, t_x: FloatArray, T: FloatArray) -> FloatArray:  # noqa: N803
        return beta_geo_alive(x, t_x, T, self._values(), modified=True)

    def _expected_given_alive(
        self,
        t: FloatArray,
        x: FloatArray,
        t_x: FloatArray,
        T: FloatArray,  # noqa: N803
    ) -> FloatArray:
        r, alpha, a, b = self._values()
        a = not_one(a)
        tail = hyp_tail(r + x, b + x + 1.0, a + b + x, alpha + T, t)
        pre = (a + b + x) / (a - 1.0)
        return expected_with_fallback(pre, tail, r + x, alpha + T, a, b + x + 1.0, t)

    def _expected_unconditional(self, t: FloatArray) -> FloatArray:
        r, alpha, a, b = self._values()
        a = not_one(a)
        tail = hyp_tail(r, b + 1.0, a + b, alpha, t)
        share = b / (a + b)  # E[(1-p)/p ...] = b/(a+b) * E[1/p ...] under Beta(a, b+1)
        pre = (a + b) / (a - 1.0)
        return share * expected_with_fallback(pre, tail, r, alpha, a, b + 1.0, t)

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
        alive = np.exp(betaln(a, b + n + 1.0) - betaln(a, b) + log_nbd)
        died = np.exp(betaln(a + 1.0, b + n) - betaln(a, b)) * nbd_survival(n, r, alpha, t)
        return np.asarray(alive + died, dtype=np.float64)
