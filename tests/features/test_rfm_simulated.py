"""Models fitted on the warehouse summary of a simulated store, checked against its truth."""

from __future__ import annotations

from datetime import timedelta

import polars as pl
import pytest

from aftersale.features import rfm_summary
from aftersale.models import BetaGeoModel
from aftersale.services.ingest import ingest
from aftersale.simulator import SimulationSpec, simulate_store
from aftersale.store.warehouse import Warehouse
from tests.factories import make_settings


@pytest.fixture(scope="module")
def fitted(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[SimulationSpec, BetaGeoModel, pl.DataFrame]:
    root = tmp_path_factory.mktemp("sim")
    # Exact timestamps, every order a purchase: the simulator's process is continuous-time.
    spec = SimulationSpec(customers=6000, days=365, seed=5, alpha=30.0, formats=frozenset({"csv"}))
    store = simulate_store(spec, root / "store")
    settings = make_settings(root / "project")
    ingest("orders", store.path("orders.csv"), settings=settings)
    with Warehouse(settings.warehouse) as wh:
        summary = wh.to_polars(
            rfm_summary(wh.table("orders"), spec.start + timedelta(days=spec.days))
        )
    model = BetaGeoModel().fit(summary["frequency"], summary["recency"], summary["T"])
    truth = pl.read_parquet(store.path("truth/customers_truth.parquet"))
    return spec, model, summary.join(truth, on="customer_id")


def test_purchase_and_dropout_parameters_are_recovered(
    fitted: tuple[SimulationSpec, BetaGeoModel, pl.DataFrame],
) -> None:
    spec, model, _ = fitted
    for name in ("r", "alpha", "a", "b"):
        error = abs(model.params_[name] - getattr(spec, name))
        assert error <= 3 * model.standard_errors_[name], (name, model.params_[name])


def test_p_alive_is_calibrated_against_true_status(
    fitted: tuple[SimulationSpec, BetaGeoModel, pl.DataFrame],
) -> None:
    _, model, joined = fitted
    p_alive = model.probability_alive(joined["frequency"], joined["recency"], joined["T"])
    binned = (
        joined.with_columns(pl.Series("p", p_alive))
        .with_columns((pl.col("p") * 5).floor().clip(0, 4).alias("bin"))
        .group_by("bin")
        .agg(
            pl.len().alias("n"),
            pl.col("p").mean(),
            pl.col("is_alive_at_end").cast(pl.Float64).mean(),
        )
    )
    for row in binned.iter_rows(named=True):
        assert row["n"] >= 100
        assert abs(row["p"] - row["is_alive_at_end"]) < 0.06, row
