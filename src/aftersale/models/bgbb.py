"""BG/BB: beta-geometric / beta-Bernoulli model for discrete purchase opportunities.

Fader, Hardie & Shang (2010), Marketing Science 29(6). At each of ``n`` opportunities (e.g.
yearly donation drives) an active customer transacts with probability ``p ~ Beta(alpha,
beta)`` and, before each later opportunity, becomes inactive with probability ``theta ~
Beta(gamma, delta)``. Inputs per customer: ``frequency`` (transactions among the
``n_periods`` repeat opportunities), ``recency`` (the opportunity of the last one, 0 if
none) and ``n_periods``; equations (5), (11), (13) and (7) of the paper give the likelihood,
P(alive), conditional expectations and ``P(X(n) = x)``.
"""

from __future__ import annotations

import warnings
from typing import ClassVar, Self

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy.special import betaln, gammaln

from aftersale.errors import InvalidInputError
from aftersale.models.base import BaseModel, FloatArray, as_float_array
from aftersale.models.warnings import NumericalWarning

__all__ = ["BetaGeoBetaBinomModel"]


def _validate(
    frequency: ArrayLike, recency: ArrayLike, n_periods: ArrayLike, weights: ArrayLike | None
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    x, t_x, n = (
        as_float_array(v, k)
        for v, k in ((frequency, "frequency"), (recency, "recency"), (n_periods, "n_periods"))
    )
    w = np.ones_like(x) if weights is None else as_float_array(weights, "weights")
    try:
        x, t_x, n, w = (np.asarray(a, dtype=np.float64) for a in np.broadcast_arrays(x, t_x, n, w))
    except ValueError as exc:
        raise InvalidInputError("frequency, recency, n_periods and weights lengths differ") from exc
    arrays = np.stack([x, t_x, n, w])
    if not np.all(np.isfinite(arrays)) or np.any(arrays[:3] != np.floor(arrays[:3])):
        raise InvalidInputError("BG/BB inputs must be finite; frequency, recency, n_periods whole")
    bad = (x < 0) | (x > t_x) | (t_x > n) | ((x == 0) & (t_x != 0)) | (w < 0)
    if np.any(bad) or float(w.sum()) <= 0:
        raise InvalidInputError(
            "BG/BB needs 0 <= frequency <= recency <= n_periods, recency == 0 where frequency "
            f"is 0, weights >= 0 and some customers; {int(bad.sum())} row(s) violate this"
        )
    return x, t_x, n, w


class BetaGeoBetaBinomModel(BaseModel):
    """BG/BB model: ``alpha``, ``beta`` (transaction) and ``gamma``, ``delta`` (dropout).

    Examples
    --------
    >>> model = BetaGeoBetaBinomModel.from_params(alpha=1.204, beta=0.75, gamma=0.657, delta=2.783)
    >>> model.probability_alive([0, 2, 6], [0, 4, 6], 6, m_periods_in_future=1).round(2)
    array([0.11, 0.59, 0.93])
    """

    _param_names: ClassVar[tuple[str, ...]] = ("alpha", "beta", "gamma", "delta")
    _name: ClassVar[str] = "bgbb"

    def fit(
        self,
        frequency: ArrayLike,
        recency: ArrayLike,
        n_periods: ArrayLike,
        *,
        weights: ArrayLike | None = None,
    ) -> Self:
        """Fit by weighted MLE on (frequency, recency, n_periods) patterns; warns if untrusted."""
        x, t_x, n, w = _validate(frequency, recency, n_periods, weights)
        rows, inverse = np.unique(np.column_stack([x, t_x, n])[w > 0], axis=0, return_inverse=True)
        wts = np.asarray(
            np.bincount(inverse.ravel(), weights=w[w > 0], minlength=rows.shape[0]),
            dtype=np.float64,
        )
        xs, txs, ns = rows[:, 0].copy(), rows[:, 1].copy(), rows[:, 2].copy()
        self.n_customers_ = float(wts.sum())
        self._maximise(lambda th: self._loglik_terms(th, xs, txs, ns), wts, (1.0, 1.0, 1.0, 1.0))
        return self

    @staticmethod
    def _log_parts(
        theta: FloatArray | tuple[float, ...], x: FloatArray, t_x: FloatArray, n: FloatArray
    ) -> tuple[FloatArray, FloatArray]:
        """Log of the alive-through-n term (without its dropout factor) and of the likelihood."""
        alpha, beta, gamma, delta = (float(v) for v in theta)
        base = betaln(alpha + x, beta + n - x) - betaln(alpha, beta)
        total = base + betaln(gamma, delta + n) - betaln(gamma, delta)
        for i in range(int(np.max(n - t_x)) if n.size else 0):
            term = (
                betaln(alpha + x, beta + t_x - x + i)
                - betaln(alpha, beta)
                + betaln(gamma + 1.0, delta + t_x + i)
                - betaln(gamma, delta)
            )
            total = np.where(i < n - t_x, np.logaddexp(total, term), total)
        return base, total

    @classmethod
    def _loglik_terms(
        cls, theta: FloatArray, x: FloatArray, t_x: FloatArray, n: FloatArray
    ) -> FloatArray:
        return cls._log_parts(theta, x, t_x, n)[1]

    def log_likelihood(
        self,
        frequency: ArrayLike,
        recency: ArrayLike,
        n_periods: ArrayLike,
        *,
        weights: ArrayLike | None = None,
    ) -> float:
        """Total log-likelihood of data under the current parameters (e.g. a paper's)."""
        self.check_is_fitted("log_likelihood()")
        x, t_x, n, w = _validate(frequency, recency, n_periods, weights)
        return float(np.dot(w, self._loglik_terms(np.array(self._values()), x, t_x, n)))

    def probability_alive(
        self,
        frequency: ArrayLike,
        recency: ArrayLike,
        n_periods: ArrayLike,
        m_periods_in_future: int = 0,
    ) -> FloatArray:
        """P(still active at opportunity ``n_periods + m_periods_in_future``) given the history.

        ``m_periods_in_future=1`` gives the paper's "P(alive in 2002)" (Table 6).
        """
        self.check_is_fitted("probability_alive()")
        x, t_x, n, _ = _validate(frequency, recency, n_periods, None)
        _, _, gamma, delta = self._values()
        base, total = self._log_parts(self._values(), x, t_x, n)
        alive = base + betaln(gamma, delta + n + m_periods_in_future) - betaln(gamma, delta)
        p = np.exp(alive - total)
        if not np.all(np.isfinite(p)):
            warnings.warn(
                NumericalWarning("BG/BB probability_alive: non-finite values set to 0"),
                stacklevel=2,
            )
            p = np.where(np.isfinite(p), p, 0.0)
        return np.asarray(np.clip(p, 0.0, 1.0), dtype=np.float64)

    def probability_alive_table(self, n_periods: int, m_periods_in_future: int = 1) -> pd.DataFrame:
        """P(alive) for every possible (frequency, recency) pattern after ``n_periods``.

        Long format (``frequency``, ``recency``, ``probability_alive``); pivot on recency x
        frequency for the layout of Table 6 in the paper.
        """
        pairs = [(0, 0)] + [(x, t) for t in range(1, n_periods + 1) for x in range(1, t + 1)]
        freq = np.array([p[0] for p in pairs], dtype=np.float64)
        rec = np.array([p[1] for p in pairs], dtype=np.float64)
        prob = self.probability_alive(freq, rec, n_periods, m_periods_in_future)
        return pd.DataFrame(
            {"frequency": freq.astype(int), "recency": rec.astype(int), "probability_alive": prob}
        )

    def expected_purchases(
        self, t: ArrayLike, frequency: ArrayLike, recency: ArrayLike, n_periods: ArrayLike
    ) -> FloatArray:
        """Expected transactions in the next ``t`` opportunities given the history (eq. 13)."""
        self.check_is_fitted("expected_purchases()")
        x, t_x, n, _ = _validate(frequency, recency, n_periods, None)
        alpha, beta, gamma, delta = self._values()
        gamma = gamma if abs(gamma - 1.0) > 1e-7 else 1.0 + 1e-7
        future = np.asarray(t, dtype=np.float64)
        _, total = self._log_parts(self._values(), x, t_x, n)
        now = np.exp(gammaln(1.0 + delta + n) - gammaln(gamma + delta + n))
        later = np.exp(gammaln(1.0 + delta + n + future) - gammaln(gamma + delta + n + future))
        log_front = (
            betaln(alpha + x + 1.0, beta + n - x)
            - betaln(alpha, beta)
            - total
            + gammaln(gamma + delta)
            - gammaln(1.0 + delta)
        )
        out = np.exp(log_front) * delta / (gamma - 1.0) * (now - later)
        return np.maximum(np.asarray(out, dtype=np.float64), 0.0)

    def expected_purchases_unconditional(self, n_periods: ArrayLike) -> FloatArray:
        """Expected transactions in the first ``n_periods`` opportunities for a new customer."""
        self.check_is_fitted("expected_purchases_unconditional()")
        alpha, beta, gamma, delta = self._values()
        gamma = gamma if abs(gamma - 1.0) > 1e-7 else 1.0 + 1e-7
        n = np.asarray(n_periods, dtype=np.float64)
        ratio = np.exp(
            gammaln(gamma + delta)
            + gammaln(1.0 + delta + n)
            - gammaln(gamma + delta + n)
            - gammaln(1.0 + delta)
        )
        return np.asarray(
            alpha / (alpha + beta) * delta / (gamma - 1.0) * (1.0 - ratio), dtype=np.float64
        )

    def probability_of_n_purchases(self, n_periods: int, n: ArrayLike) -> FloatArray:
        """P(exactly ``n`` transactions in the first ``n_periods`` opportunities) (eq. 7)."""
        self.check_is_fitted("probability_of_n_purchases()")
        alpha, beta, gamma, delta = self._values()
        xs = np.atleast_1d(np.asarray(n, dtype=np.float64))
        if np.any((xs < 0) | (xs != np.floor(xs))):
            raise InvalidInputError("'n' must be whole numbers >= 0")

        def log_choose(a: FloatArray | float, b: FloatArray) -> FloatArray:
            return np.asarray(gammaln(a + 1.0) - gammaln(b + 1.0) - gammaln(a - b + 1.0))

        with np.errstate(all="ignore"):
            out = np.exp(
                log_choose(float(n_periods), xs)
                + betaln(alpha + xs, beta + n_periods - xs)
                - betaln(alpha, beta)
                + betaln(gamma, delta + n_periods)
                - betaln(gamma, delta)
            )
            for i in range(n_periods):
                term = np.exp(
                    log_choose(float(i), xs)
                    + betaln(alpha + xs, beta + i - xs)
                    - betaln(alpha, beta)
                    + betaln(gamma + 1.0, delta + i)
                    - betaln(gamma, delta)
                )
                out = out + np.where(xs <= i, term, 0.0)
        return np.asarray(np.where(xs <= n_periods, out, 0.0), dtype=np.float64)
