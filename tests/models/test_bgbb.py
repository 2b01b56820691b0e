"""BG/BB against Fader, Hardie & Shang (2010), BTYD and Hardie's spreadsheet (donations)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from aftersale.models import BetaGeoBetaBinomModel


@pytest.fixture(scope="module")
def bgbb(donations: pd.DataFrame) -> BetaGeoBetaBinomModel:
    return BetaGeoBetaBinomModel().fit(
        donations["frequency"],
        donations["recency"],
        donations["periods"],
        weights=donations["weights"],
    )


def test_data(donations: pd.DataFrame) -> None:
    assert len(donations) == 22 and donations["weights"].sum() == 11104


def test_parameters_and_log_likelihood(
    bgbb: BetaGeoBetaBinomModel, donations: pd.DataFrame, reference: dict[str, Any]
) -> None:
    ref = reference["donations_bgbb"]
    for name, value in ref["params"].items():
        assert bgbb.params_[name] == pytest.approx(value, rel=1e-3), name
    assert bgbb.log_likelihood_ == pytest.approx(ref["log_likelihood_BTYD_vignette"], abs=0.1)
    paper = BetaGeoBetaBinomModel.from_params(**ref["params"])
    at_paper = paper.log_likelihood(
        donations["frequency"],
        donations["recency"],
        donations["periods"],
        weights=donations["weights"],
    )
    assert at_paper == pytest.approx(ref["reproduced"]["LL_at_paper_params"], abs=0.1)
    se = bgbb.standard_errors_
    assert np.all(np.isfinite(se)) and np.all(se > 0)


def test_p_alive_table_6(bgbb: BetaGeoBetaBinomModel, reference: dict[str, Any]) -> None:
    ref = reference["donations_bgbb"]["p_alive_2002_table6"]
    table = bgbb.probability_alive_table(6, m_periods_in_future=1)
    assert len(table) == 22  # every possible (x, t_x) pattern after 6 opportunities
    grid = table.set_index(["frequency", "recency"])["probability_alive"]
    for key, value in ref.items():
        x, t_x = (int(part[1:] if part.startswith("x") else part[2:]) for part in key.split("_"))
        assert grid[(x, t_x)] == pytest.approx(value, abs=5e-3), key
    assert table["probability_alive"].between(0, 1).all()


def test_hardie_spreadsheet_expectations(
    bgbb: BetaGeoBetaBinomModel, donations: pd.DataFrame, reference: dict[str, Any]
) -> None:
    ref = reference["donations_bgbb"]["hardie_excel"]
    future = bgbb.expected_purchases(
        5, donations["frequency"], donations["recency"], donations["periods"]
    )
    assert float(np.dot(future, donations["weights"])) == pytest.approx(
        ref["sum_conditional_expected_next5"], abs=0.1
    )
    # cells C18 and C24: expected donors with 0 and with 6 repeat donations in 1996-2001
    counts = bgbb.probability_of_n_purchases(6, np.arange(7)) * donations["weights"].sum()
    assert counts[0] == pytest.approx(ref["expected_in_first_n_periods_cells_C18_C24"][0], abs=0.1)
    assert counts[6] == pytest.approx(ref["expected_in_first_n_periods_cells_C18_C24"][1], abs=0.1)


def test_pmf_and_unconditional_expectation(bgbb: BetaGeoBetaBinomModel) -> None:
    for n in (1, 6, 12):
        pmf = bgbb.probability_of_n_purchases(n, np.arange(n + 1))
        assert pmf.sum() == pytest.approx(1.0, abs=1e-12)
        mean = bgbb.expected_purchases_unconditional(n)
        assert float(np.dot(np.arange(n + 1), pmf)) == pytest.approx(float(mean), rel=1e-10)


def test_weights_equal_expanded_rows(bgbb: BetaGeoBetaBinomModel, donations: pd.DataFrame) -> None:
    expanded = donations.loc[donations.index.repeat(donations["weights"])]
    assert len(expanded) == 11104
    refit = BetaGeoBetaBinomModel().fit(
        expanded["frequency"], expanded["recency"], expanded["periods"]
    )
    np.testing.assert_allclose(refit.params_, bgbb.params_, rtol=1e-6)
    assert refit.log_likelihood_ == pytest.approx(bgbb.log_likelihood_, abs=1e-6)
