"""Analytic likelihood gradients, the gradient-based Hessian, row collapsing, pilot starts and
the interpolated scoring, each against the direct computation it replaces."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.differentiate import jacobian

import aftersale.models._count_model as count_module
from aftersale.models import (
    BetaGeoModel,
    GammaGammaModel,
    ModifiedBetaGeoModel,
    NBDModel,
    ParetoNBDModel,
)
from aftersale.models._likelihoods import CountLikelihood, SpendLikelihood
from aftersale.models._optimize import gradient_hessian, numerical_hessian
from aftersale.models._special import interpolate_by_group
from aftersale.models.base import _aggregate, collapse_rows, validate_rfm
from aftersale.models.heuristic import _weighted_median

COUNT_KINDS: dict[str, type[Any]] = {
    "bg": BetaGeoModel,
    "mbg": ModifiedBetaGeoModel,
    "none": NBDModel,
}
positive = st.floats(min_value=np.log(0.05), max_value=np.log(50.0)).map(np.exp)


def simulate(
    n: int, seed: int, r: float = 0.3, alpha: float = 5.0, a: float = 0.8, b: float = 2.5
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """BG/NBD histories (as bench/bench_clv.py draws them) with Gamma-Gamma mean spends."""
    rng = np.random.default_rng(seed)
    ages = rng.uniform(1.0, 78.0, n)
    n_events = rng.poisson(rng.gamma(r, 1.0 / alpha, n) * ages)
    x = np.minimum(n_events, rng.geometric(rng.beta(a, b, n))).astype(np.float64)
    t_x = np.zeros(n)
    buyer = x > 0
    t_x[buyer] = ages[buyer] * rng.beta(x[buyer], n_events[buyer] - x[buyer] + 1.0)
    spend = np.zeros(n)
    nu = rng.gamma(3.7, 1.0 / 15.0, int(buyer.sum()))
    spend[buyer] = rng.gamma(6.0 * x[buyer], 1.0 / nu) / x[buyer]
    return x, t_x, ages, spend


def numeric_gradient(total: Any, theta: np.ndarray) -> np.ndarray:
    """d total / d theta by scipy's adaptive finite differences (in log theta, mapped back)."""

    def in_logs(z: np.ndarray) -> np.ndarray:
        flat = z.reshape(z.shape[0], -1)
        values = [total(np.exp(flat[:, j])) for j in range(flat.shape[1])]
        return np.asarray(values).reshape(z.shape[1:])

    res = jacobian(in_logs, np.log(theta), initial_step=0.05)
    return np.asarray(res.df) / theta


@settings(max_examples=40, deadline=None)
@given(
    kind=st.sampled_from(sorted(COUNT_KINDS)),
    params=st.tuples(positive, positive, positive, positive),
    seed=st.integers(0, 2**16),
)
def test_count_gradient_matches_finite_differences(
    kind: str, params: tuple[float, ...], seed: int
) -> None:
    x, t_x, ages, _ = simulate(150, seed)
    data = _aggregate(*validate_rfm(x, t_x, ages)[:3])
    model = COUNT_KINDS[kind]()
    theta = np.array(params[: len(model._param_names)])
    likelihood = CountLikelihood(data, kind)  # type: ignore[arg-type]

    def direct(th: np.ndarray) -> float:
        terms = model._loglik_terms(tuple(th), data.x, data.t_x, data.T)
        return float(np.dot(data.weights, terms))

    value, grad = likelihood(theta)
    assert value == pytest.approx(direct(theta), rel=1e-11, abs=1e-9)
    expected = numeric_gradient(direct, theta)
    scale = np.abs(expected) + 1e-7 * abs(value) / theta
    np.testing.assert_array_less(np.abs(grad - expected), 1e-5 * scale)


@settings(max_examples=40, deadline=None)
@given(params=st.tuples(positive, positive, positive), seed=st.integers(0, 2**16))
def test_spend_gradient_matches_finite_differences(
    params: tuple[float, float, float], seed: int
) -> None:
    x, _, _, spend = simulate(400, seed)
    keep = x > 0
    (xs, ms), w = collapse_rows((x[keep], spend[keep]), np.ones(int(keep.sum())))
    theta = np.array(params)
    likelihood = SpendLikelihood(xs, ms, w)

    def direct(th: np.ndarray) -> float:
        return float(np.dot(w, GammaGammaModel._loglik_terms(th, xs, ms)))

    value, grad = likelihood(theta)
    assert value == pytest.approx(direct(theta), rel=1e-11, abs=1e-9)
    expected = numeric_gradient(direct, theta)
    scale = np.abs(expected) + 1e-7 * abs(value) / theta
    np.testing.assert_array_less(np.abs(grad - expected), 1e-5 * scale)


def test_gradient_hessian_matches_the_value_hessian() -> None:
    x, t_x, ages, _ = simulate(3000, 1)
    data = _aggregate(*validate_rfm(x, t_x, ages)[:3])
    likelihood = CountLikelihood(data, "bg")
    z0 = np.log([0.3, 5.0, 0.8, 2.5])

    def nll(z: np.ndarray) -> float:
        return -likelihood(np.exp(z))[0]

    def grad(z: np.ndarray) -> np.ndarray:
        theta = np.exp(z)
        return -likelihood(theta)[1] * theta

    ours = gradient_hessian(grad, z0)
    np.testing.assert_allclose(ours, ours.T)
    np.testing.assert_allclose(ours, numerical_hessian(nll, z0), rtol=1e-4, atol=1e-2)


def test_fit_standard_errors_match_the_value_hessian() -> None:
    """SEs from the differenced analytic gradient equal the old value-only Hessian's."""
    x, t_x, ages, _ = simulate(5000, 2)
    model = BetaGeoModel().fit(x, t_x, ages)
    data = _aggregate(*validate_rfm(x, t_x, ages)[:3])
    z = np.log(model.params_.to_numpy())

    def nll(zz: np.ndarray) -> float:
        terms = model._loglik_terms(tuple(np.exp(zz)), data.x, data.t_x, data.T)
        return -float(np.dot(data.weights, terms))

    cov = np.linalg.inv(numerical_hessian(nll, z))
    reference = model.params_.to_numpy() * np.sqrt(np.diag(cov))
    np.testing.assert_allclose(model.standard_errors_, reference, rtol=1e-3)


def test_collapse_rows_leaves_distinct_rows_and_merges_repeats() -> None:
    rng = np.random.default_rng(3)
    n = 120_000
    continuous = (rng.integers(0, 5, n).astype(float), rng.uniform(0, 1, n), rng.uniform(1, 2, n))
    cols, w = collapse_rows(continuous, np.ones(n))
    assert all(c is not None and c.size == n for c in cols) and w.sum() == n  # left as is
    discrete = tuple(np.round(c * 4) / 4 for c in continuous)
    cols, w = collapse_rows(discrete, np.ones(n))
    unique, counts = np.unique(np.column_stack(discrete), axis=0, return_counts=True)
    np.testing.assert_array_equal(np.column_stack(cols), unique)
    np.testing.assert_array_equal(w, counts)


def test_a_fit_on_uncollapsed_rows_equals_the_aggregated_fit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import aftersale.models.base as base_module

    x, t_x, ages, _ = simulate(80_000, 4)  # continuous ages: every row distinct
    assert _aggregate(x, t_x, ages).x.size == x.size  # left as is (the sample saw no repeats)
    left = BetaGeoModel().fit(x, t_x, ages)
    monkeypatch.setattr(base_module, "_COLLAPSE_MIN_DUPLICATES", 0.0)  # always merge
    merged = BetaGeoModel().fit(x, t_x, ages)
    np.testing.assert_allclose(left.params_, merged.params_, rtol=1e-7)
    assert left.log_likelihood_ == pytest.approx(merged.log_likelihood_, rel=1e-12)


def test_pilot_start_reaches_the_same_optimum(monkeypatch: pytest.MonkeyPatch) -> None:
    x, t_x, ages, _ = simulate(220_000, 5)
    piloted = BetaGeoModel().fit(x, t_x, ages)  # starts at the optimum of a 1-in-k subsample
    monkeypatch.setattr(count_module, "_PILOT_ROWS", 10**9)
    plain = BetaGeoModel().fit(x, t_x, ages)
    np.testing.assert_allclose(piloted.params_, plain.params_, rtol=1e-6)
    np.testing.assert_allclose(piloted.standard_errors_, plain.standard_errors_, rtol=1e-4)


def test_weighted_median_selection_equals_the_sorted_search() -> None:
    values = np.random.default_rng(6).exponential(size=1001)
    for n in (1, 2, 7, 1000, 1001):
        order = np.argsort(values[:n])
        cum = np.cumsum(np.ones(n))
        expected = values[:n][order][np.searchsorted(cum, 0.5 * cum[-1])]
        assert _weighted_median(values[:n], np.ones(n)) == expected


@pytest.mark.parametrize("cls", [BetaGeoModel, ModifiedBetaGeoModel])
def test_interpolated_scoring_equals_direct_evaluation(
    cls: type[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    x, t_x, ages, spend = simulate(20_000, 7)
    x[:3], t_x[:3], ages[:3], spend[:3] = 400.0, 70.0, 78.0, 20.0  # tiny group: direct
    model = cls.from_params(r=0.3, alpha=5.0, a=0.8, b=2.5)
    gg = GammaGammaModel.from_params(p=6.0, q=3.7, gamma=15.0)
    fast = (
        model.expected_purchases(52.0, x, t_x, ages),
        gg.clv(model, x, t_x, ages, spend, horizon_months=12, discount_rate=0.01),
    )
    monkeypatch.setattr(count_module, "INTERP_MIN_ROWS", 10**12)
    monkeypatch.setattr(
        count_module,
        "interpolate_by_group",
        lambda f, g, s: interpolate_by_group(f, g, s, min_rows=10**12),
    )
    direct = (
        model.expected_purchases(52.0, x, t_x, ages),
        gg.clv(model, x, t_x, ages, spend, horizon_months=12, discount_rate=0.01),
    )
    for got, want in zip(fast, direct, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=0)


def test_clv_one_pass_equals_the_month_by_month_sum() -> None:
    x, t_x, ages, spend = simulate(5000, 8)
    gg = GammaGammaModel.from_params(p=6.0, q=3.7, gamma=15.0)
    for model in (
        BetaGeoModel.from_params(r=0.3, alpha=5.0, a=0.8, b=2.5),
        ParetoNBDModel.from_params(r=0.5, alpha=10.0, s=0.6, beta=11.0),
    ):
        value = gg.clv(model, x, t_x, ages, spend, horizon_months=6, discount_rate=0.02)
        by_hand, previous = np.zeros(x.size), np.zeros(x.size)
        expected_spend = gg.expected_spend(x, spend)
        for month in range(1, 7):
            cumulative = model.expected_purchases(month * 4.345, x, t_x, ages)
            by_hand += expected_spend * (cumulative - previous) / 1.02**month
            previous = cumulative
        np.testing.assert_allclose(value, by_hand, rtol=1e-9)
    assert np.all(gg.clv(model, x, t_x, ages, spend, horizon_months=0) == 0)


def test_interpolation_refuses_what_it_cannot_resolve() -> None:
    group = np.repeat([0.0, 1.0, 2.0], 1000)
    scale = np.tile(np.linspace(1.0, 100.0, 1000), 3)

    def kinked(g: np.ndarray, s: np.ndarray) -> np.ndarray:
        return 1.0 + np.abs(np.log(s) - 2.0) + g  # not smooth at s = e^2

    np.testing.assert_array_equal(interpolate_by_group(kinked, group, scale), kinked(group, scale))

    def smooth(g: np.ndarray, s: np.ndarray) -> np.ndarray:
        return (g + 1.0) / (s + 3.0)

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = interpolate_by_group(smooth, group, scale)
    np.testing.assert_allclose(got, smooth(group, scale), rtol=1e-11)


def test_a_group_with_one_age_is_evaluated_once_and_exactly() -> None:
    model = BetaGeoModel.from_params(r=0.3, alpha=5.0, a=0.8, b=2.5)
    n = 5000
    x, t_x, ages = np.zeros(n), np.zeros(n), np.full(n, 30.0)  # one cohort, nobody came back
    many = model.expected_purchases(52.0, x, t_x, ages)
    one = model.expected_purchases(52.0, x[:1], t_x[:1], ages[:1])
    np.testing.assert_array_equal(many, np.full(n, one[0]))
