"""BasketRules: published Groceries rules, equality with mlxtend, properties, recommendations."""

from __future__ import annotations

import json
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aftersale.errors import InvalidInputError, NotFittedError, SchemaError
from aftersale.models.basket import RULE_COLUMNS, BasketRules

DATASETS = Path(__file__).resolve().parents[2].parent / "shared" / "datasets"
GROCERIES = DATASETS / "groceries_arules" / "groceries_baskets.csv"


@pytest.fixture(scope="module")
def groceries() -> list[list[str]]:
    """The 9,835 arules Groceries baskets, labels exactly as in the file (trailing spaces kept)."""
    if not DATASETS.is_dir():
        pytest.skip(f"reference datasets folder {DATASETS} is absent (shared/ not checked out)")
    assert GROCERIES.exists(), f"{GROCERIES} missing from the shared datasets"
    with GROCERIES.open(encoding="utf-8") as fh:
        return [line.rstrip("\n").split(",") for line in fh]


@pytest.fixture(scope="module")
def reference() -> dict[str, Any]:
    """Published Groceries numbers from reference_values.json."""
    with (DATASETS / "reference_values.json").open() as fh:
        data: dict[str, Any] = json.load(fh)["groceries_arules"]
    return data


@pytest.fixture(scope="module")
def groceries_rules(groceries: list[list[str]]) -> BasketRules:
    """Rules at the published thresholds: support 0.001, confidence 0.5."""
    return BasketRules(min_support=0.001, min_confidence=0.5).fit(groceries)


def test_groceries_rule_counts_match_published(
    groceries_rules: BasketRules, reference: dict[str, Any]
) -> None:
    rules = groceries_rules.rules_
    assert groceries_rules.n_baskets_ == 9835
    assert len(rules) == reference["apriori_support_0.001_conf_0.5_rules"] == 5668
    assert (rules["confidence"] > 0.8).sum() == reference["subset_conf_gt_0.8"] == 371
    assert (rules["confidence"] >= 0.8).sum() == reference[
        "widely_quoted_support_0.001_conf_0.8_rules"
    ]
    assert (rules["consequents"].map(len) == 1).all()
    assert (rules["count"] >= 10).all()


def test_groceries_item_counts(groceries_rules: BasketRules, reference: dict[str, Any]) -> None:
    items = groceries_rules.itemsets_
    singles = items[items["length"] == 1].set_index("itemsets")["count"]
    for item, count in reference["item_counts_top5"].items():
        assert singles[(item,)] == count


def test_groceries_top_rules_by_lift_match_published(
    groceries_rules: BasketRules, reference: dict[str, Any]
) -> None:
    rules = groceries_rules.rules_
    top = rules.head(len(reference["top3_by_lift"]))
    for row, pub, lift in zip(
        top.itertuples(),
        reference["top3_by_lift"],
        reference["reproduced"]["top3_lift"],
        strict=True,
    ):
        assert row.antecedents == tuple(sorted(pub["lhs"]))
        assert row.consequents == (pub["rhs"],)
        assert row.count == pub["count"]
        assert row.support == pytest.approx(pub["support"], abs=5e-5)
        assert row.confidence == pytest.approx(pub["confidence"], abs=5e-3)
        assert row.lift == pytest.approx(pub["lift"], abs=0.5)
        assert row.lift == pytest.approx(lift, abs=5e-4)
        assert row.lift == pytest.approx(row.confidence / row.consequent_support, rel=1e-12)


def test_equals_mlxtend_fpgrowth(groceries: list[list[str]]) -> None:
    """Same rule set (every consequent size) and numbers to 1e-9 as mlxtend fpgrowth."""
    frequent_patterns = pytest.importorskip("mlxtend.frequent_patterns")
    preprocessing = pytest.importorskip("mlxtend.preprocessing")
    encoder = preprocessing.TransactionEncoder()
    onehot = pd.DataFrame(encoder.fit(groceries).transform(groceries), columns=encoder.columns_)
    itemsets = frequent_patterns.fpgrowth(onehot, min_support=0.004, use_colnames=True)
    theirs = frequent_patterns.association_rules(
        itemsets, num_itemsets=len(onehot), metric="confidence", min_threshold=0.3
    )
    theirs["antecedents"] = theirs["antecedents"].map(lambda s: tuple(sorted(s)))
    theirs["consequents"] = theirs["consequents"].map(lambda s: tuple(sorted(s)))
    ours = (
        BasketRules(min_support=0.004, min_confidence=0.3, max_consequent_len=None)
        .fit(groceries)
        .rules_
    )
    assert (ours["consequents"].map(len) > 1).any()
    theirs = theirs.set_index(["antecedents", "consequents"]).sort_index()
    ours = ours.set_index(["antecedents", "consequents"]).sort_index()
    assert len(ours) == len(theirs) > 500
    assert ours.index.equals(theirs.index)
    for col in ("support", "confidence", "lift", "leverage"):
        np.testing.assert_allclose(ours[col], theirs[col], rtol=0, atol=1e-9)
    np.testing.assert_allclose(ours["antecedent_support"], theirs["antecedent support"], atol=1e-9)
    np.testing.assert_allclose(ours["conviction"], theirs["conviction"], rtol=1e-9)


def _brute_force(baskets: list[list[str]], min_support: float, min_conf: float) -> set[Any]:
    """Every rule by enumerating itemsets and splits directly (tiny inputs only)."""
    sets = [set(b) for b in baskets]
    n = len(sets)
    items = sorted(set().union(*sets))

    def count(s: tuple[str, ...]) -> int:
        return sum(1 for b in sets if b.issuperset(s))

    out = set()
    for k in range(2, len(items) + 1):
        for itemset in combinations(items, k):
            c = count(itemset)
            if c == 0 or c / n < min_support:
                continue
            for r in range(1, k):
                for cons in combinations(itemset, r):
                    ante = tuple(i for i in itemset if i not in cons)
                    if c / count(ante) >= min_conf:
                        out.add((ante, cons, c))
    return out


baskets_strategy = st.lists(
    st.lists(st.sampled_from("abcdefg"), min_size=0, max_size=5), min_size=1, max_size=25
)


@settings(max_examples=60, deadline=None)
@given(
    baskets=baskets_strategy,
    min_support=st.sampled_from([0.01, 0.1, 0.2, 1 / 3, 0.5]),
    min_conf=st.sampled_from([0.0, 0.3, 0.5, 0.75, 1.0]),
)
def test_properties_and_brute_force(
    baskets: list[list[str]], min_support: float, min_conf: float
) -> None:
    model = BasketRules(min_support, min_conf, max_consequent_len=None).fit(baskets)
    rules = model.rules_
    assert list(rules.columns) == list(RULE_COLUMNS)
    assert (rules["support"] >= min_support).all()
    assert (rules["confidence"] >= min_conf).all()
    np.testing.assert_allclose(rules["lift"], rules["confidence"] / rules["consequent_support"])
    assert (rules["antecedents"].map(lambda t: list(t) == sorted(t))).all()
    assert rules["lift"].is_monotonic_decreasing
    got = set(zip(rules["antecedents"], rules["consequents"], rules["count"], strict=True))
    assert got == _brute_force(baskets, min_support, min_conf)


def test_frame_inputs_and_max_len() -> None:
    baskets = [["a", "b", "c"], ["a", "b"], ["a", "c"], ["b", "c"], ["a", "b", "c"]]
    pairs = pd.DataFrame(
        [(i, item) for i, b in enumerate(baskets) for item in b], columns=["order_id", "sku"]
    )
    pairs = pd.concat([pairs, pairs.head(2)])  # a repeated line counts once
    from_list = BasketRules(0.2, 0.1).fit(baskets).rules_
    from_pd = BasketRules(0.2, 0.1).fit(pairs, basket_col="order_id", item_col="sku").rules_
    from_pl = BasketRules(0.2, 0.1).fit(
        pl.from_pandas(pairs), basket_col="order_id", item_col="sku"
    )
    pd.testing.assert_frame_equal(from_list, from_pd)
    pd.testing.assert_frame_equal(from_list, from_pl.rules_)
    assert from_list["antecedents"].map(len).max() == 2
    ints = pl.DataFrame({"basket_id": [1, 1, 2, 2, 3], "item": [10, 20, 10, 20, 30]})
    int_rules = BasketRules(0.5, 0.5).fit(ints).rules_
    assert set(zip(int_rules["antecedents"], int_rules["consequents"], strict=True)) == {
        ((10,), (20,)),
        ((20,), (10,)),
    }
    short = BasketRules(0.2, 0.1, max_len=2).fit(baskets)
    assert short.rules_["antecedents"].map(len).max() == 1
    assert short.itemsets_["length"].max() == 2


def test_bad_input_names_the_argument() -> None:
    with pytest.raises(InvalidInputError, match="min_support") as err:
        BasketRules(min_support=0, min_confidence=2).fit([["a"]])
    assert "min_confidence" in str(err.value)
    with pytest.raises(InvalidInputError, match="max_len"):
        BasketRules(max_len=0).fit([["a"]])
    with pytest.raises(SchemaError, match="'item' missing from 'baskets'"):
        BasketRules().fit(pd.DataFrame({"basket_id": [1]}))
    with pytest.raises(InvalidInputError, match="'baskets'"):
        BasketRules().fit("milk")
    with pytest.raises(InvalidInputError, match="'baskets' holds no baskets"):
        BasketRules().fit([])
    with pytest.raises(InvalidInputError, match="Column 'item' of 'baskets' holds nulls"):
        BasketRules().fit(pd.DataFrame({"basket_id": [1, 2], "item": ["a", None]}))


def test_recommend_before_fit_raises() -> None:
    frame = pd.DataFrame({"customer_id": ["c"], "item": ["a"]})
    with pytest.raises(NotFittedError, match="fit"):
        BasketRules().recommend(frame, frame)


@pytest.fixture(scope="module")
def shop() -> BasketRules:
    """Baskets where phone -> case (lift 1.5) beats phone -> charger (1.0) beats cable (0.43)."""
    baskets = (
        [["phone", "case", "charger"]] * 4
        + [["phone", "case"]] * 2
        + [["phone", "cable"]] * 2
        + [["phone", "charger"]] * 2
        + [["charger", "cable"]] * 3
        + [["cable"]] * 2
    )
    return BasketRules(min_support=0.1, min_confidence=0.2).fit(baskets)


def test_recommend_ranks_by_lift_and_carries_the_rule(shop: BasketRules) -> None:
    purchased = pd.DataFrame({"customer_id": ["ann"], "item": ["phone"]})
    owned = pd.DataFrame({"customer_id": ["bob"], "item": ["case"]})
    recs = shop.recommend(owned, purchased, top_k=5)
    assert recs["customer_id"].eq("ann").all()
    assert list(recs["rank"]) == list(range(1, len(recs) + 1))
    assert list(recs["item"]) == ["case", "charger", "cable"]
    assert recs["lift"].is_monotonic_decreasing
    first = recs.iloc[0]
    assert first["antecedents"] == ("phone",)
    assert first["consequents"] == ("case",)
    assert first["confidence"] == pytest.approx(6 / 10)
    assert first["lift"] == pytest.approx((6 / 10) / (6 / 15))
    top1 = shop.recommend(owned, purchased, top_k=1)
    assert list(top1["item"]) == ["case"]


def test_recommend_excludes_owned_and_purchased_items(shop: BasketRules) -> None:
    purchased = pl.DataFrame(
        {
            "customer_id": ["ann", "ann", "bob", "cid", "dee"],
            "item": ["phone", "charger", "phone", "unknown sku", "case"],
        }
    )
    owned = pd.DataFrame({"customer_id": ["bob", "bob", "zed"], "item": ["case", "cable", "x"]})
    recs = shop.recommend(owned, purchased)
    by_customer = recs.groupby("customer_id")["item"].apply(list).to_dict()
    assert "charger" not in by_customer["ann"] and "phone" not in by_customer["ann"]
    assert by_customer["bob"] == ["charger"]
    assert "cid" not in by_customer
    owned_keys = set(zip(owned["customer_id"], owned["item"], strict=True))
    assert not owned_keys & set(zip(recs["customer_id"], recs["item"], strict=True))
    assert all(i in c for i, c in zip(recs["item"], recs["consequents"], strict=True))
    assert not recs.duplicated(["customer_id", "item"]).any()
    with pytest.raises(InvalidInputError, match="top_k"):
        shop.recommend(owned, purchased, top_k=0)
    with pytest.raises(SchemaError, match="'owned'"):
        shop.recommend(owned.rename(columns={"item": "sku"}), purchased)
