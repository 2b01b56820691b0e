"""Models saved as JSON come back with bit-for-bit identical predictions; bad files are refused."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from aftersale.errors import InvalidInputError, NotFittedError
from aftersale.models import (
    BetaGeoBetaBinomModel,
    BetaGeoModel,
    CountModel,
    GammaGammaModel,
    ModifiedBetaGeoModel,
    NBDModel,
    ParetoNBDModel,
    RfmHeuristicModel,
    ShiftedBetaGeoModel,
)
from aftersale.models.persistence import (
    FORMAT_VERSION,
    DataWindow,
    load_model,
    load_saved_model,
    save_model,
)


def _count_predictions(model: CountModel, cbs: pd.DataFrame) -> list[np.ndarray]:
    x, t_x, age = cbs["x"], cbs["t_x"], cbs["T"]
    nxt = model.expected_next_purchase(x[:50], t_x[:50], age[:50])
    return [
        model.expected_purchases(39.0, x, t_x, age),
        model.probability_alive(x, t_x, age),
        model.expected_purchases_unconditional([1.0, 39.0, 78.0]),
        model.probability_of_n_purchases(39.0, [0, 1, 5]),
        nxt.to_numpy(dtype=float),
    ]


def _strict_json(path: Path) -> dict[str, Any]:
    def refuse(token: str) -> None:
        raise AssertionError(f"non-standard JSON token {token} in {path}")

    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"), parse_constant=refuse)
    return data


@pytest.mark.parametrize(
    "cls", [BetaGeoModel, ModifiedBetaGeoModel, ParetoNBDModel, NBDModel, RfmHeuristicModel]
)
def test_count_model_round_trip_predicts_identically(
    cls: type[CountModel], cdnow_cbs: pd.DataFrame, tmp_path: Path
) -> None:
    model = cls().fit(cdnow_cbs["x"], cdnow_cbs["t_x"], cdnow_cbs["T"])
    window = DataWindow(time_unit="W", n_customers=len(cdnow_cbs))
    path = save_model(model, tmp_path / "model.json", window=window)
    loaded = load_model(path)
    assert type(loaded) is cls
    assert loaded.model_used_ == model.model_used_
    assert np.array_equal([loaded.log_likelihood_], [model.log_likelihood_], equal_nan=True)
    pd.testing.assert_series_equal(loaded.params_, model.params_)
    pd.testing.assert_series_equal(loaded.standard_errors_, model.standard_errors_)
    assert isinstance(loaded, CountModel)
    for ours, theirs in zip(
        _count_predictions(loaded, cdnow_cbs), _count_predictions(model, cdnow_cbs), strict=True
    ):
        assert np.array_equal(ours, theirs, equal_nan=True)
    document = _strict_json(path)
    assert document["model"]["class"] == cls.__name__
    assert document["window"]["n_customers"] == 2357


def test_fallback_chain_is_saved_and_serves_predictions(
    cdnow_cbs: pd.DataFrame, tmp_path: Path
) -> None:
    few = cdnow_cbs.iloc[:40]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = BetaGeoModel().fit(few["x"], few["t_x"], few["T"])
    assert model.fallback_ is not None and model.model_used_ != "bgnbd"
    loaded = load_model(save_model(model, tmp_path / "fallback.json"))
    assert isinstance(loaded, BetaGeoModel) and loaded.fallback_ is not None
    assert loaded.model_used_ == model.model_used_
    assert type(loaded.fallback_) is type(model.fallback_)
    assert np.isnan(loaded.params_).all()  # the primary was skipped: NaN survives as null
    for ours, theirs in zip(
        _count_predictions(loaded, cdnow_cbs), _count_predictions(model, cdnow_cbs), strict=True
    ):
        assert np.array_equal(ours, theirs, equal_nan=True)
    _strict_json(tmp_path / "fallback.json")


def test_spend_and_other_models_round_trip(cdnow_spend: pd.DataFrame, tmp_path: Path) -> None:
    spend = GammaGammaModel().fit(cdnow_spend["x"], cdnow_spend["zbar"])
    loaded = load_model(save_model(spend, tmp_path / "gg.json"))
    assert isinstance(loaded, GammaGammaModel)
    args = (cdnow_spend["x"], cdnow_spend["zbar"])
    assert np.array_equal(loaded.expected_spend(*args), spend.expected_spend(*args))
    assert loaded.mean_spend_ == spend.mean_spend_

    bgbb = BetaGeoBetaBinomModel.from_params(alpha=1.204, beta=0.75, gamma=0.657, delta=2.783)
    again = load_model(save_model(bgbb, tmp_path / "bgbb.json"))
    assert isinstance(again, BetaGeoBetaBinomModel)
    assert np.array_equal(
        again.probability_alive([0, 2, 6], [0, 4, 6], 6),
        bgbb.probability_alive([0, 2, 6], [0, 4, 6], 6),
    )
    sbg = ShiftedBetaGeoModel.from_params(alpha=0.704, beta=1.182)
    back = load_model(save_model(sbg, tmp_path / "sbg.json"))
    assert isinstance(back, ShiftedBetaGeoModel)
    assert np.array_equal(back.survival([1, 5, 12]), sbg.survival([1, 5, 12]))
    assert np.isnan(back.log_likelihood_)  # from_params: unknown, written as null


def test_file_records_window_and_versions(tmp_path: Path) -> None:
    import aftersale

    model = BetaGeoModel.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426)
    as_of = pd.Timestamp("1998-07-01", tz="UTC").to_pydatetime()
    window = DataWindow(as_of=as_of, time_unit="W", n_customers=2357)
    saved = load_saved_model(save_model(model, tmp_path / "m.json", window=window))
    assert saved.window == window
    assert saved.aftersale_version == aftersale.__version__
    assert saved.format_version == FORMAT_VERSION


def _write(path: Path, document: dict[str, Any]) -> Path:
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


@pytest.fixture
def saved(tmp_path: Path) -> dict[str, Any]:
    model = BetaGeoModel.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426)
    document: dict[str, Any] = json.loads(save_model(model, tmp_path / "ok.json").read_text())
    return document


def test_unknown_class_is_refused_naming_the_file(saved: dict[str, Any], tmp_path: Path) -> None:
    saved["model"]["class"] = "os.system"
    path = _write(tmp_path / "evil.json", saved)
    with pytest.raises(InvalidInputError, match=r"evil\.json.*unknown model class 'os\.system'"):
        load_model(path)


def test_future_format_version_is_refused(saved: dict[str, Any], tmp_path: Path) -> None:
    saved["format_version"] = FORMAT_VERSION + 1
    path = _write(tmp_path / "future.json", saved)
    with pytest.raises(InvalidInputError, match=r"future\.json: format_version 2 is newer"):
        load_model(path)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("not json", "not a readable JSON model file"),
        ('{"format": "something.else"}', "not an aftersale model file"),
        ('{"format": "aftersale.model", "format_version": 1}', "malformed model file"),
    ],
)
def test_broken_files_are_refused(tmp_path: Path, content: str, problem: str) -> None:
    path = tmp_path / "broken.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InvalidInputError, match=rf"broken\.json: {problem}"):
        load_model(path)


def test_wrong_parameters_and_missing_file_are_refused(
    saved: dict[str, Any], tmp_path: Path
) -> None:
    saved["model"]["params"] = {"r": 1.0}
    with pytest.raises(InvalidInputError, match="BetaGeoModel needs parameters r, alpha, a, b"):
        load_model(_write(tmp_path / "params.json", saved))
    with pytest.raises(InvalidInputError, match="model file not found"):
        load_model(tmp_path / "absent.json")


def test_unfitted_model_cannot_be_saved(tmp_path: Path) -> None:
    with pytest.raises(NotFittedError):
        save_model(BetaGeoModel(), tmp_path / "x.json")


def test_docstring_examples_run() -> None:
    import doctest

    from aftersale.models import persistence

    result = doctest.testmod(persistence, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
