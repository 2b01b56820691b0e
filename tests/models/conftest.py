"""Shared fixtures for the model tests: reference datasets from ../shared/datasets and fits.

Fits on the published datasets are session-scoped so each model is estimated once per run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from aftersale.models import (
    BetaGeoModel,
    GammaGammaModel,
    ModifiedBetaGeoModel,
    ParetoNBDModel,
)

DATASETS = Path(__file__).resolve().parents[2].parent / "shared" / "datasets"


def _require(path: Path) -> Path:
    if not DATASETS.is_dir():
        pytest.skip(f"reference datasets folder {DATASETS} is absent (shared/ not checked out)")
    assert path.exists(), f"{path} missing from the shared datasets"
    return path


@pytest.fixture(scope="session")
def reference() -> dict[str, Any]:
    """Published reference numbers (reference_values.json)."""
    with _require(DATASETS / "reference_values.json").open() as fh:
        data: dict[str, Any] = json.load(fh)
    return data


@pytest.fixture(scope="session")
def cdnow() -> pd.DataFrame:
    """CDNOW calibration summary (2,357 customers; frequency, recency, T in weeks)."""
    return pd.read_csv(_require(DATASETS / "cdnow" / "cdnow_customers_summary.csv"))


@pytest.fixture(scope="session")
def cdnow_cbs() -> pd.DataFrame:
    """CDNOW calibration/holdout table derived from the raw log (x, t_x, T, x_star, zbar)."""
    return pd.read_csv(_require(DATASETS / "cdnow" / "cdnow_sample_cbs_39w_derived.csv"))


@pytest.fixture(scope="session")
def cdnow_spend() -> pd.DataFrame:
    """CDNOW summary with zbar, Hardie's spreadsheet layout (ID, x, t_x, T, zbar)."""
    path = DATASETS / "cdnow" / "cdnow_customers_summary_with_transactions.csv"
    return pd.read_csv(_require(path))


@pytest.fixture(scope="session")
def donations() -> pd.DataFrame:
    """Donations data for BG/BB: 22 (frequency, recency) patterns with weights, 6 periods."""
    return pd.read_csv(_require(DATASETS / "donations_bgbb" / "donations.csv"))


@pytest.fixture(scope="session")
def survivors() -> pd.DataFrame:
    """Fader & Hardie (2007) survivor counts for the regular and high-end cohorts."""
    path = DATASETS / "sbg_retention_fader_hardie_2007" / "survivors_by_year.csv"
    return pd.read_csv(_require(path))


@pytest.fixture(scope="session")
def bgnbd_cdnow(cdnow: pd.DataFrame) -> BetaGeoModel:
    return BetaGeoModel().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])


@pytest.fixture(scope="session")
def bgnbd_cbs(cdnow_cbs: pd.DataFrame) -> BetaGeoModel:
    return BetaGeoModel().fit(cdnow_cbs["x"], cdnow_cbs["t_x"], cdnow_cbs["T"])


@pytest.fixture(scope="session")
def pnbd_cdnow(cdnow: pd.DataFrame) -> ParetoNBDModel:
    return ParetoNBDModel().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])


@pytest.fixture(scope="session")
def pnbd_cbs(cdnow_cbs: pd.DataFrame) -> ParetoNBDModel:
    return ParetoNBDModel().fit(cdnow_cbs["x"], cdnow_cbs["t_x"], cdnow_cbs["T"])


@pytest.fixture(scope="session")
def mbgnbd_cdnow(cdnow: pd.DataFrame) -> ModifiedBetaGeoModel:
    return ModifiedBetaGeoModel().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])


@pytest.fixture(scope="session")
def gamma_gamma_cdnow(cdnow_spend: pd.DataFrame) -> GammaGammaModel:
    return GammaGammaModel().fit(cdnow_spend["x"], cdnow_spend["zbar"])


def holdout_table(model: Any, cbs: pd.DataFrame) -> pd.DataFrame:
    """Mean predicted and actual 39-week holdout purchases by calibration frequency 0..7+."""
    expected = model.expected_purchases(39.0, cbs["x"], cbs["t_x"], cbs["T"])
    frame = pd.DataFrame(
        {"bin": cbs["x"].clip(upper=7), "expected": expected, "actual": cbs["x_star"]}
    )
    return frame.groupby("bin").agg(
        n=("actual", "size"), expected=("expected", "mean"), actual=("actual", "mean")
    )


def calibration_chi_square(model: Any, cbs: pd.DataFrame) -> float:
    """Chi-square of calibration repeat-purchase counts 0..6, 7+ against sum_i P(X(T_i) = k)."""
    ages = cbs["T"].to_numpy()
    expected = [float(model.probability_of_n_purchases(ages, k).sum()) for k in range(7)]
    expected.append(len(cbs) - sum(expected))
    observed = cbs["x"].clip(upper=7).value_counts().sort_index().to_numpy()
    return float(sum((o - e) ** 2 / e for o, e in zip(observed, expected, strict=True)))


@pytest.fixture(scope="session")
def holdout() -> Any:
    return holdout_table


@pytest.fixture(scope="session")
def chi_square() -> Any:
    return calibration_chi_square
