"""MBG/NBD (Batislam et al. 2007) against BTYDplus's CDNOW fit, plus internal consistency."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from aftersale.models import ModifiedBetaGeoModel
from aftersale.models._special import beta_mixed_expected_purchases


def test_parameters_match_btydplus(
    mbgnbd_cdnow: ModifiedBetaGeoModel, reference: dict[str, Any]
) -> None:
    ref = reference["cdnow_mbgnbd"]["params"]
    assert ref == {"r": 0.525, "alpha": 6.183, "a": 0.891, "b": 1.614}
    assert mbgnbd_cdnow.model_used_ == "mbgnbd"
    for name, value in ref.items():
        assert mbgnbd_cdnow.params_[name] == pytest.approx(value, rel=1e-3), name
    se = mbgnbd_cdnow.standard_errors_
    assert np.all(np.isfinite(se)) and np.all(se > 0)


def test_likelihood_is_the_sum_of_its_terms(
    mbgnbd_cdnow: ModifiedBetaGeoModel, cdnow: pd.DataFrame
) -> None:
    total = mbgnbd_cdnow.log_likelihood(cdnow["frequency"], cdnow["recency"], cdnow["T"])
    assert total == pytest.approx(mbgnbd_cdnow.log_likelihood_, abs=1e-6)
    # MBG/NBD nests the "drop out at time 0" option, so on CDNOW it fits about as well as BG/NBD
    assert total == pytest.approx(-9582.13, abs=0.1)


def test_pmf_and_expectations_agree(mbgnbd_cdnow: ModifiedBetaGeoModel) -> None:
    n = np.arange(0, 400)
    r, alpha, a, b = mbgnbd_cdnow._values()
    for t in (1.0, 39.0, 78.0):
        pmf = mbgnbd_cdnow.probability_of_n_purchases(t, n)
        assert pmf.sum() == pytest.approx(1.0, abs=1e-10)
        mean = mbgnbd_cdnow.expected_purchases_unconditional(t)[0]
        assert float((n * pmf).sum()) == pytest.approx(mean, rel=1e-8)
        # E[(1-p)/p (1 - E e^{-lambda p t})] = b/(a+b) * E_{Beta(a, b+1)}[...]
        by_quadrature = b / (a + b) * beta_mixed_expected_purchases(r, alpha, a, b + 1, t)
        assert mean == pytest.approx(float(by_quadrature), rel=1e-6)


def test_one_time_buyers_can_be_inactive(mbgnbd_cdnow: ModifiedBetaGeoModel) -> None:
    alive = mbgnbd_cdnow.probability_alive([0, 0, 3], [0, 0, 30], [1, 38, 38])
    assert 0 < alive[1] < alive[0] < 1  # unlike BG/NBD, where x = 0 means P(alive) = 1
    assert alive[2] > alive[1]
