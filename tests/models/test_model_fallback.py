"""Fallback chain (primary -> NBD -> RFM heuristic), typed warnings and small-data fits."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest

import aftersale.models.base as base_module
from aftersale.models import (
    BetaGeoModel,
    BoundaryWarning,
    ConvergenceWarning,
    FewRepeatBuyersWarning,
    ModelWarning,
    ModifiedBetaGeoModel,
    NBDModel,
    NumericalWarning,
    ParetoNBDModel,
    RfmHeuristicModel,
)
from aftersale.models._optimize import Optimum, minimize_log_nll

PRIMARY = [BetaGeoModel, ModifiedBetaGeoModel, ParetoNBDModel]


def _one_time_buyers(n: int = 400, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    ages = np.random.default_rng(seed).uniform(20, 40, n)
    return np.zeros(n), np.zeros(n), ages


def simulate_bgnbd(
    n: int, r: float, alpha: float, a: float, b: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw (x, t_x, T) from the BG/NBD generative story over ages uniform in [10, 40]."""
    rng = np.random.default_rng(seed)
    ages = rng.uniform(10, 40, n)
    rates, drops = rng.gamma(r, 1 / alpha, n), rng.beta(a, b, n)
    x, t_x = np.zeros(n), np.zeros(n)
    for i in range(n):
        clock = rng.exponential(1 / rates[i])
        while clock <= ages[i]:
            x[i], t_x[i] = x[i] + 1, clock
            if rng.uniform() < drops[i]:
                break
            clock += rng.exponential(1 / rates[i])
    return x, t_x, ages


def test_warning_classes_form_a_tree() -> None:
    for cls in (ConvergenceWarning, BoundaryWarning, FewRepeatBuyersWarning, NumericalWarning):
        assert issubclass(cls, ModelWarning) and issubclass(cls, UserWarning)


@pytest.mark.parametrize("cls", [*PRIMARY, NBDModel])
def test_all_one_time_buyers_use_the_rfm_heuristic(cls: type[Any]) -> None:
    x, t_x, ages = _one_time_buyers()
    with pytest.warns(FewRepeatBuyersWarning, match="0 of 400"):
        model = cls().fit(x, t_x, ages)
    assert model.model_used_ == "rfm_heuristic"
    assert isinstance(model.fallback_, RfmHeuristicModel)
    alive = model.probability_alive(x, t_x, ages)
    assert np.all(np.isfinite(alive)) and np.all((alive >= 0) & (alive <= 1))
    # older customers who never came back are less likely to be alive
    order = np.argsort(ages)
    assert np.all(np.diff(alive[order]) <= 0)
    assert np.all(model.expected_purchases(10, x, t_x, ages) >= 0)
    assert np.all(model.expected_purchases_unconditional([1, 10]) == 0)  # nobody repeated


@pytest.mark.parametrize("cls", PRIMARY)
def test_few_repeat_buyers_fall_back_to_nbd(cls: type[Any]) -> None:
    x, t_x, ages = _one_time_buyers()
    x[:12], t_x[:12] = 1, ages[:12] / 2  # 3% repeat buyers
    with pytest.warns(FewRepeatBuyersWarning, match=r"12 of 400 customers \(3.0%\)"):
        model = cls().fit(x, t_x, ages)
    assert model.model_used_ == "nbd"
    assert isinstance(model.fallback_, NBDModel) and model.params_.isna().all()
    nbd_rate = model.fallback_.params_["r"] / model.fallback_.params_["alpha"]
    assert nbd_rate == pytest.approx(12 / ages.sum(), rel=0.05)  # pooled repeat rate
    alive = model.probability_alive(x, t_x, ages)
    assert np.all(np.isfinite(alive)) and np.all((alive >= 0) & (alive <= 1))
    np.testing.assert_allclose(alive, model.heuristic_.probability_alive(x, t_x, ages))


def test_thresholds_are_configurable() -> None:
    x, t_x, ages = _one_time_buyers()
    x[:12], t_x[:12] = 1, ages[:12] / 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ModelWarning)
        model = BetaGeoModel(min_repeat_share=0.0, min_repeat_buyers=5).fit(x, t_x, ages)
    assert model.model_used_ in {"bgnbd", "nbd"} and not model.params_.isna().any()
    with pytest.warns(FewRepeatBuyersWarning):
        kept = BetaGeoModel(fallback=False).fit(x, t_x, ages)
    assert kept.model_used_ == "bgnbd" and kept.fallback_ is None
    alive = kept.probability_alive(x, t_x, ages)
    assert np.all(np.isfinite(alive)) and np.all((alive >= 0) & (alive <= 1))


def test_degenerate_nbd_falls_back_to_the_heuristic() -> None:
    x, t_x, ages = _one_time_buyers()
    # nobody repeats: the NBD optimum drifts to rate 0, where the Hessian is singular
    with pytest.warns(ModelWarning):
        model = NBDModel(min_repeat_buyers=0).fit(x, t_x, ages)
    assert model.model_used_ == "rfm_heuristic"
    assert model.params_["r"] / model.params_["alpha"] < 1e-6


def test_boundary_falls_back_to_nbd(monkeypatch: pytest.MonkeyPatch, cdnow: pd.DataFrame) -> None:
    def pinned_on_four_parameters(objective: Any, x0: np.ndarray) -> Optimum:
        result = minimize_log_nll(objective, x0)
        if x0.size == 4:
            z = result.log_params.copy()
            z[3] = 18.0  # b at the edge of the log box
            return Optimum(z, objective(z), True, (3,), "L-BFGS-B", "bound")
        return result

    monkeypatch.setattr(base_module, "minimize_log_nll", pinned_on_four_parameters)
    with pytest.warns(BoundaryWarning, match=r"search boundary \(b="):
        model = BetaGeoModel().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])
    assert model.model_used_ == "nbd" and model.standard_errors_.isna().all()


def test_non_convergence_falls_back_to_nbd(
    monkeypatch: pytest.MonkeyPatch, cdnow: pd.DataFrame
) -> None:
    def stalls_on_four_parameters(objective: Any, x0: np.ndarray) -> Optimum:
        result = minimize_log_nll(objective, x0)
        if x0.size == 4:
            return Optimum(result.log_params, result.value, False, (), "L-BFGS-B", "stalled")
        return result

    monkeypatch.setattr(base_module, "minimize_log_nll", stalls_on_four_parameters)
    with pytest.warns(ConvergenceWarning, match="stalled"):
        model = ParetoNBDModel().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])
    assert model.model_used_ == "nbd" and not model.converged_
    with pytest.warns(ConvergenceWarning):
        kept = ParetoNBDModel(fallback=False).fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])
    assert kept.model_used_ == "pareto_nbd"


def test_non_finite_predictions_are_replaced_with_a_warning(bgnbd_cdnow: BetaGeoModel) -> None:
    broken = BetaGeoModel.from_params(**bgnbd_cdnow.params_.to_dict())
    broken._p_alive = lambda x, t_x, age: np.full(np.shape(x), np.nan)
    with pytest.warns(NumericalWarning, match="2 non-finite"):
        alive = broken.probability_alive([1, 2], [5, 6], [10, 10])
    assert np.all(np.isfinite(alive)) and np.all((alive > 0) & (alive <= 1))


@pytest.mark.parametrize("seed", [0, 1])
def test_small_data_mode_recovers_parameters(seed: int) -> None:
    truth = {"r": 0.5, "alpha": 5.0, "a": 0.8, "b": 2.5}
    x, t_x, ages = simulate_bgnbd(300, seed=seed, **truth)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ModelWarning)
        model = BetaGeoModel().fit(x, t_x, ages)
    assert model.model_used_ == "bgnbd" and model.converged_
    table = model.summary()
    assert np.all(np.isfinite(table["se"])) and np.all(table["se"] > 0)
    for name, value in truth.items():  # truth inside a generous (3 SE on log scale) band
        se_log = table.loc[name, "se"] / table.loc[name, "coef"]
        assert abs(np.log(table.loc[name, "coef"] / value)) < 3 * se_log, name


def test_expected_next_purchase(bgnbd_cdnow: BetaGeoModel, cdnow: pd.DataFrame) -> None:
    head = cdnow.head(50)
    frame = bgnbd_cdnow.expected_next_purchase(
        head["frequency"],
        head["recency"],
        head["T"],
        level=0.8,
        as_of=pd.Timestamp("1997-09-30", tz="UTC"),
        time_unit="W",
    )
    assert list(frame.columns[:5]) == [
        "probability_alive",
        "expected_wait",
        "wait_lower",
        "wait_median",
        "wait_upper",
    ]
    assert (frame["wait_lower"] <= frame["wait_median"]).all()
    assert (frame["wait_median"] <= frame["wait_upper"]).all()
    finite = np.isfinite(frame["expected_wait"]).to_numpy()
    x, t_x, ages = (head[c].to_numpy()[finite] for c in ("frequency", "recency", "T"))
    at_wait = bgnbd_cdnow._expected_given_alive(
        frame["expected_wait"].to_numpy()[finite], x, t_x, ages
    )
    np.testing.assert_allclose(at_wait, 1.0, rtol=1e-8)
    # customer 1 (x=2, t_x=30.43, T=38.86): quantiles of the wait mix P(alive) and the gamma
    first = frame.iloc[0]
    r, alpha = bgnbd_cdnow.params_["r"], bgnbd_cdnow.params_["alpha"]
    q = 0.1 / first["probability_alive"]
    lomax = (alpha + 38.86) * ((1 - q) ** (-1 / (r + 2)) - 1)
    assert first["wait_lower"] == pytest.approx(lomax, rel=1e-10)
    start = pd.Timestamp("1997-09-30", tz="UTC")
    assert first["date_lower"] == (start + pd.Timedelta(weeks=lomax)).round("s")
    churned = frame["probability_alive"] < 0.9
    assert np.isinf(frame.loc[churned, "wait_upper"]).all()
    assert frame.loc[churned, "date_upper"].isna().all()
