"""Shared plumbing of the (frequency, recency, T) purchase-count models, with fallbacks.

Subclasses (BG/NBD, MBG/NBD, Pareto/NBD, NBD, the RFM heuristic) supply per-pattern
log-likelihoods and closed-form predictions; this class validates and aggregates input,
checks that the data can identify a dropout process, fits, and falls back
(primary -> NBD -> RFM heuristic) with a typed warning when the fit cannot be trusted.
Predictions are always served by ``model_used_``; non-finite values are replaced by the
heuristic's with a :class:`NumericalWarning`, never returned silently.
"""

from __future__ import annotations

import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, Self

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from aftersale.errors import InvalidInputError
from aftersale.models._special import INTERP_MIN_ROWS, interpolate_by_group
from aftersale.models.base import (
    BaseModel,
    FloatArray,
    LoglikGrad,
    RfmData,
    _aggregate,
    validate_rfm,
)
from aftersale.models.warnings import FewRepeatBuyersWarning, NumericalWarning

if TYPE_CHECKING:
    from aftersale.models.heuristic import RfmHeuristicModel

__all__ = ["CountModel"]

_RFM_COLUMNS = ("frequency", "recency", "T")
_PILOT_ROWS = 50_000
"""Above 4x this many distinct patterns a fit starts from the optimum on a 1-in-k subsample."""


class CountModel(BaseModel, ABC):
    """Base of the customer-base purchase-count models; see the module docstring for the flow.

    Parameters
    ----------
    penalizer_coef : float
        L2 penalty on the natural-scale parameters, added to the mean negative log-likelihood
        (as in lifetimes); 0 fits the plain MLE.
    fallback : bool
        Fall back (primary -> NBD -> RFM heuristic) when the fit cannot be trusted; with False
        the model warns but keeps its own, possibly unreliable, fit.
    min_repeat_share, min_repeat_buyers : float, int, optional
        Below either (default 5% and 30 repeat buyers; NBD: 0% and 1) the data cannot identify
        a dropout process: :class:`FewRepeatBuyersWarning` and the fallback.
    """

    _name: ClassVar[str] = "count"
    _default_min_share: ClassVar[float] = 0.05
    _default_min_buyers: ClassVar[int] = 30
    _smooth_in_scale: ClassVar[bool] = False
    """True when ``_expected_given_alive`` depends on a customer only through ``x`` and
    ``alpha + T``, smoothly (BG/NBD, MBG/NBD): large inputs are then scored by interpolation
    per frequency (:func:`~aftersale.models._special.interpolate_by_group`)."""

    fallback_: CountModel | None = None
    heuristic_: RfmHeuristicModel | None = None

    def __init__(
        self,
        *,
        penalizer_coef: float = 0.0,
        fallback: bool = True,
        min_repeat_share: float | None = None,
        min_repeat_buyers: int | None = None,
    ) -> None:
        super().__init__(penalizer_coef=penalizer_coef)
        self.fallback = fallback
        self.min_repeat_share = min_repeat_share
        self.min_repeat_buyers = min_repeat_buyers

    def get_params(self) -> dict[str, Any]:
        """Constructor settings, as in scikit-learn (learned values are in ``params_``)."""
        return {
            **super().get_params(),
            "fallback": self.fallback,
            "min_repeat_share": self.min_repeat_share,
            "min_repeat_buyers": self.min_repeat_buyers,
        }

    # ----------------------------------------------------------------- fitting
    def fit(
        self,
        frequency: ArrayLike,
        recency: ArrayLike,
        T: ArrayLike,  # noqa: N803
        *,
        weights: ArrayLike | None = None,
    ) -> Self:
        """Fit by maximum likelihood on repeat-purchase counts; fall back if it cannot be trusted.

        ``frequency`` = repeat purchases, ``recency`` = age at last purchase, ``T`` = age now,
        all per customer and in one time unit (e.g. weeks); optional ``weights`` count
        customers per row. See ``model_used_`` for the model actually serving predictions.
        """
        x, t_x, age, w = validate_rfm(frequency, recency, T, weights)
        return self._fit_data(_aggregate(x, t_x, age, w))

    def fit_frame(self, frame: pd.DataFrame) -> Self:
        """Fit on an ``RfmFrame`` (``frequency``, ``recency``, ``T``; ``weights`` optional)."""
        missing = [c for c in _RFM_COLUMNS if c not in frame.columns]
        if missing:
            raise InvalidInputError(
                f"Column(s) {', '.join(missing)} missing from the RFM frame; expected columns: "
                f"{', '.join(_RFM_COLUMNS)} (weights optional); found: "
                f"{', '.join(map(str, frame.columns))}"
            )
        weights = frame["weights"] if "weights" in frame.columns else None
        return self.fit(frame["frequency"], frame["recency"], frame["T"], weights=weights)

    def _fit_data(self, data: RfmData) -> Self:
        from aftersale.models.heuristic import RfmHeuristicModel

        self.n_customers_ = data.total_weight
        self.n_repeat_buyers_ = data.repeat_weight
        self.heuristic_ = RfmHeuristicModel()._fit_data(data)
        self.fallback_ = None
        reason = self._few_repeat_reason(data)
        if reason:
            warnings.warn(FewRepeatBuyersWarning(f"{type(self).__name__}: {reason}"), stacklevel=3)
        if reason and self.fallback:
            nan = np.full(len(self._param_names), np.nan)
            self._set_params(nan, None, float("nan"), converged=False)
            trusted = False
        else:
            trusted = self._fit_own(data)
        if not trusted and self.fallback:
            self.fallback_ = self._fit_fallback(data)
            self.model_used_ = self.fallback_.model_used_
        return self

    def _few_repeat_reason(self, data: RfmData) -> str:
        share = self.min_repeat_share
        share = self._default_min_share if share is None else share
        least = (
            self._default_min_buyers if self.min_repeat_buyers is None else self.min_repeat_buyers
        )
        n_rep, n = data.repeat_weight, data.total_weight
        if n_rep < least or n_rep < share * n:
            return (
                f"{n_rep:.0f} of {n:.0f} customers ({n_rep / n:.1%}) bought again; at least "
                f"{least} and {share:.0%} are needed to fit {type(self).__name__}"
            )
        return ""

    def _fit_own(self, data: RfmData) -> bool:
        """Fit this model's own likelihood; True when the fit is trustworthy."""

        def terms(theta: FloatArray) -> FloatArray:
            return self._loglik_terms(tuple(float(v) for v in theta), data.x, data.t_x, data.T)

        loglik_grad = self._loglik_grad(data)
        pilot = None
        if loglik_grad is not None and data.x.size >= 4 * _PILOT_ROWS:
            # every k-th pattern (sorted by x when aggregated: a stratified sample)
            step = data.x.size // _PILOT_ROWS
            sub = RfmData(data.x[::step], data.t_x[::step], data.T[::step], data.weights[::step])
            sub_grad = self._loglik_grad(sub)
            pilot = None if sub_grad is None else (sub_grad, sub.total_weight)
        return self._maximise(
            terms,
            data.weights,
            self._initial_params(data),
            loglik_grad=loglik_grad,
            pilot=pilot,
        )

    def _fit_fallback(self, data: RfmData) -> CountModel:
        """Next model in the chain: NBD, whose own fallback is the RFM heuristic."""
        from aftersale.models.nbd import NBDModel

        nbd = NBDModel(penalizer_coef=self.penalizer_coef)._fit_data(data)
        return nbd if nbd.fallback_ is None else nbd.fallback_

    def log_likelihood(
        self,
        frequency: ArrayLike,
        recency: ArrayLike,
        T: ArrayLike,  # noqa: N803
        *,
        weights: ArrayLike | None = None,
    ) -> float:
        """Total log-likelihood of data under this model's parameters (e.g. a paper's)."""
        self.check_is_fitted("log_likelihood()")
        x, t_x, age, w = validate_rfm(frequency, recency, T, weights)
        with np.errstate(all="ignore"):
            return float(np.dot(w, self._loglik_terms(self._values(), x, t_x, age)))

    # --------------------------------------------------------------- hooks
    def _initial_params(self, data: RfmData) -> tuple[float, ...]:
        """Starting point of the likelihood search (models fitted another way don't have one)."""
        raise TypeError(f"{type(self).__name__} is not fitted by maximum likelihood")

    def _loglik_terms(
        self,
        theta: tuple[float, ...],
        x: FloatArray,
        t_x: FloatArray,
        T: FloatArray,  # noqa: N803
    ) -> FloatArray:
        """Per-customer log-likelihood terms (models fitted another way don't have them)."""
        raise TypeError(f"{type(self).__name__} has no likelihood")

    def _loglik_grad(self, data: RfmData) -> LoglikGrad | None:
        """Value-and-analytic-gradient of the weighted likelihood on ``data``, if the model has
        one (else the optimiser differentiates :meth:`_loglik_terms` numerically)."""
        return None

    @abstractmethod
    def _p_alive(self, x: FloatArray, t_x: FloatArray, T: FloatArray) -> FloatArray:  # noqa: N803
        """P(alive) for each customer."""

    def _expected(
        self,
        t: FloatArray,
        x: FloatArray,
        t_x: FloatArray,
        T: FloatArray,  # noqa: N803
    ) -> FloatArray:
        """Expected purchases in ``t``: P(alive) times the expectation given alive."""
        alive = self._p_alive(x, t_x, T)
        if self._smooth_in_scale and np.size(t) == 1 and x.size >= INTERP_MIN_ROWS:
            horizon = np.asarray(np.ravel(t)[0], dtype=np.float64)
            given_alive = self._smooth_given_alive(
                lambda xs, ages: self._expected_given_alive(horizon, xs, ages, ages), x, T
            )
        else:
            given_alive = self._expected_given_alive(t, x, t_x, T)
        return np.asarray(alive * given_alive, dtype=np.float64)

    def _smooth_given_alive(
        self,
        fn: Callable[[FloatArray, FloatArray], FloatArray],
        x: FloatArray,
        T: FloatArray,  # noqa: N803
    ) -> FloatArray:
        """``fn(x, T)`` (a positive given-alive quantity that depends on ``T`` only through
        ``alpha + T``) for every customer, interpolated in ``log(alpha + T)`` per frequency."""
        alpha = self._values()[1]
        return interpolate_by_group(lambda g, scale: fn(g, scale - alpha), x, alpha + T)

    def _discounted_closed(
        self,
        times: FloatArray,
        factors: FloatArray,
        x: FloatArray,
        t_x: FloatArray,
        T: FloatArray,  # noqa: N803
    ) -> FloatArray | None:
        """Model-specific one-pass form of :meth:`_discounted_purchases`, or None if none.

        For the ``_smooth_in_scale`` models the increments share P(alive), so the discounted
        sum is P(alive) times one given-alive function of ``(x, alpha + T)``, interpolated
        per frequency: the hypergeometric terms are evaluated at ~100 points per distinct
        ``x`` and horizon instead of once per customer and horizon.
        """
        if not self._smooth_in_scale:
            return None

        def combined(xs: FloatArray, ages: FloatArray) -> FloatArray:
            total = np.zeros(ages.shape)
            previous = np.zeros(ages.shape)
            for t, factor in zip(times, factors, strict=True):
                current = self._expected_given_alive(t, xs, ages, ages)
                total += factor * (current - previous)
                previous = current
            return total

        return self._p_alive(x, t_x, T) * self._smooth_given_alive(combined, x, T)

    def _discounted_purchases(
        self,
        times: FloatArray,
        factors: FloatArray,
        x: FloatArray,
        t_x: FloatArray,
        T: FloatArray,  # noqa: N803
    ) -> FloatArray:
        """``sum_m factors[m] (E[Y(times[m])] - E[Y(times[m-1])])`` per customer (``E[Y(0)] = 0``).

        ``E`` is :meth:`expected_purchases`'s (guarded, non-negative); this is the purchase
        part of a discounted CLV. The serving model's one-pass form is used where it gives
        finite values; other rows take one guarded pass per horizon.
        """
        model = self._active("clv()")
        with np.errstate(all="ignore"):
            fast = model._discounted_closed(times, factors, x, t_x, T)
        if fast is None:
            out, bad = np.zeros(np.shape(x)), np.ones(np.shape(x), dtype=bool)
        else:
            bad = ~np.isfinite(fast)
            out = np.maximum(fast, 0.0, out=fast)
            if not np.any(bad):
                return out
        rows = (x[bad], t_x[bad], T[bad])
        value = np.zeros(rows[0].shape)
        previous = np.zeros(rows[0].shape)
        for t, factor in zip(times, factors, strict=True):
            cumulative = self._expected_checked(np.asarray(t), *rows)
            value += factor * (cumulative - previous)
            previous = cumulative
        out[bad] = value
        return out

    @abstractmethod
    def _expected_given_alive(
        self,
        t: FloatArray,
        x: FloatArray,
        t_x: FloatArray,
        T: FloatArray,  # noqa: N803
    ) -> FloatArray:
        """Expected purchases in ``t`` for a customer known to be alive."""

    @abstractmethod
    def _expected_unconditional(self, t: FloatArray) -> FloatArray:
        """Expected purchases in ``t`` for a new customer."""

    @abstractmethod
    def _pmf(self, t: FloatArray, n: FloatArray) -> FloatArray:
        """P(exactly n purchases in t) for a new customer."""

    def _wait_quantile(
        self,
        q: FloatArray,
        x: FloatArray,
        t_x: FloatArray,
        T: FloatArray,  # noqa: N803
    ) -> FloatArray:
        """Quantile of the wait to the next purchase given alive: Lomax from the gamma posterior."""
        r, alpha = self._values()[:2]
        shape, scale = r + x, alpha + T
        return np.asarray(scale * np.expm1(-np.log1p(-q) / shape), dtype=np.float64)

    def _after_from_params(self) -> None:
        from aftersale.models.heuristic import RfmHeuristicModel

        r, alpha = self._values()[:2]  # every count model starts with the gamma(r, alpha) rate
        rate = r / alpha
        self.heuristic_ = RfmHeuristicModel.from_params(mean_gap=1.0 / rate, pooled_rate=rate)

    # ----------------------------------------------------------- predictions
    def _active(self, method: str) -> CountModel:
        self.check_is_fitted(method)
        return self if self.fallback_ is None else self.fallback_

    def _guard(
        self, values: FloatArray, replacement: Callable[[], FloatArray], what: str
    ) -> FloatArray:
        """``values`` with non-finite entries replaced by ``replacement()`` (computed only then)."""
        bad = ~np.isfinite(values)
        if np.any(bad):
            warnings.warn(
                NumericalWarning(
                    f"{type(self).__name__}.{what}: {int(bad.sum())} non-finite value(s) replaced "
                    "by the RFM heuristic"
                ),
                stacklevel=3,
            )
            values = np.where(bad, replacement(), values)
        return values

    def _heuristic(self) -> RfmHeuristicModel:
        assert self.heuristic_ is not None
        return self.heuristic_

    def probability_alive(
        self,
        frequency: ArrayLike,
        recency: ArrayLike,
        T: ArrayLike,  # noqa: N803
    ) -> FloatArray:
        """P(customer is still active at T) given their history; always finite, in [0, 1]."""
        model = self._active("probability_alive()")
        x, t_x, age, _ = validate_rfm(frequency, recency, T)
        with np.errstate(all="ignore"):
            p = model._p_alive(x, t_x, age)
        p = self._guard(p, lambda: self._heuristic()._p_alive(x, t_x, age), "probability_alive")
        return np.clip(p, 0.0, 1.0)

    def expected_purchases(
        self,
        t: ArrayLike,
        frequency: ArrayLike,
        recency: ArrayLike,
        T: ArrayLike,  # noqa: N803
    ) -> FloatArray:
        """Expected repeat purchases in the next ``t`` time units given each customer's history."""
        self._active("expected_purchases()")
        x, t_x, age, _ = validate_rfm(frequency, recency, T)
        return self._expected_checked(np.asarray(t, dtype=np.float64), x, t_x, age)

    def _expected_checked(
        self,
        tt: FloatArray,
        x: FloatArray,
        t_x: FloatArray,
        age: FloatArray,
    ) -> FloatArray:
        """Serving model's expected purchases on validated input: guarded, non-negative."""
        model = self._active("expected_purchases()")
        with np.errstate(all="ignore"):
            out = model._expected(tt, x, t_x, age)
        out = self._guard(
            out, lambda: self._heuristic()._expected(tt, x, t_x, age), "expected_purchases"
        )
        return np.maximum(out, 0.0)

    def expected_purchases_unconditional(self, t: ArrayLike) -> FloatArray:
        """Expected repeat purchases in ``(0, t]`` for a new, randomly chosen customer."""
        model = self._active("expected_purchases_unconditional()")
        tt = np.atleast_1d(np.asarray(t, dtype=np.float64))
        with np.errstate(all="ignore"):
            out = model._expected_unconditional(tt)
        out = self._guard(
            out, lambda: self._heuristic()._expected_unconditional(tt), "expected_purchases"
        )
        return np.maximum(out, 0.0)

    def probability_of_n_purchases(self, t: ArrayLike, n: ArrayLike) -> FloatArray:
        """P(exactly ``n`` repeat purchases in ``(0, t]``) for a new, randomly chosen customer."""
        model = self._active("probability_of_n_purchases()")
        tt, nn = np.broadcast_arrays(
            np.atleast_1d(np.asarray(t, dtype=np.float64)), np.asarray(n, dtype=np.float64)
        )
        if np.any((nn < 0) | (nn != np.floor(nn))) or np.any(tt < 0):
            raise InvalidInputError("'n' must be whole numbers >= 0 and 't' must be >= 0")
        with np.errstate(all="ignore"):
            out = model._pmf(tt, nn)
        out = self._guard(out, lambda: self._heuristic()._pmf(tt, nn), "probability_of_n_purchases")
        return np.clip(out, 0.0, 1.0)

    def expected_next_purchase(
        self,
        frequency: ArrayLike,
        recency: ArrayLike,
        T: ArrayLike,  # noqa: N803
        *,
        level: float = 0.8,
        as_of: pd.Timestamp | None = None,
        time_unit: str = "W",
    ) -> pd.DataFrame:
        """When each customer's next purchase is expected (from ``T``), with a ``level`` interval.

        ``expected_wait`` solves E[purchases in (T, T+w] | alive] = 1 (inf if never reached);
        ``wait_lower``/``wait_median``/``wait_upper`` are quantiles of the wait, mixing
        P(alive) with the gamma posterior of the purchase rate, so they are inf where the
        customer has likely churned. With ``as_of`` the waits are also given as dates, to the
        second (``time_unit`` is a pandas unit such as "D" or "W"; NaT where infinite or past
        ~30 years).
        """
        if not 0.0 < level < 1.0:
            raise InvalidInputError(f"'level' must be between 0 and 1; got {level}")
        model = self._active("expected_next_purchase()")
        p_alive = self.probability_alive(frequency, recency, T)
        x, t_x, age, _ = validate_rfm(frequency, recency, T)
        frame = pd.DataFrame(
            {"probability_alive": p_alive, "expected_wait": model._solve_wait(x, t_x, age)}
        )
        for col, q in (
            ("wait_lower", (1 - level) / 2),
            ("wait_median", 0.5),
            ("wait_upper", (1 + level) / 2),
        ):
            with np.errstate(all="ignore"):
                cond_q = np.minimum(q / np.maximum(p_alive, 1e-300), 1.0)
                wait = model._wait_quantile(cond_q, x, t_x, age)
            frame[col] = np.where(q < p_alive, wait, np.inf)
        if as_of is not None:
            try:
                unit_ns = float(pd.to_timedelta(f"1{time_unit}").value)
            except ValueError as exc:
                raise InvalidInputError(
                    f"'time_unit' {time_unit!r} is not a pandas time unit (e.g. 'D', 'W', 'h')"
                ) from exc
            for col in ("expected_wait", "wait_lower", "wait_median", "wait_upper"):
                nanos = frame[col].to_numpy() * unit_ns
                finite = np.isfinite(nanos) & (nanos < 1e18)
                offsets = pd.to_timedelta(np.where(finite, nanos, 0.0).astype(np.int64), unit="ns")
                dates = pd.Series(as_of + offsets, index=frame.index).dt.round("s")
                frame[col.replace("wait", "date")] = dates.where(finite)
        return frame

    def _solve_wait(self, x: FloatArray, t_x: FloatArray, T: FloatArray) -> FloatArray:  # noqa: N803
        """Vectorised bisection (in log time) for E[Y(w) | alive] = 1; inf when unreachable."""
        lo = np.full(x.shape, -12.0)
        hi = np.full(x.shape, 14.0)
        with np.errstate(all="ignore"):
            reach = self._expected_given_alive(np.exp(hi), x, t_x, T) >= 1.0
            for _ in range(60):
                mid = 0.5 * (lo + hi)
                above = self._expected_given_alive(np.exp(mid), x, t_x, T) >= 1.0
                hi = np.where(above, mid, hi)
                lo = np.where(above, lo, mid)
        return np.where(reach, np.exp(0.5 * (lo + hi)), np.inf)
