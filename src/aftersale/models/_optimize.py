"""Maximum likelihood in log-parameter space: optimiser chain, numerical Hessian, SEs.

Private helpers shared by every estimator. All parameters of the customer-base models are
positive, so the search runs over ``log(theta)`` inside a wide box; standard errors come from
the inverse Hessian of the negative log-likelihood there and are mapped to the natural scale
with the delta method (``se(theta) = theta * se(log theta)``). Objectives with an analytic
gradient (:class:`GradientObjective`) are handed to scipy with ``jac=True``, so one pass gives
the value and the gradient; the others get central-difference gradients.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import minimize

__all__ = [
    "LOG_BOUND",
    "GradientObjective",
    "Optimum",
    "central_gradient",
    "covariance_from_hessian",
    "gradient_hessian",
    "minimize_log_nll",
    "numerical_hessian",
]

LOG_BOUND = 18.0
"""Half-width of the log-parameter box: parameters live in [exp(-18), exp(18)] ~ [1.5e-8, 6.6e7]."""

_BOUNDARY_MARGIN = 1e-2
_GRADIENT_TOL = 1e-6

Objective = Callable[[NDArray[np.float64]], float]
ValueAndGrad = Callable[[NDArray[np.float64]], tuple[float, NDArray[np.float64]]]


class GradientObjective:
    """An objective with an analytic gradient: calling it gives the value (for code that wants
    only that), :meth:`value_and_grad` gives both from one pass over the data."""

    def __init__(self, value_and_grad: ValueAndGrad) -> None:
        self._value_and_grad = value_and_grad

    def __call__(self, z: NDArray[np.float64]) -> float:
        """Objective value at ``z``."""
        return float(self._value_and_grad(np.asarray(z, dtype=np.float64))[0])

    def value_and_grad(self, z: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
        """Objective value and gradient at ``z``, computed together."""
        value, grad = self._value_and_grad(np.asarray(z, dtype=np.float64))
        return float(value), np.asarray(grad, dtype=np.float64)


@dataclass(frozen=True)
class Optimum:
    """Outcome of :func:`minimize_log_nll`: where it stopped and whether it can be trusted."""

    log_params: NDArray[np.float64]
    value: float
    converged: bool
    at_boundary: tuple[int, ...]
    method: str
    message: str


def _safe(objective: Objective) -> Objective:
    """Wrap an objective so that NaN or overflow reads as a huge (finite) loss, never a crash."""

    def wrapped(z: NDArray[np.float64]) -> float:
        value = float(objective(np.asarray(z, dtype=np.float64)))
        return value if np.isfinite(value) else 1e100

    return wrapped


def _safe_value_and_grad(fn: ValueAndGrad) -> ValueAndGrad:
    """Wrap a value-and-gradient so that NaN or overflow reads as a huge loss with no slope."""

    def wrapped(z: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
        value, grad = fn(np.asarray(z, dtype=np.float64))
        if np.isfinite(value) and np.all(np.isfinite(grad)):
            return float(value), np.asarray(grad, dtype=np.float64)
        return 1e100, np.zeros_like(np.asarray(z, dtype=np.float64))

    return wrapped


def central_gradient(
    objective: Objective, z: NDArray[np.float64], rel_step: float = 1e-6
) -> NDArray[np.float64]:
    """Central-difference gradient, accurate to about ``eps / rel_step`` relative, for optimisers.

    Central differences (not scipy's default forward ones) keep the gradient precise near the
    optimum, which the flat directions of these likelihoods (e.g. BG/NBD ``b``) need.
    """
    z = np.asarray(z, dtype=np.float64)
    grad = np.empty_like(z)
    for i in range(z.size):
        h = rel_step * max(1.0, abs(float(z[i])))
        step = np.zeros_like(z)
        step[i] = h
        grad[i] = (objective(z + step) - objective(z - step)) / (2.0 * h)
    return grad


def numerical_hessian(
    objective: Objective, z: NDArray[np.float64], rel_step: float = 1e-4
) -> NDArray[np.float64]:
    """Symmetric central-difference Hessian of ``objective`` at ``z`` (error O(h^2) + O(eps/h^2)).

    The default step ``1e-4 * max(1, |z_i|)`` balances truncation against round-off for smooth
    log-likelihoods of O(1e4) and is checked against analytic Hessians in the test-suite.
    """
    z = np.asarray(z, dtype=np.float64)
    k = z.size
    h = rel_step * np.maximum(1.0, np.abs(z))
    f0 = objective(z)
    hess = np.empty((k, k))
    eye = np.eye(k)
    for i in range(k):
        ei = eye[i] * h[i]
        hess[i, i] = (objective(z + ei) - 2.0 * f0 + objective(z - ei)) / h[i] ** 2
        for j in range(i):
            ej = eye[j] * h[j]
            value = (
                objective(z + ei + ej)
                - objective(z + ei - ej)
                - objective(z - ei + ej)
                + objective(z - ei - ej)
            ) / (4.0 * h[i] * h[j])
            hess[i, j] = hess[j, i] = value
    return hess


def gradient_hessian(
    gradient: Callable[[NDArray[np.float64]], NDArray[np.float64]],
    z: NDArray[np.float64],
    rel_step: float = 1e-5,
) -> NDArray[np.float64]:
    """Symmetrised central-difference Jacobian of an analytic ``gradient`` at ``z``: the Hessian.

    Differencing an exact gradient needs ``2 k`` gradient calls and loses only ``O(h^2)`` +
    ``O(eps / h)``, about 1e-8 relative at the default step, far below what standard errors need.
    """
    z = np.asarray(z, dtype=np.float64)
    k = z.size
    h = rel_step * np.maximum(1.0, np.abs(z))
    hess = np.empty((k, k))
    for i in range(k):
        step = np.zeros(k)
        step[i] = h[i]
        hess[:, i] = (gradient(z + step) - gradient(z - step)) / (2.0 * h[i])
    out: NDArray[np.float64] = 0.5 * (hess + hess.T)
    return out


def covariance_from_hessian(hess: NDArray[np.float64]) -> NDArray[np.float64] | None:
    """Inverse of a positive-definite Hessian, or ``None`` when it is not (no valid SEs)."""
    if not np.all(np.isfinite(hess)):
        return None
    sym = 0.5 * (hess + hess.T)
    try:
        chol = np.linalg.cholesky(sym)
    except np.linalg.LinAlgError:
        return None
    inv_chol = np.linalg.inv(chol)
    cov: NDArray[np.float64] = inv_chol.T @ inv_chol
    return cov


def _is_stationary(
    gradient: Callable[[NDArray[np.float64]], NDArray[np.float64]],
    z: NDArray[np.float64],
    value: float,
) -> bool:
    """True when the gradient is negligible relative to the objective's scale."""
    return _small_gradient(gradient(z), value)


def _small_gradient(grad: NDArray[np.float64], value: float) -> bool:
    """True when ``grad`` is negligible relative to the objective's scale ``value``."""
    return bool(
        np.all(np.isfinite(grad)) and np.max(np.abs(grad)) <= _GRADIENT_TOL * max(1.0, abs(value))
    )


def minimize_log_nll(
    objective: Objective,
    x0: NDArray[np.float64],
    hess_inv0: NDArray[np.float64] | None = None,
) -> Optimum:
    """Minimise a negative log-likelihood over log-parameters with scipy, falling back on failure.

    When ``objective`` is a :class:`GradientObjective` scipy's BFGS runs first with the
    analytic gradient (``jac=True``: value and gradient from one call), starting from the
    curvature ``hess_inv0`` when given (an inverse Hessian at ``x0``, e.g. from a fit on a
    subsample: a few Newton-like steps then suffice); its result is kept if stationary and
    well inside the box. Otherwise (or without an analytic gradient) L-BFGS-B runs inside
    ``[-LOG_BOUND, LOG_BOUND]`` (with the analytic or a central-difference gradient), and if
    that is not stationary Nelder-Mead (bounded) restarts from there and BFGS polishes.
    BFGS comes first because scipy's L-BFGS-B calls a threaded BLAS on its tiny matrices,
    which costs milliseconds per iteration on a busy machine. Returns the best point found,
    whether it is stationary, and which coordinates sit on the box.
    """
    safe = _safe(objective)
    lo, hi = -LOG_BOUND, LOG_BOUND
    start = np.clip(np.asarray(x0, dtype=np.float64), lo + 1.0, hi - 1.0)
    bounds = [(lo, hi)] * start.size
    analytic = getattr(objective, "value_and_grad", None)
    fun: Callable[..., Any]
    jac: Callable[..., Any] | bool
    if analytic is not None:
        safe_vg = _safe_value_and_grad(analytic)
        fun, jac = safe_vg, True

        def gradient(z: NDArray[np.float64]) -> NDArray[np.float64]:
            return safe_vg(z)[1]

    else:

        def gradient(z: NDArray[np.float64]) -> NDArray[np.float64]:
            return central_gradient(safe, z)

        fun, jac = safe, gradient

    if analytic is not None:
        options: dict[str, Any] = {"gtol": 1e-8, "maxiter": 100 * start.size}
        if hess_inv0 is not None:
            options["hess_inv0"] = hess_inv0
        warm = minimize(fun, start, method="BFGS", jac=True, options=options)
        z = np.asarray(warm.x, dtype=np.float64)
        inside = bool(np.all(np.abs(z) < hi - 1.0))
        if inside and float(warm.fun) < 1e100 and _small_gradient(warm.jac, float(warm.fun)):
            return Optimum(z, float(warm.fun), True, (), "BFGS", str(warm.message))
        if inside and np.isfinite(warm.fun) and float(warm.fun) < safe(start):
            start = z

    res = minimize(
        fun,
        start,
        method="L-BFGS-B",
        jac=jac,
        bounds=bounds,
        options={
            "maxiter": 5000,
            "ftol": 1e-15,
            "gtol": 1e-8 if analytic is not None else 1e-9,
            "maxcor": 20,
        },
    )
    best_z, best_f = np.asarray(res.x, dtype=np.float64), float(res.fun)
    method, message = "L-BFGS-B", str(res.message)
    final_grad = getattr(res, "jac", None) if analytic is not None else None
    if final_grad is not None and np.shape(final_grad) == best_z.shape:
        # L-BFGS-B reports the exact gradient at its result: no extra pass over the data
        converged = _small_gradient(np.asarray(final_grad, dtype=np.float64), best_f)
    else:
        converged = _is_stationary(gradient, best_z, best_f)
    converged = converged or bool(_on_edge(best_z))
    if not converged:
        nm = minimize(
            safe,
            best_z,
            method="Nelder-Mead",
            bounds=bounds,
            options={"maxiter": 4000 * start.size, "xatol": 1e-10, "fatol": 1e-13},
        )
        bfgs = minimize(fun, np.clip(nm.x, lo, hi), method="BFGS", jac=jac, options={"gtol": 1e-9})
        for cand, name in ((nm, "Nelder-Mead"), (bfgs, "Nelder-Mead+BFGS")):
            z = np.clip(np.asarray(cand.x, dtype=np.float64), lo, hi)
            f = safe(z)
            if f <= best_f:
                best_z, best_f, method, message = z, f, name, str(cand.message)
        converged = _is_stationary(gradient, best_z, best_f) or bool(_on_edge(best_z))
    return Optimum(best_z, best_f, converged and best_f < 1e100, _on_edge(best_z), method, message)


def _on_edge(z: NDArray[np.float64]) -> tuple[int, ...]:
    """Indices of log-parameters within the margin of the search box."""
    limit = LOG_BOUND - _BOUNDARY_MARGIN
    return tuple(i for i, v in enumerate(z) if abs(float(v)) >= limit)
