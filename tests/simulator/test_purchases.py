"""Orders: the BG/NBD process matches its parameters; money adds up; slices shop like themselves."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.special import hyp2f1

from aftersale.simulator import SimulationSpec, iter_shards
from aftersale.simulator.catalog import build_catalog

from .conftest import MEDIUM, Store

Z = 4.0


def test_one_time_buyer_share_matches_bgnbd(medium_truth: pd.DataFrame) -> None:
    # P(no repeat purchase in T) = (alpha / (alpha + T))^r for every customer observed for T days.
    r, alpha = MEDIUM.r, MEDIUM.alpha
    q = (alpha / (alpha + medium_truth["observed_days"].to_numpy())) ** r
    observed = (medium_truth["n_repeat_purchases"] == 0).to_numpy()
    se = np.sqrt(np.sum(q * (1 - q))) / len(q)
    assert abs(observed.mean() - q.mean()) < Z * se


def test_mean_repeat_purchases_matches_bgnbd(medium_truth: pd.DataFrame) -> None:
    r, alpha, a, b = MEDIUM.r, MEDIUM.alpha, MEDIUM.a, MEDIUM.b
    t = medium_truth["observed_days"].to_numpy()
    expected = (
        (a + b - 1)
        / (a - 1)
        * (1 - (alpha / (alpha + t)) ** r * hyp2f1(r, b, a + b - 1, t / (alpha + t)))
    )
    x = medium_truth["n_repeat_purchases"].to_numpy()
    assert abs(x.mean() - expected.mean()) < Z * x.std() / np.sqrt(len(x))


def test_repeat_purchases_given_hidden_rates(medium_truth: pd.DataFrame) -> None:
    # min(N, J) with N ~ Poisson(lambda T), J ~ Geometric(p) has mean (1 - exp(-lambda p T)) / p.
    lam, p = medium_truth["lambda_per_day"].to_numpy(), medium_truth["p_dropout"].to_numpy()
    expected = -np.expm1(-lam * p * medium_truth["observed_days"].to_numpy()) / p
    residual = medium_truth["n_repeat_purchases"].to_numpy() - expected
    assert abs(residual.mean()) < Z * residual.std() / np.sqrt(len(residual))


def test_dropout_share_given_hidden_rates(medium_truth: pd.DataFrame) -> None:
    # N ~ Poisson(lambda T) buys, drop-out after each with p: P(dropped) = 1 - exp(-lambda p T).
    lam, p = medium_truth["lambda_per_day"].to_numpy(), medium_truth["p_dropout"].to_numpy()
    q = 1 - np.exp(-lam * p * medium_truth["observed_days"].to_numpy())
    dropped = (~medium_truth["is_alive_at_end"]).to_numpy()
    assert abs(dropped.mean() - q.mean()) < Z * np.sqrt(np.sum(q * (1 - q))) / len(q) + 0.005


def test_dropout_only_after_a_repeat_purchase(medium_truth: pd.DataFrame) -> None:
    dropped = medium_truth[~medium_truth["is_alive_at_end"]]
    assert (dropped["dropout_at"] == dropped["last_purchase_at"]).all()
    assert (dropped["dropout_at"] > dropped["first_order_at"]).all()
    assert (dropped["n_repeat_purchases"] >= 1).all()
    alive = medium_truth[medium_truth["is_alive_at_end"]]
    assert alive["dropout_at"].isna().all()


def test_orders_sit_in_local_daytime(medium: Store, medium_orders: pd.DataFrame) -> None:
    customers = pd.read_parquet(medium.root / "customers.parquet")[["customer_id", "time_zone"]]
    london = medium_orders.merge(customers, on="customer_id").query("time_zone == 'Europe/London'")
    hours = london["ordered_at"].dt.tz_convert("Europe/London").dt.hour
    night = hours.isin([2, 3, 4]).mean()
    evening = hours.isin([19, 20, 21]).mean()
    assert evening > 8 * night


def test_offer_tier_of_first_order_follows_slice(medium_truth: pd.DataFrame) -> None:
    tiers = medium_truth.groupby("slice")["first_offer_tier"].value_counts(normalize=True)
    assert tiers["pain_now"].idxmax() == "urgent"
    assert tiers["budget_starter"].idxmax() == "starter"
    assert tiers["status_chaser"].idxmax() == "pro"
    assert tiers["budget_starter"]["starter"] > 3 * tiers["status_chaser"].get("starter", 0)


def test_price_sensitive_customers_use_more_codes(
    medium_truth: pd.DataFrame, medium_orders: pd.DataFrame
) -> None:
    ps = medium_truth.set_index("customer_id")["price_sensitivity"]
    o = medium_orders.assign(
        ps=medium_orders["customer_id"].map(ps), coded=medium_orders["discount_code"].notna()
    )
    low = o[o["ps"] < o["ps"].quantile(0.25)]["coded"].mean()
    high = o[o["ps"] > o["ps"].quantile(0.75)]["coded"].mean()
    assert high > 2 * low


def test_refunds_more_for_budget_starters_and_risky_customers(medium_truth: pd.DataFrame) -> None:
    rate = medium_truth.assign(rate=medium_truth["n_refunds"] / medium_truth["n_purchases"])
    by_slice = rate.groupby("slice")["rate"].mean()
    assert by_slice["budget_starter"] > 1.5 * by_slice["status_chaser"]
    risky = rate[rate["risk_rank"] > 0.8]["rate"].mean()
    safe = rate[rate["risk_rank"] < 0.2]["rate"].mean()
    assert risky > 2 * safe


def test_staples_are_bought_again_on_their_cycle(medium: Store, medium_truth: pd.DataFrame) -> None:
    lines = medium.lines().merge(
        medium.orders()[["order_id", "customer_id", "ordered_at"]], on="order_id"
    )
    staple = medium_truth.set_index("customer_id")["staple_product_id"]
    lines["staple"] = lines["customer_id"].map(staple)
    n_orders = lines.groupby("customer_id")["order_id"].nunique()
    hits = lines[lines["product_id"] == lines["staple"]]
    own_share = len(hits) / n_orders[staple.dropna().index].sum()
    # Baseline: how often other customers' orders hold that same product.
    others = lines[lines["staple"] != lines["product_id"]]
    contains = others.groupby("product_id")["order_id"].nunique()
    per_staple = staple.dropna().map(lambda p: contains.get(p, 0)) / lines["order_id"].nunique()
    assert own_share > 4 * per_staple.mean()
    # Refills follow the product's replenishment cycle.
    days = pd.read_parquet(medium.root / "truth" / "products_truth.parquet").set_index(
        "product_id"
    )["replenishment_days"]
    hits = hits.sort_values(["customer_id", "ordered_at"])
    gap = hits.groupby("customer_id")["ordered_at"].diff().dt.total_seconds() / 86_400
    ratio = (gap / hits["product_id"].map(days)).dropna()
    assert 0.5 < ratio.median() < 1.5


def test_complements_are_bought_together(medium: Store) -> None:
    catalog = build_catalog(MEDIUM)
    partners = {
        str(catalog.product_id[i]): {str(catalog.product_id[j]) for j in row if j >= 0}
        for i, row in enumerate(catalog.complements)
    }
    lines = medium.lines()
    first = lines[lines["line_number"] == 1].set_index("order_id")["product_id"]
    later = lines[lines["line_number"] > 1]
    hit = [
        p in partners[first[o]] for o, p in zip(later["order_id"], later["product_id"], strict=True)
    ]
    assert np.mean(hit) > 0.2


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    customers=st.integers(1, 60),
    days=st.integers(1, 120),
    seed=st.integers(0, 2**32 - 1),
    currency=st.sampled_from(["GBP", "JPY", "KWD"]),
)
def test_order_invariants(customers: int, days: int, seed: int, currency: str) -> None:
    spec = SimulationSpec(
        customers=customers, days=days, seed=seed, currencies=(currency,), formats=frozenset()
    )
    for shard in iter_shards(spec):
        o, n = shard.orders, len(shard.people)
        end = spec.end_second
        assert set(np.unique(o.cust)) == set(
            range(n)
        )  # every customer ordered, every order has a customer
        assert np.all((o.t >= 0) & (o.t < end))
        assert np.all(o.updated_t >= o.t) and np.all(o.updated_t < end + 31 * 60)
        assert np.all(np.diff(o.cust) >= 0)
        counts = np.bincount(o.line_order, minlength=len(o))
        assert counts.min() >= 1 and counts.max() <= 4
        gross = o.unit_price * o.quantity
        assert np.array_equal(
            np.bincount(o.line_order, weights=gross, minlength=len(o)).astype(np.int64), o.subtotal
        )
        assert np.array_equal(
            np.bincount(o.line_order, weights=o.line_discount, minlength=len(o)).astype(np.int64),
            o.discount,
        )
        assert np.all(o.line_discount <= gross) and np.all(o.line_discount >= 0)
        assert np.array_equal(o.total, o.subtotal - o.discount + o.shipping + o.tax)
        assert np.all((o.refund >= 0) & (o.refund <= o.total))
        assert np.all(o.refund[o.is_cancel] == 0)
        assert np.array_equal(
            np.bincount(o.line_order, weights=o.quantity, minlength=len(o)).astype(np.int64),
            o.item_count,
        )
        real_t = np.where(o.is_cancel, end, o.t)
        first = np.full(n, end)
        np.minimum.at(first, o.cust, real_t)
        dropped = o.dropout_t >= 0
        assert np.all(o.dropout_t[dropped] > first[dropped])  # never before the first purchase
        truth = shard.tables.truth.to_pandas()
        assert (truth["n_orders"].sum()) == len(o)
        if currency == "JPY":
            assert all("." not in v for v in shard.tables.orders_csv.column("total").to_pylist())
