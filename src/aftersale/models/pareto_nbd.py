"""Pareto/NBD (Schmittlein, Morrison & Colombo 1987) in the Fader-Hardie (2005) formulation.

While active a customer buys at Poisson rate ``lambda ~ Gamma(r, alpha)`` and has an
exponential lifetime with rate ``mu ~ Gamma(s, beta)``. The likelihood is eq. (22) of Fader &
Hardie, "A Note on Deriving the Pareto/NBD Model and Related Expressions" (2005)::

    L = Gamma(r+x) alpha^r beta^s / Gamma(r) * [ 1 / ((alpha+T)^(r+x) (beta+T)^s)
        + s / (r+s+x) * A0 ]

where ``A0`` is a difference of two Gauss hypergeometric terms. Both are evaluated in log
space with Euler's transformation (so every series converges for ``|z| < 1`` even as
``z -> 1``) and combined with log-diff-exp / log-sum-exp: no overflow for large ``x`` or
extreme ``alpha``/``beta`` ratios. ``P(X(t) = n)`` follows Fader & Hardie (2006), "Deriving an
Expression for P(X(t) = x) Under the Pareto/NBD Model".
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from scipy.special import betaln, expit, gammaln, xlogy

from aftersale.models._count_model import CountModel
from aftersale.models._special import log_hyp2f1, log_integral_decreasing, logdiffexp
from aftersale.models.base import FloatArray, RfmData
from aftersale.models.nbd import initial_rate_params

__all__ = ["ParetoNBDModel"]


def _relative_growth(k: float, u: FloatArray) -> FloatArray:
    """``(1 - exp(-k u)) / k``, continuous at ``k = 0`` where it is ``u``."""
    if abs(k) < 1e-10:
        return np.asarray(u, dtype=np.float64)
    return np.asarray(-np.expm1(-k * u) / k, dtype=np.float64)


def _log_died_by_quadrature(
    theta: tuple[float, ...],
    x: FloatArray,
    t_x: FloatArray,
    T: FloatArray,  # noqa: N803
    rows: FloatArray,
) -> FloatArray:
    """``log(s * integral_{t_x}^T (alpha+u)^-(r+x) (beta+u)^-(s+1) du)`` where 2F1 failed.

    The died-in-(t_x, T] term is this integral (FH 2005 note, before eq. 22); it is used for the
    rare extreme rows where scipy's ``hyp2f1`` returns NaN (huge ``x`` with ``z`` near 1).
    """
    r, alpha, s, beta = theta
    xb, lo, hi = (np.broadcast_to(v, rows.shape)[rows] for v in (x, t_x, T))

    def log_f(u: FloatArray) -> FloatArray:
        return np.asarray(
            -(r + xb[:, None]) * np.log(alpha + u) - (s + 1.0) * np.log(beta + u), dtype=np.float64
        )

    out = np.full(rows.shape, np.nan)
    out[rows] = np.log(s) + log_integral_decreasing(log_f, lo, hi)
    return out


class ParetoNBDModel(CountModel):
    """Pareto/NBD model: ``r``, ``alpha`` (purchase rate) and ``s``, ``beta`` (lifetime).

    ``alpha`` and ``beta`` are in the data's time unit. Same inputs, predictions and fallback as
    :class:`~aftersale.models.bgnbd.BetaGeoModel`.

    Examples
    --------
    >>> model = ParetoNBDModel.from_params(r=0.553, alpha=10.578, s=0.606, beta=11.669)
    >>> model.expected_purchases_unconditional(52).round(3)
    array([1.473])
    >>> model.probability_alive(frequency=2, recency=30.43, T=38.86).round(3)
    array([0.869])
    """

    _param_names: ClassVar[tuple[str, ...]] = ("r", "alpha", "s", "beta")
    _name: ClassVar[str] = "pareto_nbd"

    def _initial_params(self, data: RfmData) -> tuple[float, ...]:
        r, alpha = initial_rate_params(data)
        return r, alpha, 1.0, alpha

    @staticmethod
    def _log_parts(
        theta: tuple[float, ...],
        x: FloatArray,
        t_x: FloatArray,
        T: FloatArray,  # noqa: N803
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Log of the common factor, the alive-throughout term and the died-in-(t_x, T] term."""
        r, alpha, s, beta = theta
        head = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
        alive = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
        rsx = r + s + x
        big = max(alpha, beta)
        b2 = np.full_like(x, s + 1.0) if alpha >= beta else r + x
        gap = abs(alpha - beta)
        log_f1 = log_hyp2f1(rsx, b2, rsx + 1.0, gap / (big + t_x)) - rsx * np.log(big + t_x)
        log_f2 = log_hyp2f1(rsx, b2, rsx + 1.0, gap / (big + T)) - rsx * np.log(big + T)
        died = np.log(s) - np.log(rsx) + logdiffexp(log_f1, log_f2)
        bad = ~np.isfinite(died) & (t_x < T)
        if np.any(bad):
            died = np.where(bad, _log_died_by_quadrature(theta, x, t_x, T, bad), died)
        return head, alive, died

    def _loglik_terms(
        self,
        theta: tuple[float, ...],
        x: FloatArray,
        t_x: FloatArray,
        T: FloatArray,  # noqa: N803
    ) -> FloatArray:
        head, alive, died = self._log_parts(theta, x, t_x, T)
        return np.asarray(head + np.logaddexp(alive, died), dtype=np.float64)

    def _p_alive(self, x: FloatArray, t_x: FloatArray, T: FloatArray) -> FloatArray:  # noqa: N803
        _, alive, died = self._log_parts(self._values(), x, t_x, T)
        return np.asarray(expit(alive - died), dtype=np.float64)

    def _expected_given_alive(
        self,
        t: FloatArray,
        x: FloatArray,
        t_x: FloatArray,
        T: FloatArray,  # noqa: N803
    ) -> FloatArray:
        r, alpha, s, beta = self._values()
        growth = _relative_growth(s - 1.0, np.log1p(t / (beta + T)))
        return np.asarray((r + x) * (beta + T) / (alpha + T) * growth, dtype=np.float64)

    def _expected_unconditional(self, t: FloatArray) -> FloatArray:
        r, alpha, s, beta = self._values()
        growth = _relative_growth(s - 1.0, np.log1p(t / beta))
        return np.asarray(r * beta / alpha * growth, dtype=np.float64)

    def _pmf(self, t: FloatArray, n: FloatArray) -> FloatArray:
        r, alpha, s, beta = self._values()
        t, n = np.broadcast_arrays(np.asarray(t, dtype=np.float64), np.asarray(n, dtype=np.float64))
        alive = np.exp(
            gammaln(r + n)
            - gammaln(r)
            - gammaln(n + 1.0)
            + r * (np.log(alpha) - np.log(alpha + t))
            + xlogy(n, t)
            - n * np.log(alpha + t)
            + s * (np.log(beta) - np.log(beta + t))
        )
        rs = r + s
        c = rs + n + 1.0
        big = max(alpha, beta)
        b2 = np.full_like(n, s + 1.0) if alpha >= beta else r + n
        gap = abs(alpha - beta)
        b1 = np.exp(log_hyp2f1(rs, b2, c, gap / big) - rs * np.log(big))
        tail = np.zeros_like(t)
        for i in range(int(n.max()) + 1 if n.size else 0):
            log_b2 = log_hyp2f1(rs + i, b2, c, gap / (big + t)) - (rs + i) * np.log(big + t)
            term = np.exp(gammaln(rs + i) - gammaln(rs) - gammaln(i + 1.0) + xlogy(i, t) + log_b2)
            tail += np.where(i <= n, term, 0.0)
        scale = np.exp(r * np.log(alpha) + s * np.log(beta) + betaln(r + n, s + 1.0) - betaln(r, s))
        died = scale * np.maximum(b1 - tail, 0.0)
        bad = ~np.isfinite(died)
        if np.any(bad):
            died = np.where(bad, self._died_pmf_by_quadrature(t, n, bad), died)
        return np.asarray(alive + died, dtype=np.float64)

    def _died_pmf_by_quadrature(self, t: FloatArray, n: FloatArray, rows: FloatArray) -> FloatArray:
        """P(die before t with exactly n purchases), integrating the death-time density directly.

        ``integral_0^t s beta^s / (beta+u)^(s+1) * NBD(n; r, alpha, u) du``: the fallback for rows
        where the hypergeometric closed form overflows.
        """
        r, alpha, s, beta = self._values()
        nb, tb = n[rows], t[rows]

        def log_f(u: FloatArray) -> FloatArray:
            k = nb[:, None]
            return np.asarray(
                np.log(s)
                + s * np.log(beta)
                - (s + 1.0) * np.log(beta + u)
                + gammaln(r + k)
                - gammaln(r)
                - gammaln(k + 1.0)
                + r * (np.log(alpha) - np.log(alpha + u))
                + xlogy(k, u)
                - k * np.log(alpha + u),
                dtype=np.float64,
            )

        mid = tb / 2.0
        lower = log_integral_decreasing(log_f, np.zeros_like(tb), mid)
        upper = log_integral_decreasing(lambda v: log_f(tb[:, None] - (v - mid[:, None])), mid, tb)
        out = np.full(rows.shape, np.nan)
        out[rows] = np.exp(np.logaddexp(lower, upper))
        return out
