"""ReplenishmentModel: shrinkage, input errors, coverage, point-in-time, simulator truth."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aftersale.errors import InvalidInputError, NotFittedError, SchemaError
from aftersale.models.replenishment import ReplenishmentModel
from aftersale.simulator import SimulationSpec, simulate_store

START = pd.Timestamp("2025-01-01", tz="UTC")
AS_OF = pd.Timestamp("2026-01-01", tz="UTC")


def _draw(
    rng: np.random.Generator,
    n_customers: int,
    max_intervals: int,
    *,
    key: str = "x",
    median_days: float = 30.0,
    tau: float = 0.4,
    sigma: float = 0.3,
) -> tuple[pd.DataFrame, np.ndarray]:
    """Purchases drawn from the model's assumptions, ending before AS_OF, and the next interval."""
    mu = np.log(median_days) + tau * rng.standard_normal(n_customers)
    k = rng.integers(0, max_intervals + 1, n_customers)  # history intervals per customer
    cust = np.repeat(np.arange(n_customers), k + 1)
    gaps = np.exp(mu[cust] + sigma * rng.standard_normal(len(cust)))
    first = np.r_[True, cust[1:] != cust[:-1]]
    offsets = np.where(first, 0.0, gaps)
    t = pd.Series(offsets).groupby(cust).cumsum().to_numpy()
    total = pd.Series(t).groupby(cust).transform("max").to_numpy()
    at = AS_OF - pd.Timedelta(days=1) - pd.to_timedelta(total - t, unit="D")
    frame = pd.DataFrame(
        {"customer_id": [f"c{i:05d}" for i in cust], "key": key, "purchased_at": at}
    )
    next_gap = np.exp(mu + sigma * rng.standard_normal(n_customers))
    return frame, next_gap


def _regular(customer: str, every_days: float, n_purchases: int, key: str = "x") -> pd.DataFrame:
    """One customer buying ``key`` every ``every_days`` days, ending before AS_OF."""
    at = [AS_OF - pd.Timedelta(days=2 + every_days * i) for i in range(n_purchases)]
    return pd.DataFrame({"customer_id": customer, "key": key, "purchased_at": at})


@pytest.fixture(scope="module")
def category() -> pd.DataFrame:
    """A category whose customers re-buy around every 30 days."""
    frame, _ = _draw(np.random.default_rng(1), 400, 6)
    return frame


def test_predict_before_fit_raises() -> None:
    with pytest.raises(NotFittedError, match="fit"):
        ReplenishmentModel().predict(pd.DataFrame(), AS_OF)


def test_bad_input_names_the_column_or_argument(category: pd.DataFrame) -> None:
    with pytest.raises(SchemaError, match="'product_id'"):
        ReplenishmentModel(key="product_id").fit(category)
    naive = category.assign(purchased_at=category["purchased_at"].dt.tz_localize(None))
    with pytest.raises(InvalidInputError, match=r"'purchased_at'.*timezone-aware"):
        ReplenishmentModel().fit(naive)
    with pytest.raises(InvalidInputError, match=r"min_interval_days.*interval_level"):
        ReplenishmentModel(min_interval_days=0, interval_level=1.5).fit(category)
    model = ReplenishmentModel().fit(category)
    with pytest.raises(InvalidInputError, match="'as_of'"):
        model.predict(category, datetime(2026, 1, 1))  # naive on purpose
    with pytest.raises(InvalidInputError, match="'customer_id'"):
        model.fit(category.assign(customer_id=None))


def test_one_purchase_customer_gets_the_category_typical_interval(category: pd.DataFrame) -> None:
    model = ReplenishmentModel().fit(category)
    new = _regular("new", 1, 1)
    pred = model.predict(pd.concat([category, new]), AS_OF)
    out = {c: pred[c].to_numpy()[pred["customer_id"].to_numpy() == "new"][0] for c in pred}
    typical = float(model.category_params_["typical_interval_days"].to_numpy()[0])
    assert 25 < typical < 36
    assert out["expected_interval_days"] == pytest.approx(typical)
    assert out["confidence"] == 0.0
    assert out["interval_lower_days"] < typical < out["interval_upper_days"]
    due = pd.Timestamp(out["last_purchase_at"]) + pd.Timedelta(days=typical)
    gap = abs(pd.Timestamp(out["next_need_at"]) - due)
    assert gap < pd.Timedelta(1, unit="s")


def test_regular_customer_follows_own_rhythm_and_shrinkage_fades(category: pd.DataFrame) -> None:
    model = ReplenishmentModel().fit(category)
    mine = pd.concat([_regular(f"r{n:02d}", 10, n + 1) for n in (1, 2, 4, 8, 16)])
    out = model.predict(mine, AS_OF).set_index("customer_id")
    error = np.abs(np.log(out["expected_interval_days"] / 10)).to_numpy()
    assert np.all(np.diff(error) < 0)  # pulled less toward 30 days with every extra interval
    assert np.all(np.diff(out["confidence"].to_numpy()) > 0)
    assert out.loc["r16", "expected_interval_days"] == pytest.approx(10, rel=0.12)
    assert out["confidence"].to_numpy()[-1] > 0.9
    assert not out["is_overdue"].any()  # last purchase 2 days before AS_OF
    late = model.predict(mine, AS_OF + pd.Timedelta(days=60))
    assert late["is_overdue"].all()


def test_same_day_purchases_are_merged(category: pd.DataFrame) -> None:
    model = ReplenishmentModel().fit(category)
    one = _regular("d", 10, 5)
    dup = pd.concat([one, one.assign(purchased_at=one["purchased_at"] + pd.Timedelta(hours=3))])
    pd.testing.assert_frame_equal(model.predict(one, AS_OF), model.predict(dup, AS_OF))


def test_unseen_key_uses_the_all_key_prior_and_empty_fit_is_refused(
    category: pd.DataFrame,
) -> None:
    model = ReplenishmentModel().fit(category)
    out = model.predict(_regular("n", 1, 1, key="never-seen"), AS_OF)
    assert out["expected_interval_days"].to_numpy()[0] == pytest.approx(
        model.global_params_["typical_interval_days"]
    )
    with pytest.raises(InvalidInputError, match="no rows"):
        ReplenishmentModel().fit(category.iloc[:0])


def test_polars_input_and_custom_key(category: pd.DataFrame) -> None:
    frame = pl.from_pandas(category.rename(columns={"key": "category"}))
    model = ReplenishmentModel(key="category").fit(frame)
    out = model.predict(frame, AS_OF)
    assert list(model.category_params_.index) == ["x"] and "category" in out.columns
    assert len(out) == category["customer_id"].nunique()


def test_intervals_cover_the_next_interval_at_the_nominal_rate() -> None:
    """Data drawn from the model itself: the next real interval lands in the 80 % band ~80 % of
    the time; tolerance = 4 binomial standard errors plus 0.01 for parameter estimation."""
    rng = np.random.default_rng(7)
    n = 4000
    history, next_gap = _draw(rng, n, 6)
    model = ReplenishmentModel(interval_level=0.8).fit(history)
    out = model.predict(history, AS_OF)
    hit = (out["interval_lower_days"] <= next_gap) & (next_gap <= out["interval_upper_days"])
    tolerance = 4 * np.sqrt(0.8 * 0.2 / n) + 0.01
    assert abs(hit.mean() - 0.8) < tolerance, hit.mean()
    params = model.category_params_.loc["x"]
    assert params["prior_var_log"] == pytest.approx(0.4**2, rel=0.25)
    assert params["within_var_log"] == pytest.approx(0.3**2, rel=0.1)


_SMALL, _ = _draw(np.random.default_rng(3), 30, 4)
_SMALL_MODEL = ReplenishmentModel().fit(_SMALL)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            st.integers(0, 35), st.sampled_from(["x", "y"]), st.floats(0, 400, allow_nan=False)
        ),
        max_size=20,
    )
)
def test_purchases_after_as_of_change_nothing(future: list[tuple[int, str, float]]) -> None:
    extra = pd.DataFrame(
        {
            "customer_id": [f"c{c:05d}" for c, _, _ in future],
            "key": [k for _, k, _ in future],
            "purchased_at": pd.to_datetime(
                [AS_OF + pd.Timedelta(days=d) for _, _, d in future], utc=True
            ),
        }
    )
    base = _SMALL_MODEL.predict(_SMALL, AS_OF)
    more = _SMALL_MODEL.predict(pd.concat([_SMALL, extra], ignore_index=True), AS_OF)
    pd.testing.assert_frame_equal(base, more)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small simulated store (parquet only, about a second to build)."""
    out = tmp_path_factory.mktemp("store")
    spec = SimulationSpec(customers=3000, days=365, seed=11, formats=frozenset({"parquet"}))
    simulate_store(spec, out)
    return out


def _oracle_interval_days(
    lam: np.ndarray, cycle: np.ndarray, rng: np.random.Generator, n_orders: int = 400
) -> np.ndarray:
    """Long-run typical (geometric-mean) staple interval under the simulator's rule, per customer.

    Replays ``simulator/purchases.py``: Poisson orders at the true rate, cycle windows counted from
    the first order, the staple taken at the first order of a new window with probability 0.85,
    at any other order with 0.08 (at the first order always, to anchor it). Same-day purchases
    merge, as in the model. Drop-out and the staple's chance picks in random baskets are left out.
    """
    k = len(lam)
    gaps = rng.exponential(1.0, (k, n_orders)) / lam[:, None]
    gaps[:, 0] = 0.0
    t = np.cumsum(gaps, axis=1)
    window = np.floor(t / cycle[:, None])
    new = np.c_[np.zeros((k, 1), bool), window[:, 1:] > window[:, :-1]]
    u = rng.random((k, n_orders))
    take = np.where(new, u < 0.85, u < 0.08)
    take[:, 0] = True
    rows, cols = np.nonzero(take)
    days = pd.DataFrame({"row": rows, "day": np.floor(t[rows, cols])}).drop_duplicates()
    log_gap = np.log(days.groupby("row")["day"].diff())
    typical = np.exp(log_gap.groupby(days["row"]).mean()).reindex(range(k))
    return np.asarray(typical, dtype=np.float64)


def test_staple_intervals_match_the_simulators_cycles(store: Path) -> None:
    """Predicted staple intervals are near the simulator's true staple rhythm and cycle.

    The simulator draws order *times* from BG/NBD and decides basket *content* by cycle: the staple
    is bought (85 %) at the first order of each new cycle window, windows counted from the first
    order, and by chance (8 %) at any other order. So the observed staple rhythm is the cycle only
    when a customer orders about once to a few times per cycle: with ``lambda * cycle < 1``
    windows are missed (intervals are multiples of the cycle) and with ``lambda * cycle > 3`` the
    in-window extras shorten it well below the cycle; no model of intervals can recover the cycle
    there. Two checks, both against the naive global median interval of all consumable re-buys:

    1. Best attainable reference, every staple customer with >= 3 staple purchases: the long-run
       typical staple interval for their true rate and cycle (:func:`_oracle_interval_days`).
       Error = median absolute log ratio. Seen (seed 11): model 0.29, baseline 0.42.
    2. The true ``replenishment_days`` for customers with ``1 <= lambda * cycle <= 3`` and >= 2
       purchases, where the rhythm is the cycle. Median absolute relative error. Seen: model 0.24,
       baseline 0.24 (the global median, 27 days, happens to sit near these cycles, so only an
       absolute bar is asserted). Bars leave room for 1-3 noisy intervals per customer.
    """
    orders = pl.read_parquet(
        store / "orders.parquet", columns=["order_id", "customer_id", "ordered_at", "status"]
    )
    lines = pl.read_parquet(store / "order_lines.parquet", columns=["order_id", "product_id"])
    products = pl.read_parquet(
        store / "products.parquet", columns=["product_id", "replenishment_days"]
    )
    truth = pl.read_parquet(
        store / "truth" / "customers_truth.parquet",
        columns=["customer_id", "staple_product_id", "lambda_per_day"],
    )
    consumable = products.filter(pl.col("replenishment_days").is_not_null())
    purchases = (
        lines.join(orders.filter(~pl.col("status").is_in(["cancelled", "pending"])), on="order_id")
        .join(consumable, on="product_id")
        .select("customer_id", "product_id", pl.col("ordered_at").alias("purchased_at"))
    )
    as_of = START + pd.Timedelta(days=365)
    model = ReplenishmentModel(key="product_id").fit(purchases)
    pred = pl.from_pandas(model.predict(purchases, as_of))
    staple = (
        pred.join(
            truth,
            left_on=["customer_id", "product_id"],
            right_on=["customer_id", "staple_product_id"],
        )
        .join(consumable, on="product_id")
        .with_columns(lc=pl.col("lambda_per_day") * pl.col("replenishment_days"))
        .filter(pl.col("n_purchases") >= 2)
    )
    rng = np.random.default_rng(0)
    assert staple.height > 150  # enough customers for a stable median
    assert staple["confidence"].is_between(0, 1).all()

    gaps = (
        purchases.sort("customer_id", "product_id", "purchased_at")
        .with_columns(
            gap=(pl.col("purchased_at").diff().dt.total_seconds() / 86400).over(
                "customer_id", "product_id"
            )
        )
        .filter(pl.col("gap") >= 1)["gap"]
    )
    baseline = float(np.median(gaps.to_numpy()))

    rich = staple.filter(pl.col("n_purchases") >= 3)
    lam = rich["lambda_per_day"].to_numpy()
    oracle = _oracle_interval_days(lam, rich["replenishment_days"].to_numpy().astype(float), rng)
    model_log_error = np.median(np.abs(np.log(rich["expected_interval_days"].to_numpy() / oracle)))
    base_log_error = np.median(np.abs(np.log(baseline / oracle)))
    print(f"oracle: model={model_log_error:.3f} baseline={base_log_error:.3f} n={rich.height}")
    assert model_log_error < 0.35
    assert model_log_error < 0.85 * base_log_error  # seen 0.70-0.79 (seeds 1, 2, 3, 11)

    regular = staple.filter(pl.col("lc").is_between(1, 3), pl.col("n_purchases") >= 2)
    true_days = regular["replenishment_days"].to_numpy().astype(float)
    model_error = np.median(np.abs(regular["expected_interval_days"].to_numpy() / true_days - 1))
    base_error = np.median(np.abs(baseline / true_days - 1))
    print(f"cycle: model={model_error:.3f} baseline={base_error:.3f} n={regular.height}")
    assert model_error < 0.3
