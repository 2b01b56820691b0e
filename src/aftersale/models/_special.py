"""Numerically careful special-function helpers shared by the models (private).

The Pareto/NBD and BG/NBD expressions contain Gauss hypergeometric functions whose series
diverge as ``z -> 1`` when ``c - a - b < 0``; Euler's transformation
``2F1(a, b; c; z) = (1 - z)^(c - a - b) 2F1(c - a, c - b; c; z)`` turns them into convergent
series with positive terms, and everything is carried in logs so that large frequencies and
long horizons neither overflow nor cancel.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import betainc, betaln, hyp2f1, logsumexp

FloatArray = NDArray[np.float64]

__all__ = [
    "beta_mixed_expected_purchases",
    "expected_with_fallback",
    "hyp_tail",
    "interpolate_by_group",
    "log_hyp2f1",
    "log_integral_decreasing",
    "logdiffexp",
    "nbd_survival",
    "not_one",
]


def log_hyp2f1(a: ArrayLike, b: ArrayLike, c: ArrayLike, z: ArrayLike) -> NDArray[np.float64]:
    """Log of ``2F1(a, b; c; z)`` for ``a, b, c > 0`` and ``0 <= z < 1``, stable near ``z = 1``.

    Where ``c - a - b < 0`` (the series diverges at 1) and Euler's transform keeps every
    parameter positive, the transformed series is used and its prefactor added in log space;
    elsewhere the direct value is used. Either form is retried if the other is not finite.
    """
    a_, b_, c_, z_ = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (a, b, c, z)))
    s = c_ - a_ - b_
    use_euler = (s < 0) & (c_ - a_ > 0) & (c_ - b_ > 0)
    with np.errstate(all="ignore"):
        direct = np.log(hyp2f1(a_, b_, c_, z_))
        euler = s * np.log1p(-z_) + np.log(hyp2f1(c_ - a_, c_ - b_, c_, z_))
        out = np.where(use_euler, euler, direct)
        out = np.where(np.isfinite(out), out, np.where(use_euler, direct, euler))
    return np.asarray(out, dtype=np.float64)


def logdiffexp(big: ArrayLike, small: ArrayLike) -> NDArray[np.float64]:
    """``log(exp(big) - exp(small))`` for ``big >= small`` without overflow or cancellation."""
    big_ = np.asarray(big, dtype=np.float64)
    small_ = np.asarray(small, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = big_ + np.log(-np.expm1(np.minimum(small_ - big_, 0.0)))
    return np.asarray(out, dtype=np.float64)


def nbd_survival(n: ArrayLike, r: float, alpha: float, t: ArrayLike) -> NDArray[np.float64]:
    """``P(N(t) >= n)`` for a gamma(r, alpha)-mixed Poisson count: ``I_{t/(alpha+t)}(n, r)``.

    This is one minus the finite NBD sum in the BG/NBD and MBG/NBD ``P(X(t) = n)`` formulas,
    computed with the regularised incomplete beta function instead of summing terms; it is 1
    for ``n = 0``.
    """
    n_ = np.asarray(n, dtype=np.float64)
    t_ = np.asarray(t, dtype=np.float64)
    p = t_ / (alpha + t_)
    with np.errstate(all="ignore"):
        tail = betainc(np.maximum(n_, 1.0), r, p)
    return np.asarray(np.where(n_ > 0, tail, 1.0), dtype=np.float64)


def hyp_tail(
    shape: ArrayLike, b: ArrayLike, c: ArrayLike, scale: ArrayLike, t: ArrayLike
) -> NDArray[np.float64]:
    """``(scale / (scale + t))^shape * 2F1(shape, b; c; t / (scale + t))``, computed in log space.

    This is the term shared by the BG/NBD and MBG/NBD expectations; ``scale`` is ``alpha`` (or
    ``alpha + T`` conditionally) and ``shape`` is ``r`` (or ``r + x``).
    """
    sh, sc, tt = (np.asarray(v, dtype=np.float64) for v in (shape, scale, t))
    z = tt / (sc + tt)
    log_term = sh * (np.log(sc) - np.log(sc + tt)) + log_hyp2f1(sh, b, c, z)
    return np.asarray(np.exp(log_term), dtype=np.float64)


_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(8)


def log_integral_decreasing(
    log_f: Callable[[NDArray[np.float64]], NDArray[np.float64]],
    lo: ArrayLike,
    hi: ArrayLike,
    panels: int = 60,
) -> NDArray[np.float64]:
    """``log(integral_lo^hi f)`` for positive integrands concentrated near ``lo``, row-wise.

    Gauss-Legendre (8 nodes) on dyadic panels ``[lo + L 2^-(j+1), lo + L 2^-j]`` (``L = hi - lo``)
    resolves any decay scale down to ``L 2^-panels``; ``log_f`` receives a ``(rows, nodes)`` array
    of abscissae and returns the log-integrand. A robust fallback for hypergeometric terms.
    """
    lo_, hi_ = (np.atleast_1d(np.asarray(v, dtype=np.float64)) for v in (lo, hi))
    length = hi_ - lo_
    edges = np.concatenate([[0.0], 2.0 ** -np.arange(panels, -1, -1, dtype=np.float64)])
    left, width = edges[:-1], np.diff(edges)
    frac = (left[:, None] + width[:, None] * (_GL_NODES[None, :] + 1.0) / 2.0).ravel()
    wts = (width[:, None] * _GL_WEIGHTS[None, :] / 2.0).ravel()
    tau = lo_[:, None] + length[:, None] * frac[None, :]
    with np.errstate(all="ignore"):
        terms = log_f(tau) + np.log(wts)[None, :] + np.log(length)[:, None]
        out = logsumexp(terms, axis=1)
    return np.asarray(np.where(length > 0, out, -np.inf), dtype=np.float64)


def _tanh_sinh_nodes(
    level: int = 32, span: float = 5.0
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Log-abscissae ``log p``, ``log(1 - p)`` and log-weights of tanh-sinh quadrature on (0, 1)."""
    step = 1.0 / level
    u = np.arange(-span, span + step / 2, step)
    v = 0.5 * np.pi * np.sinh(u)
    log_p = -np.logaddexp(0.0, -2.0 * v)
    log_q = -np.logaddexp(0.0, 2.0 * v)
    log_cosh_v = np.abs(v) + np.log1p(np.exp(-2.0 * np.abs(v))) - np.log(2.0)
    log_w = np.log(step * np.pi / 4.0) + np.log(np.cosh(u)) - 2.0 * log_cosh_v
    log_w[[0, -1]] -= np.log(2.0)  # trapezoid end weights: the tails are added analytically
    return log_p, log_q, log_w


_TS_LOG_P, _TS_LOG_Q, _TS_LOG_W = _tanh_sinh_nodes()


def beta_mixed_expected_purchases(
    shape: ArrayLike, scale: ArrayLike, a: ArrayLike, b: ArrayLike, t: ArrayLike
) -> FloatArray:
    """``E_p[(1 - (1 + p t / scale)^-shape) / p]`` for ``p ~ Beta(a, b)``, by tanh-sinh quadrature.

    This is the BG/NBD-family expected number of purchases in ``t`` (``shape = r + x``,
    ``scale = alpha + T``): the hypergeometric closed form written as the integral it comes
    from. Log-space double-exponential nodes reach ``p ~ 1e-100`` and handle the ``p^(a-1)``,
    ``(1-p)^(b-1)`` end-point singularities (the mass beyond the last nodes is added in closed
    form), so it stays finite for any parameters; accurate to ~1e-4 relative or better. Used
    only where ``hyp2f1`` breaks down.
    """
    sh, sc, aa, bb, tt = np.broadcast_arrays(
        *(np.asarray(v, dtype=np.float64)[..., None] for v in (shape, scale, a, b, t))
    )
    log_p, log_q = _TS_LOG_P, _TS_LOG_Q
    a0, b0 = aa[..., 0], bb[..., 0]
    with np.errstate(all="ignore"):
        log_growth = np.log1p(np.exp(log_p) * tt / sc)
        log_h = np.log(-np.expm1(-sh * log_growth)) - log_p
        log_density = (aa - 1.0) * log_p + (bb - 1.0) * log_q - betaln(a0, b0)[..., None]
        inner = logsumexp(log_h + log_density + _TS_LOG_W, axis=-1)
        # mass beyond the outermost nodes, where h is flat: h(0) p0^a / a and h(1) q0^b / b
        h0 = np.log(sh[..., 0] * tt[..., 0] / sc[..., 0])
        h1 = np.log(-np.expm1(-sh[..., 0] * np.log1p(tt[..., 0] / sc[..., 0])))
        near0 = h0 + a0 * log_p[0] - np.log(a0) - betaln(a0, b0)
        near1 = h1 + b0 * log_q[-1] - np.log(b0) - betaln(a0, b0)
        out = np.exp(np.logaddexp(inner, np.logaddexp(near0, near1)))
    return np.asarray(out, dtype=np.float64)


def expected_with_fallback(
    prefactor: ArrayLike,
    tail: ArrayLike,
    shape: ArrayLike,
    scale: ArrayLike,
    a: ArrayLike,
    b: ArrayLike,
    t: ArrayLike,
) -> FloatArray:
    """``prefactor * (1 - tail)`` (the closed form) where it is safe, else the quadrature.

    Unsafe: not finite or negative, ``a`` within 1e-4 of 1 (``prefactor ~ 1 / (a - 1)``), or
    ``1 - tail < 1e-6`` (cancellation at short horizons); there
    :func:`beta_mixed_expected_purchases` is used instead.
    """
    pre, tl, sh, sc, aa, bb, tt = np.broadcast_arrays(
        *(np.asarray(v, dtype=np.float64) for v in (prefactor, tail, shape, scale, a, b, t))
    )
    with np.errstate(all="ignore"):
        values = pre * (1.0 - tl)
    bad = (
        ~np.isfinite(values) | (values < 0) | (np.abs(aa - 1.0) < 1e-4) | (np.abs(1.0 - tl) < 1e-6)
    )
    if not np.any(bad):
        return np.asarray(values, dtype=np.float64)
    out = np.array(values, dtype=np.float64)
    out[bad] = beta_mixed_expected_purchases(sh[bad], sc[bad], aa[bad], bb[bad], tt[bad])
    return out


def not_one(a: float) -> float:
    """Move ``a`` off the removable singularity at 1 of the ``1 / (a - 1)`` expressions."""
    return a if abs(a - 1.0) > 1e-7 else 1.0 + 1e-7


_INTERP_DEGREES = (16, 32, 64)
_INTERP_TAIL_TOL = 1e-12
_INTERP_CHECK_TOL = 1e-10
INTERP_MIN_ROWS = 128
"""Groups smaller than this are evaluated directly (an interpolant costs 31 to 127 calls)."""


def _chebyshev_nodes(n: int) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Chebyshev points of the first kind on [-1, 1], the check points between them, and the
    matrix that maps values at the nodes to Chebyshev coefficients."""
    k = np.arange(n) + 0.5
    nodes = np.cos(np.pi * k / n)
    check = np.cos(np.pi * np.arange(1, n) / n)
    to_coef = (2.0 / n) * np.cos(np.pi * np.outer(np.arange(n), k) / n)
    to_coef[0] *= 0.5
    return nodes, check, to_coef


def _clenshaw(y: FloatArray, coef: FloatArray) -> FloatArray:
    """``sum_j coef[j] T_j(y)`` by Clenshaw's recurrence, three in-place passes per degree."""
    b1 = np.zeros_like(y)
    b2 = np.zeros_like(y)
    tmp = np.empty_like(y)
    y2 = 2.0 * y
    for c in coef[:0:-1]:
        np.multiply(y2, b1, out=tmp)
        tmp -= b2
        tmp += c
        b1, b2, tmp = tmp, b1, b2
    np.multiply(y, b1, out=tmp)
    tmp -= b2
    tmp += coef[0]
    return tmp


def _fit_log_chebyshev(
    func: Callable[[FloatArray, FloatArray], FloatArray],
    groups: FloatArray,
    lo: FloatArray,
    hi: FloatArray,
) -> list[FloatArray | None]:
    """Chebyshev coefficients of ``log(func(g, exp(u)))`` on ``[lo, hi]`` for every group ``g``.

    All groups are sampled in one call of ``func`` per degree (16, 32, 64): a group is resolved
    when its last two coefficients are below 1e-12 (absolute in log space, i.e. relative in
    ``func``) and the interpolant then matches ``func`` within 1e-10 at the points halfway
    between the nodes. None for a group that is not resolved or not finite and positive.
    """
    result: list[FloatArray | None] = [None] * groups.size
    pending = np.arange(groups.size)
    for n in _INTERP_DEGREES:
        if pending.size == 0:
            break
        nodes, check, to_coef = _chebyshev_nodes(n)
        points = np.concatenate([nodes, check])
        mid = 0.5 * (hi[pending] + lo[pending])
        half = 0.5 * (hi[pending] - lo[pending])
        u = mid[:, None] + half[:, None] * points[None, :]
        g = np.broadcast_to(groups[pending][:, None], u.shape)
        with np.errstate(all="ignore"):
            values = np.asarray(func(g.ravel(), np.exp(u).ravel()), dtype=np.float64)
            log_values = np.log(values.reshape(u.shape))
        ok = np.all(np.isfinite(log_values), axis=1)
        coef = np.where(ok[:, None], log_values[:, :n], 0.0) @ to_coef.T
        resolved = ok & (np.max(np.abs(coef[:, -2:]), axis=1) <= _INTERP_TAIL_TOL)
        for i in np.flatnonzero(resolved):
            err = np.abs(_clenshaw(check, coef[i]) - log_values[i, n:])
            if np.all(err <= _INTERP_CHECK_TOL):
                keep = np.flatnonzero(np.abs(coef[i]) > 0.01 * _INTERP_TAIL_TOL)
                result[int(pending[i])] = coef[i, : int(keep[-1]) + 1] if keep.size else coef[i, :1]
        pending = pending[ok & ~resolved]
    return result


def interpolate_by_group(
    func: Callable[[FloatArray, FloatArray], FloatArray],
    group: FloatArray,
    scale: FloatArray,
    min_rows: int = INTERP_MIN_ROWS,
) -> FloatArray:
    """``func(group, scale)`` (elementwise, vectorised) for every row, interpolating per group.

    For each distinct ``group`` value with at least ``min_rows`` rows, ``log(func(g, s))`` is
    interpolated by a Chebyshev polynomial in ``log(s)`` over the group's range, resolved to
    ~1e-12 relative and checked at independent points (:func:`_fit_log_chebyshev`), so
    ``func`` runs on at most ~200 points per group instead of on every row. This is for
    positive functions analytic in ``log(s)`` near the real axis, such as the BG/NBD
    expectations as functions of ``alpha + T`` (singular only where ``alpha + T <= 0``, i.e.
    ``|Im log s| = pi``). Small groups, and groups whose function is not resolved (e.g. where
    the closed form switches to quadrature), are evaluated on every row, so the result is never
    less accurate than direct evaluation by more than ~1e-10 relative.
    """
    out = np.empty(scale.shape, dtype=np.float64)
    if scale.size == 0:
        return out
    group = np.asarray(group, dtype=np.float64)
    top = float(group.max())
    if float(group.min()) >= 0.0 and top < 2**15 and np.all(group == np.floor(group)):
        keys: NDArray[np.generic] = group.astype(np.int16)  # radix sort
    else:
        keys = group
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    cuts = np.flatnonzero(sorted_keys[1:] != sorted_keys[:-1]) + 1
    bounds = np.concatenate([[0], cuts, [scale.size]])
    direct: list[NDArray[np.intp]] = []
    big: list[tuple[NDArray[np.intp], FloatArray]] = []
    for lo, hi in itertools.pairwise(bounds):
        rows = order[lo:hi]
        if hi - lo < min_rows:
            direct.append(rows)
            continue
        u = np.log(scale[rows])
        big.append((rows, u))
    if big:
        groups = np.array([float(group[rows[0]]) for rows, _ in big])
        u_lo = np.array([float(u.min()) for _, u in big])
        u_hi = np.array([float(u.max()) for _, u in big])
        flat = u_hi <= u_lo
        coefs = _fit_log_chebyshev(func, groups[~flat], u_lo[~flat], u_hi[~flat])
        fitted = iter(coefs)
        for i, (rows, u) in enumerate(big):
            if flat[i]:  # one scale for the whole group: one call
                out[rows] = func(groups[i : i + 1], scale[rows[:1]])[0]
                continue
            coef = next(fitted)
            if coef is None:
                direct.append(rows)
                continue
            u -= 0.5 * (u_hi[i] + u_lo[i])
            u *= 2.0 / (u_hi[i] - u_lo[i])
            np.clip(u, -1.0, 1.0, out=u)
            out[rows] = np.exp(_clenshaw(u, coef))
    if direct:
        rows = np.concatenate(direct)
        out[rows] = func(group[rows], scale[rows])
    return out


def beta_geo_alive(
    x: FloatArray,
    t_x: FloatArray,
    T: FloatArray,  # noqa: N803
    params: tuple[float, ...],
    *,
    modified: bool,
) -> FloatArray:
    """P(alive) of BG/NBD (``modified=False``) or MBG/NBD, in place on two arrays.

    The log-odds of having dropped out are log(a / d) + (r + x) log((alpha + T) / (alpha + t_x))
    with d = b + x - 1 (BG/NBD, where a customer without repeats is alive) or d = b + x
    (MBG/NBD, where one may drop out right after the first purchase).
    """
    r, alpha, a, b = params
    x, t_x, T = np.broadcast_arrays(x, t_x, T)  # noqa: N806
    odds = np.add(T, alpha)
    np.log(odds, out=odds)
    tmp = np.add(t_x, alpha)
    np.log(tmp, out=tmp)
    odds -= tmp
    np.add(x, r, out=tmp)
    odds *= tmp
    if modified:
        np.add(x, b, out=tmp)
    else:
        np.maximum(x, 1.0, out=tmp)
        tmp += b - 1.0
    np.log(tmp, out=tmp)
    odds -= tmp
    odds += np.log(a)
    np.exp(odds, out=odds)
    odds += 1.0
    alive = np.divide(1.0, odds, out=odds)
    if not modified:
        alive[x == 0] = 1.0
    return alive
