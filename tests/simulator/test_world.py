"""Customers: hidden traits follow the spec's distributions; contact details are well formed."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import phonenumbers
from scipy import stats
from scipy.special import polygamma, psi

from aftersale.simulator import SLICES, SimulationSpec
from aftersale.simulator.catalog import build_catalog
from aftersale.simulator.geo import COUNTRIES
from aftersale.simulator.profiles import PRICE_SENSITIVITY_MEAN, SLICE_CATEGORY_TILT
from aftersale.simulator.world import customer_ids, generate_customers

from .conftest import MEDIUM, Store

Z = 4.0  # tolerance in standard errors: a correct generator fails about 1 time in 16,000


def test_lambda_is_gamma_r_alpha(medium_truth: pd.DataFrame) -> None:
    lam = medium_truth["lambda_per_day"].to_numpy()
    n, r, alpha = len(lam), MEDIUM.r, MEDIUM.alpha
    assert abs(lam.mean() - r / alpha) < Z * np.sqrt(r) / alpha / np.sqrt(n)
    # log(lambda) has mean digamma(r) - log(alpha) and variance trigamma(r) under Gamma(r, alpha).
    log_lam = np.log(lam)
    assert abs(log_lam.mean() - (psi(r) - np.log(alpha))) < Z * np.sqrt(polygamma(1, r) / n)


def test_p_is_beta_a_b_and_risk_is_its_rank(medium_truth: pd.DataFrame) -> None:
    p = medium_truth["p_dropout"].to_numpy()
    a, b, n = MEDIUM.a, MEDIUM.b, len(p)
    sd = np.sqrt(a * b / ((a + b) ** 2 * (a + b + 1)))
    assert abs(p.mean() - a / (a + b)) < Z * sd / np.sqrt(n)
    assert stats.kstest(p, stats.beta(a, b).cdf).pvalue > 1e-3
    risk = medium_truth["risk_rank"].to_numpy()
    assert stats.kstest(risk, "uniform").pvalue > 1e-3


def test_slice_shares_follow_weights(medium_truth: pd.DataFrame) -> None:
    n = len(medium_truth)
    weights = np.asarray(MEDIUM.slice_weights) / sum(MEDIUM.slice_weights)
    shares = medium_truth["slice"].value_counts(normalize=True)
    for s, w in zip(SLICES, weights, strict=True):
        assert abs(shares[s] - w) < Z * np.sqrt(w * (1 - w) / n), s


def test_price_sensitivity_by_slice(medium_truth: pd.DataFrame) -> None:
    for k, s in enumerate(SLICES):
        ps = medium_truth.loc[medium_truth["slice"] == s, "price_sensitivity"].to_numpy()
        m = PRICE_SENSITIVITY_MEAN[k]
        assert abs(ps.mean() - m) < Z * np.sqrt(m * (1 - m) / 9 / len(ps)), s
    by = medium_truth.groupby("slice")["price_sensitivity"].mean()
    assert by["budget_starter"] > by["proof_seeker"] > by["status_chaser"]


def test_category_preferences_are_distributions_tilted_by_slice(medium_truth: pd.DataFrame) -> None:
    prefs = np.stack(medium_truth["category_prefs"].to_numpy())
    assert prefs.shape[1] == 10
    assert np.allclose(prefs.sum(axis=1), 1.0)
    for k, s in enumerate(SLICES):
        mine = prefs[medium_truth["slice"].to_numpy() == s]
        tilt = list(SLICE_CATEGORY_TILT[k])
        others = [c for c in range(10) if c not in tilt]
        assert mine[:, tilt].mean() > 1.5 * mine[:, others].mean(), s


def test_contacts_are_well_formed(medium: Store) -> None:
    customers = pd.read_csv(medium.root / "customers.csv", dtype=str, keep_default_na=False)
    assert list(customers.columns) == [
        "customer_id",
        "email",
        "phone",
        "first_name",
        "last_name",
        "country",
        "time_zone",
        "created_at",
    ]
    assert customers["customer_id"].is_unique
    assert customers["email"].is_unique
    assert customers["email"].str.fullmatch(r"[a-z0-9.]+@[a-z.]+\.(com|org|net)").all()
    phones = customers.loc[customers["phone"] != "", "phone"]
    assert 0.7 < len(phones) / len(customers) < 0.8
    assert phones.str.fullmatch(r"\+[1-9]\d{7,14}").all()
    sample = phones.sample(400, random_state=0)
    assert all(phonenumbers.is_valid_number(phonenumbers.parse(p)) for p in sample)
    zones_of = {c.code: {z for z, _ in c.zones} for c in COUNTRIES}
    for country, zone in (
        customers[["country", "time_zone"]].drop_duplicates().itertuples(index=False)
    ):
        assert zone in zones_of[country]
        ZoneInfo(zone)
    assert customers["time_zone"].nunique() >= 15
    iso = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d"
    assert customers["created_at"].str.fullmatch(iso).all()
    assert customers["created_at"].str.endswith("+05:30").any()  # India keeps its half hour


def test_created_at_is_before_first_order(medium: Store, medium_truth: pd.DataFrame) -> None:
    customers = pd.read_parquet(medium.root / "customers.parquet")
    merged = customers.merge(medium_truth[["customer_id", "first_order_at"]], on="customer_id")
    gap = (merged["first_order_at"] - merged["created_at"]).dt.total_seconds()
    assert (gap >= 0).all()
    assert (gap <= 1_200).all()


def test_sms_consent_needs_a_phone_and_pain_now_opts_in_most(
    medium_truth: pd.DataFrame, medium: Store
) -> None:
    customers = pd.read_csv(medium.root / "customers.csv", dtype=str, keep_default_na=False)
    has_phone = customers.set_index("customer_id")["phone"] != ""
    truth = medium_truth.set_index("customer_id")
    assert not (truth["sms_opt_in"] & ~has_phone.reindex(truth.index)).any()
    share = truth.groupby("slice")["sms_opt_in"].mean()
    assert share["pain_now"] == share.max()


def test_customer_ids_are_stable_strings() -> None:
    assert customer_ids(np.array([0, 41, 9_999_998])).tolist() == [
        "C0000001",
        "C0000042",
        "C9999999",
    ]


def test_shard_is_reproducible_and_independent_of_other_shards() -> None:
    spec = SimulationSpec(customers=3_000, seed=4)
    catalog = build_catalog(spec)
    one = generate_customers(spec, catalog, 2)
    two = generate_customers(spec, catalog, 2)
    assert one.index[0] == 2_000
    assert np.array_equal(one.lam, two.lam)
    assert np.array_equal(one.email, two.email)
    other_seed = generate_customers(SimulationSpec(customers=3_000, seed=5), catalog, 2)
    assert not np.array_equal(one.lam, other_seed.lam)
