"""Fit and evaluate end to end on a small simulated store: files, PNG, sane numbers, errors."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from aftersale.config import Settings
from aftersale.errors import InvalidInputError, StorageError
from aftersale.models import BetaGeoModel, GammaGammaModel
from aftersale.models.persistence import load_model, load_saved_model
from aftersale.services.ingest import ingest
from aftersale.services.models import EvaluateResult, FitResult, evaluate_models, fit_models
from aftersale.services.project import init_project
from aftersale.simulator import SimulationSpec, simulate_store
from aftersale.store.warehouse import Warehouse
from tests.factories import make_settings

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@dataclass
class Project:
    spec: SimulationSpec
    settings: Settings
    last_order: datetime
    fit: FitResult
    evaluation: EvaluateResult


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    root = tmp_path_factory.mktemp("models")
    spec = SimulationSpec(customers=1200, days=365, seed=7, alpha=30.0, formats=frozenset({"csv"}))
    store = simulate_store(spec, root / "store")
    settings = make_settings(root / "project")
    ingest("orders", store.path("orders.csv"), settings=settings)
    with Warehouse(settings.warehouse) as wh:
        last = wh.table("orders").ordered_at.max().to_pyarrow().as_py()
    return Project(
        spec, settings, last, fit_models(settings), evaluate_models(settings, holdout_weeks=16)
    )


def test_fit_defaults_to_the_day_after_the_latest_order(project: Project) -> None:
    window = project.fit.window
    assert window.as_of is not None
    assert window.as_of == datetime.combine(
        project.last_order.astimezone(UTC).date() + timedelta(days=1), datetime.min.time(), UTC
    )
    assert window.time_unit == "W"
    assert 0.8 * project.spec.customers < window.n_customers <= project.spec.customers


def test_fit_saves_both_models_with_sane_parameters(project: Project) -> None:
    counts, spend = project.fit.models
    assert counts.role == "purchases" and spend.role == "spend"
    assert counts.model.model_used_ == "bgnbd" and spend.model.model_used_ == "gamma_gamma"
    assert project.fit.warnings == []
    assert counts.path == project.settings.warehouse.path.parent / "models" / "bgnbd.json"
    assert counts.model.params_ is not None
    assert (counts.model.params_ > 0).all()
    assert (counts.model.standard_errors_ > 0).all()
    # the simulator draws purchase rates from gamma(r, alpha days): r is recovered in weeks too
    r = counts.model.params_["r"]
    assert abs(r - project.spec.r) < 4 * counts.model.standard_errors_["r"]
    saved = load_saved_model(counts.path)
    assert saved.window == project.fit.window
    loaded = load_model(spend.path)
    assert isinstance(loaded, GammaGammaModel)
    assert loaded.mean_spend_ == pytest.approx(spend.model.mean_spend_)
    document = project.fit.to_dict()
    json.dumps(document, allow_nan=False)
    assert document["models"][0]["params"]["r"]["coef"] == pytest.approx(r)


def test_evaluate_writes_model_report_and_a_real_png(project: Project) -> None:
    result = project.evaluation
    folder = project.settings.warehouse.path.parent / "models"
    assert result.chart_path == folder / "evaluation.png"
    assert result.chart_path.read_bytes()[:8] == PNG_MAGIC
    report = json.loads(result.report_path.read_text(encoding="utf-8"))
    assert report["evaluation"]["actual_total"] == result.evaluation.actual_total
    model = load_model(result.model.path)
    assert isinstance(model, BetaGeoModel)
    window = result.window
    assert window.calibration_end is not None and window.observation_end is not None
    assert window.observation_end - window.calibration_end == timedelta(weeks=16)


def test_evaluate_numbers_are_sane(project: Project) -> None:
    ev = project.evaluation.evaluation
    assert ev.model_used == "bgnbd"
    assert ev.actual_total > 200
    assert ev.predicted_total == pytest.approx(ev.actual_total, rel=0.2)
    assert ev.beats_naive and ev.rmse < ev.naive_rmse
    assert ev.correlation > 0.4
    table = ev.buckets
    assert table["n_customers"].sum() == ev.n_customers
    means = table["predicted_mean"].to_numpy()
    assert np.all(np.diff(means[np.isfinite(means)]) > 0)  # more past purchases, more future


def test_time_unit_days_scales_alpha_and_explicit_as_of(project: Project, tmp_path: Path) -> None:
    as_of = datetime(2025, 10, 1, tzinfo=UTC)
    days = fit_models(project.settings, as_of=as_of, time_unit="D", out_dir=tmp_path)
    weeks = fit_models(project.settings, as_of=as_of, out_dir=tmp_path / "w")
    assert days.window.as_of == as_of and days.window.time_unit == "D"
    d, w = days.models[0].model.params_, weeks.models[0].model.params_
    assert d is not None and w is not None
    assert d["r"] == pytest.approx(w["r"], rel=0.02)
    assert d["alpha"] == pytest.approx(7 * w["alpha"], rel=0.02)
    assert (tmp_path / "bgnbd.json").exists()


def test_bad_arguments_raise_invalid_input(project: Project) -> None:
    settings = project.settings
    with pytest.raises(InvalidInputError, match="'time_unit' must be W"):
        fit_models(settings, time_unit="M")
    with pytest.raises(InvalidInputError, match="'holdout_weeks' must be at least 1"):
        evaluate_models(settings, holdout_weeks=0)
    with pytest.raises(InvalidInputError, match="leaves no calibration period"):
        evaluate_models(settings, holdout_weeks=60)
    with pytest.raises(InvalidInputError, match=r"'as_of' .* is not after the first order"):
        fit_models(settings, as_of=datetime(2020, 1, 1, tzinfo=UTC))


def test_empty_and_missing_warehouses_are_explained(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "empty")
    with pytest.raises(StorageError, match="aftersale init"):
        fit_models(settings)
    init_project(tmp_path / "empty", settings=settings)
    with pytest.raises(InvalidInputError, match="holds no orders"):
        evaluate_models(settings)
