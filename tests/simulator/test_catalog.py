"""Catalogue: counts, unique ids, complements, replenishment only for consumables."""

from __future__ import annotations

import json

import numpy as np

from aftersale.simulator import SimulationSpec
from aftersale.simulator.catalog import CATEGORIES, build_catalog


def test_default_catalogue_shape() -> None:
    catalog = build_catalog(SimulationSpec())
    table = catalog.products_table()
    assert table.column_names == [
        "product_id",
        "name",
        "category",
        "brand",
        "price",
        "currency",
        "margin_rate",
        "replenishment_days",
        "complements",
    ]
    assert table.num_rows == 200
    assert len(set(table.column("category").to_pylist())) == 10
    assert len(set(table.column("product_id").to_pylist())) == 200
    assert len(set(table.column("name").to_pylist())) == 200
    assert all(0 < m < 1 for m in table.column("margin_rate").to_pylist())


def test_complements_exist_and_are_other_products() -> None:
    catalog = build_catalog(SimulationSpec(seed=5))
    ids = catalog.product_id.tolist()
    for own, raw in zip(
        ids, catalog.products_table().column("complements").to_pylist(), strict=True
    ):
        partners = json.loads(raw)
        assert own not in partners
        assert set(partners) <= set(ids)
    assert (catalog.complements[:, 0] >= 0).mean() > 0.9


def test_replenishment_days_only_for_consumables() -> None:
    catalog = build_catalog(SimulationSpec())
    consumable_cats = {i for i, c in enumerate(CATEGORIES) if c.replenish_days}
    is_consumable_cat = np.isin(catalog.category, list(consumable_cats))
    assert np.all(catalog.replenishment_days[is_consumable_cat] > 0)
    assert np.all(catalog.replenishment_days[~is_consumable_cat] == 0)
    days = catalog.products_table().column("replenishment_days").to_pylist()
    assert all((d is None) == (not c) for d, c in zip(days, is_consumable_cat, strict=True))


def test_every_category_has_every_tier_and_prices_rise_with_tier() -> None:
    catalog = build_catalog(SimulationSpec(products=30, categories=10))
    for c in range(10):
        assert set(catalog.tier[catalog.category == c]) == {0, 1, 2}
    full = build_catalog(SimulationSpec())
    means = [full.base_price_eur[full.tier == t].mean() for t in range(3)]
    assert means[0] < means[1] < means[2]


def test_prices_per_currency_and_jpy_is_whole() -> None:
    catalog = build_catalog(SimulationSpec(currencies=("JPY", "EUR")))
    assert catalog.price_minor.shape == (2, 200)
    prices = catalog.products_table().column("price").to_pylist()
    assert all("." not in p for p in prices)
    assert catalog.products_table().column("currency").to_pylist()[0] == "JPY"


def test_same_seed_same_catalogue_other_seed_other() -> None:
    a = build_catalog(SimulationSpec(seed=1)).products_table()
    b = build_catalog(SimulationSpec(seed=1)).products_table()
    c = build_catalog(SimulationSpec(seed=2)).products_table()
    assert a.equals(b)
    assert not a.equals(c)
