"""Holdout evaluation on CDNOW against the published table, and the calibration chart."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from aftersale.errors import InvalidInputError
from aftersale.models import BetaGeoModel
from aftersale.models.evaluation import (
    HoldoutEvaluation,
    calibration_chart,
    evaluate_holdout,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def frame(cdnow_cbs: pd.DataFrame) -> pd.DataFrame:
    """The derived CDNOW table in calibration_holdout's column names (39-week holdout)."""
    return pd.DataFrame(
        {
            "frequency": cdnow_cbs["x"],
            "recency": cdnow_cbs["t_x"],
            "T": cdnow_cbs["T"],
            "frequency_holdout": cdnow_cbs["x_star"],
            "duration_holdout": 39.0,
        }
    )


@pytest.fixture(scope="module")
def evaluation(bgnbd_cbs: BetaGeoModel, frame: pd.DataFrame) -> HoldoutEvaluation:
    return evaluate_holdout(bgnbd_cbs, frame)


def test_bucket_means_match_the_published_cdnow_table(
    evaluation: HoldoutEvaluation, reference: dict[str, Any]
) -> None:
    ref = reference["cdnow_bgnbd"]["holdout_by_calibration_frequency"]
    table = evaluation.buckets
    assert table["bucket"].tolist() == [str(b) for b in ref["bins_x"]]
    assert table["n_customers"].tolist() == ref["n_customers"]
    np.testing.assert_allclose(table["actual_mean"], ref["actual_mean_holdout_txns_39w"], atol=1e-3)
    np.testing.assert_allclose(table["predicted_mean"], ref["bgnbd_expected"], atol=1e-3)


def test_totals_correlation_and_naive_baseline(
    evaluation: HoldoutEvaluation, reference: dict[str, Any]
) -> None:
    ref = reference["cdnow_bgnbd"]
    assert evaluation.n_customers == 2357
    assert evaluation.actual_total == ref["counts_reproduced"]["holdout_repeat_txns_weeks_40_78"]
    table = ref["holdout_by_calibration_frequency"]
    published = float(np.dot(table["n_customers"], table["bgnbd_expected"]))
    assert evaluation.predicted_total == pytest.approx(published, abs=5e-4 * 2357)
    assert evaluation.buckets["predicted_total"].sum() == pytest.approx(evaluation.predicted_total)
    corr = ref["paper_section7_other"]["corr_with_actual_holdout_bgnbd"]
    assert evaluation.correlation == pytest.approx(corr, abs=5e-4)
    # the model beats projecting each customer's calibration rate, on both error measures
    assert evaluation.beats_naive
    assert evaluation.mae < evaluation.naive_mae
    assert evaluation.rmse < evaluation.naive_rmse
    assert evaluation.rmse >= evaluation.mae > 0


def test_naive_baseline_is_the_calibration_rate(evaluation: HoldoutEvaluation) -> None:
    model = BetaGeoModel.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426)
    tiny = pd.DataFrame(
        {
            "frequency": [0, 2, 4],
            "recency": [0.0, 10.0, 20.0],
            "T": [0.0, 20.0, 40.0],
            "frequency_holdout": [1, 0, 3],
            "duration_holdout": [10.0, 10.0, 10.0],
        }
    )
    result = evaluate_holdout(model, tiny, max_bucket=3)
    assert result.naive_total == pytest.approx(0.0 + 1.0 + 1.0)  # T = 0 gives rate 0, not NaN
    assert result.naive_mae == pytest.approx((1.0 + 1.0 + 2.0) / 3)
    assert result.buckets["bucket"].tolist() == ["0", "1", "2", "3+"]
    assert result.buckets["n_customers"].tolist() == [1, 0, 1, 1]
    document = result.to_dict()
    assert document["buckets"][1]["actual_mean"] is None  # empty bucket: null, not NaN
    json.dumps(document, allow_nan=False)


def test_chart_is_a_png(evaluation: HoldoutEvaluation, tmp_path: Path) -> None:
    path = calibration_chart(evaluation, tmp_path / "charts" / "cdnow.png")
    data = path.read_bytes()
    assert data.startswith(PNG_MAGIC)
    assert len(data) > 10_000


def test_missing_columns_are_named(bgnbd_cbs: BetaGeoModel, frame: pd.DataFrame) -> None:
    with pytest.raises(InvalidInputError, match="frequency_holdout, duration_holdout missing"):
        evaluate_holdout(bgnbd_cbs, frame[["frequency", "recency", "T"]])


def test_docstring_examples_run() -> None:
    import doctest

    from aftersale.models import evaluation

    result = doctest.testmod(evaluation, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
