"""Smoke test of ``bench/bench_clv.py``: the simulated RFM frame and one tiny side-by-side run."""

from __future__ import annotations

import numpy as np
import pytest
from bench.bench_clv import BGNBD, GAMMA_GAMMA, main, simulate_rfm


def test_simulate_rfm_is_deterministic_and_valid() -> None:
    a, b = simulate_rfm(2_000, seed=3), simulate_rfm(2_000, seed=3)
    assert a.equals(b)
    assert not a.equals(simulate_rfm(2_000, seed=4))
    x, t_x, T, m = (a[c].to_numpy() for c in ("frequency", "recency", "T", "monetary_value"))  # noqa: N806
    assert np.all(x == np.floor(x)) and np.all(x >= 0)
    assert np.all((t_x >= 0) & (t_x <= T)) and np.all((T >= 1) & (T <= 78))
    assert np.all(t_x[x == 0] == 0) and np.all(m[x == 0] == 0) and np.all(m[x > 0] > 0)


def test_simulate_rfm_follows_the_bgnbd_and_gamma_gamma_processes() -> None:
    from aftersale.models import BetaGeoModel

    rfm = simulate_rfm(200_000, seed=7)
    model = BetaGeoModel.from_params(**BGNBD)
    expected = model.expected_purchases_unconditional(rfm["T"].to_numpy()).mean()
    assert rfm["frequency"].mean() == pytest.approx(expected, rel=0.02)
    p, q, gamma = (GAMMA_GAMMA[k] for k in ("p", "q", "gamma"))
    spends = rfm.loc[rfm["frequency"] > 0, "monetary_value"]
    assert spends.mean() == pytest.approx(p * gamma / (q - 1.0), rel=0.05)


def test_main_runs_both_sides_and_they_agree() -> None:
    pair = main(["--customers", "3000", "--repeats", "1", "--warmup-customers", "0", "--no-record"])
    ours, theirs = pair.candidate_result, pair.baseline_result
    assert ours is not None
    assert theirs is not None
    for group in ("bg_params", "gg_params"):
        for k, v in ours[group].items():
            assert v == pytest.approx(theirs[group][k], rel=1e-3)
    for key in ("p_alive", "expected_52w", "clv_12m"):
        np.testing.assert_allclose(ours[key], theirs[key], rtol=1e-4)
