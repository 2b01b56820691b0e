"""Shifted-beta-geometric retention against Fader & Hardie (2007), both cohorts."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from aftersale.errors import InvalidInputError
from aftersale.models import ShiftedBetaGeoModel


@pytest.mark.parametrize(
    ("cohort", "column"), [("regular", "regular_alive"), ("highend", "highend_alive")]
)
def test_fit_on_years_1_to_7(
    cohort: str, column: str, survivors: pd.DataFrame, reference: dict[str, Any]
) -> None:
    ref = reference["sbg_retention"]
    counts = survivors[column].to_numpy()[:8]  # year 0 (cohort size) .. year 7
    model = ShiftedBetaGeoModel().fit(counts)
    for name, value in ref["fit_on_years_1_to_7"][cohort].items():
        assert model.params_[name] == pytest.approx(value, rel=1e-3), name
    assert model.log_likelihood_ == pytest.approx(ref["reproduced"][cohort]["LL"], abs=0.1)
    assert model.log_likelihood(counts) == pytest.approx(model.log_likelihood_, abs=1e-9)
    se = model.standard_errors_
    assert np.all(np.isfinite(se)) and np.all(se > 0)


def test_survival_retention_identities(survivors: pd.DataFrame) -> None:
    model = ShiftedBetaGeoModel().fit(survivors["regular_alive"].to_numpy()[:8])
    t = np.arange(1, 13)
    surv = model.survival(np.arange(0, 13))
    assert surv[0] == 1.0 and np.all(np.diff(surv) < 0)
    np.testing.assert_allclose(model.retention_rate(t), surv[1:] / surv[:-1], rtol=1e-12)
    np.testing.assert_allclose(model.churn_probability(t), surv[:-1] - surv[1:], rtol=1e-10)
    assert np.all(np.diff(model.retention_rate(t)) > 0)  # retention rises: heterogeneity sorts
    # forecast years 8-12 from the 7-year fit stays within 4% of what actually happened
    actual = survivors["regular_alive"].to_numpy()[8:]
    np.testing.assert_allclose(model.expected_survivors(np.arange(8, 13), 1000), actual, rtol=0.04)


def test_invalid_survivor_counts() -> None:
    with pytest.raises(InvalidInputError, match="never increase"):
        ShiftedBetaGeoModel().fit([1000, 600, 700])
