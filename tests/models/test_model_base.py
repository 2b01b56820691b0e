"""Estimator base: fitted-state checks, summaries, Hessian/SEs, aggregation, input validation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.differentiate import hessian as scipy_hessian

import aftersale.models as models
from aftersale.errors import InvalidInputError, NotFittedError
from aftersale.models import BetaGeoModel, GammaGammaModel, ParetoNBDModel, ShiftedBetaGeoModel
from aftersale.models._optimize import covariance_from_hessian, numerical_hessian
from aftersale.models.base import _aggregate, validate_rfm


def test_public_surface_is_sorted_and_importable() -> None:
    assert models.__all__ == sorted(models.__all__)
    for name in models.__all__:
        assert hasattr(models, name), name


@pytest.mark.parametrize(
    ("model", "call"),
    [
        (BetaGeoModel(), lambda m: m.probability_alive(1, 1, 2)),
        (ParetoNBDModel(), lambda m: m.expected_purchases(1, 1, 1, 2)),
        (GammaGammaModel(), lambda m: m.expected_spend([1], [10.0])),
        (ShiftedBetaGeoModel(), lambda m: m.survival(1)),
        (BetaGeoModel(), lambda m: m.summary()),
    ],
)
def test_not_fitted_raises_a_clear_error(model: object, call: object) -> None:
    with pytest.raises(NotFittedError, match=r"not fitted yet.*fit\(") as info:
        call(model)  # type: ignore[operator]
    assert isinstance(info.value, ValueError)


def test_init_stores_settings_only() -> None:
    model = BetaGeoModel(penalizer_coef=0.1, fallback=False)
    assert model.get_params() == {
        "penalizer_coef": 0.1,
        "fallback": False,
        "min_repeat_share": None,
        "min_repeat_buyers": None,
    }
    assert model.params_ is None and "not fitted" in repr(model)


def test_numerical_hessian_matches_analytic() -> None:
    a = np.array([[3.0, 1.0, 0.2], [1.0, 2.0, -0.5], [0.2, -0.5, 1.5]])

    def f(z: np.ndarray) -> float:
        return float(0.5 * z @ a @ z + np.sum(np.exp(z)) + 1e4)

    z0 = np.array([0.3, -1.2, 2.0])
    # f ~ 1e4 like a log-likelihood: round-off bounds the accuracy at ~1e-4 relative
    np.testing.assert_allclose(numerical_hessian(f, z0), a + np.diag(np.exp(z0)), rtol=1e-4)


def test_numerical_hessian_matches_scipy_on_a_likelihood(cdnow: pd.DataFrame) -> None:
    x, t_x, age = (cdnow[c].to_numpy() for c in ("frequency", "recency", "T"))
    model = BetaGeoModel.from_params(r=0.2426, alpha=4.4135, a=0.7929, b=2.4258)
    data = _aggregate(*validate_rfm(x, t_x, age)[:3])

    def nll(z: np.ndarray) -> float:
        theta = tuple(float(v) for v in np.exp(z))
        return -float(np.dot(data.weights, model._loglik_terms(theta, data.x, data.t_x, data.T)))

    def vectorised(z: np.ndarray) -> np.ndarray:
        flat = z.reshape(z.shape[0], -1)
        return np.array([nll(flat[:, j]) for j in range(flat.shape[1])]).reshape(z.shape[1:])

    z0 = np.log([0.2426, 4.4135, 0.7929, 2.4258])
    ours = numerical_hessian(nll, z0)
    reference = scipy_hessian(vectorised, z0).ddf
    np.testing.assert_allclose(ours, reference, rtol=1e-4, atol=1e-3)
    assert covariance_from_hessian(ours) is not None
    assert covariance_from_hessian(-ours) is None  # not positive definite -> no SEs


def test_delta_method_standard_errors(bgnbd_cdnow: BetaGeoModel) -> None:
    assert bgnbd_cdnow.covariance_ is not None
    se_log = np.sqrt(np.diag(bgnbd_cdnow.covariance_))
    np.testing.assert_allclose(
        bgnbd_cdnow.standard_errors_, bgnbd_cdnow.params_ * se_log, rtol=1e-12
    )
    table = bgnbd_cdnow.summary()
    np.testing.assert_allclose(
        np.log(table["upper 95%"] / table["coef"]), 1.959963984540054 * se_log, rtol=1e-10
    )


def test_aggregate_collapses_identical_rows(cdnow: pd.DataFrame) -> None:
    x, t_x, age, w = validate_rfm(cdnow["frequency"], cdnow["recency"], cdnow["T"])
    data = _aggregate(x, t_x, age, w)
    unique = cdnow[["frequency", "recency", "T"]].drop_duplicates()
    assert data.x.size == len(unique) < len(cdnow)
    assert data.total_weight == len(cdnow) and data.repeat_weight == 946


def test_weights_give_the_same_fit_as_repeated_rows(cdnow: pd.DataFrame) -> None:
    rows = cdnow.sample(600, random_state=7)
    doubled = pd.concat([rows, rows])
    by_rows = BetaGeoModel().fit(doubled["frequency"], doubled["recency"], doubled["T"])
    by_weights = BetaGeoModel().fit(
        rows["frequency"], rows["recency"], rows["T"], weights=np.full(len(rows), 2.0)
    )
    np.testing.assert_allclose(by_rows.params_, by_weights.params_, rtol=1e-6)
    assert by_rows.log_likelihood_ == pytest.approx(by_weights.log_likelihood_, abs=1e-6)
    per_row = BetaGeoModel.from_params(**by_rows.params_.to_dict())
    unaggregated = per_row.log_likelihood(doubled["frequency"], doubled["recency"], doubled["T"])
    assert unaggregated == pytest.approx(by_rows.log_likelihood_, abs=1e-6)


def test_fit_frame_reads_an_rfm_frame(cdnow: pd.DataFrame, bgnbd_cdnow: BetaGeoModel) -> None:
    model = BetaGeoModel().fit_frame(cdnow.drop(columns="ID"))
    np.testing.assert_allclose(model.params_, bgnbd_cdnow.params_, rtol=1e-8)
    with pytest.raises(InvalidInputError, match="recency"):
        BetaGeoModel().fit_frame(cdnow.drop(columns="recency"))


def test_validation_lists_every_problem() -> None:
    with pytest.raises(InvalidInputError) as info:
        validate_rfm([1, -1, 2.5, 0], [5, 1, 3, 2], [4, 3, 4, 5])
    message = str(info.value)
    for fragment in (
        "'frequency' must be >= 0",
        "whole numbers",
        "'recency' must be <= 'T'",
        "'recency' must be 0 where 'frequency' is 0",
    ):
        assert fragment in message
    with pytest.raises(InvalidInputError, match="NaN"):
        validate_rfm([1], [np.nan], [2])
    with pytest.raises(InvalidInputError, match="same length"):
        validate_rfm([1, 2], [1, 2, 3], [2, 3])


def test_from_params_checks_names_and_values() -> None:
    with pytest.raises(InvalidInputError, match="missing"):
        BetaGeoModel.from_params(r=1.0, alpha=1.0, a=1.0)
    with pytest.raises(InvalidInputError, match="not positive"):
        BetaGeoModel.from_params(r=1.0, alpha=1.0, a=-1.0, b=1.0)
    model = BetaGeoModel.from_params(r=0.24, alpha=4.4, a=0.79, b=2.4)
    assert model.model_used_ == "bgnbd" and model.standard_errors_.isna().all()
