"""Weighted log-likelihoods with analytic gradients for the optimiser (private).

Each class is built once per fit from the (aggregated) data: everything that does not depend on
the parameters (frequency groups, their weights, sums of ``log m``, ...) is computed in the
constructor, and work buffers are allocated there too, so an evaluation is a handful of
in-place array passes. Calling the object with natural parameters ``theta`` returns the total
weighted log-likelihood and its gradient in ``theta`` from the same pass.

Terms that depend on a customer only through the whole number ``x`` (``gammaln(r + x)``,
``betaln(a, b + x)``, ...) are evaluated once per distinct ``x`` and weighted by the number of
customers with that ``x``; only ``log(alpha + T)``, ``log(alpha + t_x)`` (and for Gamma-Gamma
``log(gamma + x zbar)``) need a pass over the rows.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import NDArray
from scipy.special import betaln, digamma, gammaln, xlogy

from aftersale.models.base import FloatArray, RfmData, wsum

__all__ = ["CountLikelihood", "SpendLikelihood", "frequency_groups"]

_MAX_DIRECT_GROUP = 1 << 20


def frequency_groups(x: FloatArray) -> tuple[FloatArray, NDArray[np.intp]]:
    """Distinct values of the whole numbers ``x`` (sorted) and each row's index into them.

    Counting (``bincount``) instead of sorting when ``x`` is small, as purchase counts are.
    """
    if x.size == 0:
        return np.zeros(0), np.zeros(0, dtype=np.intp)
    top = float(x.max())
    if top <= _MAX_DIRECT_GROUP and float(x.min()) >= 0.0:
        xi = x.astype(np.intp)
        present = np.bincount(xi) > 0
        lookup = np.cumsum(present, dtype=np.intp) - 1
        return np.flatnonzero(present).astype(np.float64), lookup[xi]
    values, index = np.unique(x, return_inverse=True)
    return np.asarray(values, dtype=np.float64), np.asarray(index, dtype=np.intp).ravel()


class CountLikelihood:
    """NBD, BG/NBD or MBG/NBD weighted log-likelihood and gradient in ``(r, alpha[, a, b])``.

    ``dropout="none"`` is the NBD; ``"bg"`` the BG/NBD (a customer can drop out after each
    repeat purchase, so rows with ``x > 0`` carry the dropped-out term); ``"mbg"`` the MBG/NBD
    (also at time 0, every row carries it). With ``d = log(a / (b + x + s - 1)) +
    (r + x) (log(alpha + T) - log(alpha + t_x))`` (``s`` = 0 for BG, 1 for MBG) the per-row
    log-likelihood is

        gammaln(r+x) - gammaln(r) + r log(alpha) + betaln(a, b+x+s) - betaln(a, b)
        - (r + x) log(alpha + T) + softplus(d)

    which is the papers' ``log(A + B)`` written so that ``sigmoid(d)`` (the posterior
    probability of having dropped out) is the only per-row factor of the gradient.
    """

    def __init__(self, data: RfmData, dropout: Literal["none", "bg", "mbg"]) -> None:
        x, t_x, age, w = data.x, data.t_x, data.T, data.weights
        self.dropout = dropout
        self.shift = 1.0 if dropout == "mbg" else 0.0
        self.values, index = frequency_groups(x)
        self.group_weight = np.bincount(index, weights=w, minlength=self.values.size)
        self.total = float(w.sum())
        # parameter-free part of the NBD likelihood (the others' cancels in their form)
        self.const = wsum(w, xlogy(x, age) - gammaln(x + 1.0)) if dropout == "none" else 0.0
        # rows without the dropped-out term ("rest") and with it ("drop"), disjoint: every
        # row's log(alpha + T) is computed once per evaluation
        rest: slice | NDArray[np.bool_]
        drop: slice | NDArray[np.bool_]
        if dropout == "none":
            rest, drop = slice(None), slice(0)
        elif dropout == "mbg":
            rest, drop = slice(0), slice(None)
        else:
            drop = x > 0
            rest = ~drop
        self.T_rest, self.w_rest = age[rest], w[rest]
        self.wx_rest = self.w_rest * x[rest]
        self.x_drop, self.tx_drop, self.T_drop = x[drop], t_x[drop], age[drop]
        self.w_drop = w[drop]
        self.wx_drop = self.w_drop * self.x_drop
        n_rest, n_drop = self.T_rest.size, self.T_drop.size
        self.n_drop = n_drop
        self._rest = (np.empty(n_rest), np.empty(n_rest))
        self._drop = tuple(np.empty(n_drop) for _ in range(7))
        self._scratch = np.empty(max(n_rest, n_drop))

    def __call__(self, theta: FloatArray) -> tuple[float, FloatArray]:
        """Total weighted log-likelihood and its gradient at natural parameters ``theta``."""
        r, alpha = float(theta[0]), float(theta[1])
        vals, gw, total = self.values, self.group_weight, self.total
        inv_t, log_t = self._rest
        np.add(self.T_rest, alpha, out=inv_t)
        np.log(inv_t, out=log_t)
        np.divide(1.0, inv_t, out=inv_t)
        scratch = self._scratch
        s_lt = wsum(self.w_rest, log_t, scratch[: log_t.size])
        s_xlt = wsum(self.wx_rest, log_t, scratch[: log_t.size])
        s_it = wsum(self.w_rest, inv_t, scratch[: log_t.size])
        s_xit = wsum(self.wx_rest, inv_t, scratch[: log_t.size])
        n = self.n_drop
        if n:
            inv_td, log_td = self._drop[5], self._drop[6]
            np.add(self.T_drop, alpha, out=inv_td)
            np.log(inv_td, out=log_td)
            np.divide(1.0, inv_td, out=inv_td)
            part = scratch[:n]
            s_lt += wsum(self.w_drop, log_td, part)
            s_xlt += wsum(self.wx_drop, log_td, part)
            s_it += wsum(self.w_drop, inv_td, part)
            s_xit += wsum(self.wx_drop, inv_td, part)
        log_alpha = float(np.log(alpha))
        ll = (
            float(np.dot(gw, gammaln(r + vals) - gammaln(r)))
            + total * r * log_alpha
            - r * s_lt
            - s_xlt
            + self.const
        )
        g_r = float(np.dot(gw, digamma(r + vals) - digamma(r))) + total * log_alpha - s_lt
        g_alpha = total * r / alpha - r * s_it - s_xit
        if self.dropout == "none":
            return ll, np.array([g_r, g_alpha])

        a, b = float(theta[2]), float(theta[3])
        bx = b + vals + self.shift
        ll += float(np.dot(gw, betaln(a, bx) - betaln(a, b)))
        g_a = float(np.dot(gw, digamma(a + b) - digamma(a + bx)))
        g_b = float(np.dot(gw, digamma(bx) - digamma(a + bx) - digamma(b) + digamma(a + b)))
        if n:
            gap, delta, k, d, inv_b, inv_td, log_td = self._drop
            # gap = (r + x) (1/(alpha+T) - 1/(alpha+t_x)), delta = log(alpha+T) - log(alpha+t_x)
            np.add(self.tx_drop, alpha, out=gap)
            np.log(gap, out=delta)
            np.subtract(log_td, delta, out=delta)
            np.divide(1.0, gap, out=gap)
            np.subtract(inv_td, gap, out=gap)
            np.add(self.x_drop, r, out=k)
            np.multiply(gap, k, out=gap)
            # d = log(a / (b + x + s - 1)) + (r + x) delta: log-odds of having dropped out
            np.add(self.x_drop, b + self.shift - 1.0, out=inv_b)
            np.log(inv_b, out=d)
            np.divide(1.0, inv_b, out=inv_b)
            np.multiply(k, delta, out=k)
            np.subtract(k, d, out=d)
            d += np.log(a)
            # softplus(d) = max(d, 0) + log1p(exp(-|d|)); P(dropped out) = exp(d - softplus(d))
            np.abs(d, out=k)
            np.negative(k, out=k)
            np.exp(k, out=k)
            np.log1p(k, out=k)
            np.maximum(d, 0.0, out=inv_td)  # inv_td is free now
            np.add(k, inv_td, out=k)
            ll += wsum(self.w_drop, k, part)
            np.subtract(d, k, out=d)
            np.exp(d, out=d)
            np.multiply(d, self.w_drop, out=d)  # weight x P(dropped out | history)
            g_r += wsum(d, delta, part)
            g_alpha += wsum(d, gap, part)
            g_a += float(d.sum()) / a
            g_b -= wsum(d, inv_b, part)
        return ll, np.array([g_r, g_alpha, g_a, g_b])


class SpendLikelihood:
    """Gamma-Gamma weighted log-likelihood of mean spends ``m`` and its gradient in
    ``(p, q, gamma)``.

    Per row ``gammaln(p x + q) - gammaln(p x) - gammaln(q) + q log(gamma) + (p x - 1) log(m)
    + p x log(x) - (p x + q) log(gamma + x m)``; only the last term needs a pass over the rows.
    """

    def __init__(self, x: FloatArray, m: FloatArray, w: FloatArray) -> None:
        self.values, index = frequency_groups(x)
        self.group_weight = np.bincount(index, weights=w, minlength=self.values.size)
        self.total = float(w.sum())
        self.w = w
        self.wx = w * x
        self.xm = x * m
        log_m = np.log(m)
        self.coef_p = wsum(self.wx, log_m) + float(
            np.dot(self.group_weight, xlogy(self.values, self.values))
        )
        self.const = -wsum(w, log_m)
        self._buf = (np.empty(x.size), np.empty(x.size))
        self._scratch = np.empty(x.size)

    def __call__(self, theta: FloatArray) -> tuple[float, FloatArray]:
        """Total weighted log-likelihood and its gradient at natural parameters ``theta``."""
        p, q, gamma = float(theta[0]), float(theta[1]), float(theta[2])
        gw, total = self.group_weight, self.total
        inv, log_ = self._buf
        np.add(self.xm, gamma, out=inv)
        np.log(inv, out=log_)
        np.divide(1.0, inv, out=inv)
        scratch = self._scratch
        s_l, s_xl = wsum(self.w, log_, scratch), wsum(self.wx, log_, scratch)
        s_i, s_xi = wsum(self.w, inv, scratch), wsum(self.wx, inv, scratch)
        px = p * self.values
        log_gamma = float(np.log(gamma))
        ll = (
            float(np.dot(gw, gammaln(px + q) - gammaln(px)))
            - total * float(gammaln(q))
            + total * q * log_gamma
            + p * self.coef_p
            + self.const
            - p * s_xl
            - q * s_l
        )
        psi_pxq = digamma(px + q)
        g_p = float(np.dot(gw * self.values, psi_pxq - digamma(px))) + self.coef_p - s_xl
        g_q = float(np.dot(gw, psi_pxq)) - total * float(digamma(q)) + total * log_gamma - s_l
        g_gamma = total * q / gamma - p * s_xi - q * s_i
        return ll, np.array([g_p, g_q, g_gamma])
