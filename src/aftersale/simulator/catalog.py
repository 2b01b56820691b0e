"""The simulated catalogue: products in categories with tiers, prices, margins and complements."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from aftersale.simulator.money import EXPONENTS, charm_price_minor, format_major
from aftersale.simulator.rng import Stream, rng_for
from aftersale.simulator.spec import SimulationSpec

__all__ = ["CATEGORIES", "TIERS", "Catalog", "CategoryDef", "build_catalog"]

TIERS: Final[tuple[str, ...]] = ("starter", "standard", "pro")
"""Product tiers; an order's offer tier steers which tier its products come from."""


@dataclass(frozen=True, slots=True)
class CategoryDef:
    """One catalogue category: what it sells, price level and refill cycle if consumable."""

    name: str
    nouns: tuple[str, ...]
    brands: tuple[str, ...]
    base_price_eur: float
    replenish_days: int
    complements: tuple[int, ...]
    margin: float


CATEGORIES: Final[tuple[CategoryDef, ...]] = (
    CategoryDef(
        "Coffee & Tea",
        (
            "Espresso Beans",
            "Filter Roast",
            "Sencha Green Tea",
            "Masala Chai",
            "Swiss Water Decaf",
            "Cold Brew Pouches",
        ),
        ("Ridgeline Roasters", "Kettle & Leaf", "Morrow"),
        14.0,
        28,
        (1,),
        0.55,
    ),
    CategoryDef(
        "Kitchen",
        (
            "Pour-Over Kettle",
            "Burr Grinder",
            "Milk Frother",
            "Chef's Knife",
            "Cast Iron Skillet",
            "Glass Storage Set",
        ),
        ("Hearthwise", "Ostara Home", "Copperline"),
        48.0,
        0,
        (0, 9),
        0.38,
    ),
    CategoryDef(
        "Skincare",
        (
            "Daily Moisturiser",
            "Vitamin C Serum",
            "Gentle Cleanser",
            "Mineral SPF 50",
            "Overnight Repair Cream",
            "Hydrating Toner",
        ),
        ("Lumen Botanics", "Saltmarsh", "Dewkind"),
        22.0,
        45,
        (3, 7),
        0.68,
    ),
    CategoryDef(
        "Supplements",
        (
            "Magnesium Glycinate",
            "Omega-3 Softgels",
            "Vitamin D3 Drops",
            "Whey Isolate",
            "Electrolyte Tablets",
            "Ashwagandha",
        ),
        ("Northvale Nutrition", "Kinfield", "Purecore"),
        19.0,
        30,
        (2, 5),
        0.62,
    ),
    CategoryDef(
        "Pet Care",
        (
            "Grain-Free Kibble",
            "Clumping Cat Litter",
            "Dental Chews",
            "Salmon Training Treats",
            "Oatmeal Pet Shampoo",
            "Joint Support Bites",
        ),
        ("Pawsome Pantry", "Tailwise", "Fernhill Pets"),
        24.0,
        32,
        (6,),
        0.45,
    ),
    CategoryDef(
        "Home Fitness",
        (
            "Resistance Band Set",
            "Cork Yoga Mat",
            "Adjustable Dumbbells",
            "Foam Roller",
            "Weighted Jump Rope",
            "Door Pull-Up Bar",
        ),
        ("Corebound", "Stridewell", "Apex Forge"),
        39.0,
        0,
        (3, 7),
        0.42,
    ),
    CategoryDef(
        "Outdoor",
        (
            "Trail Daypack",
            "Insulated Bottle",
            "Rechargeable Lantern",
            "Packable Rain Shell",
            "Trekking Poles",
            "Camp Mug",
        ),
        ("Fjellmark", "Summit & Vale", "Wildbarrow"),
        45.0,
        0,
        (4, 7),
        0.40,
    ),
    CategoryDef(
        "Apparel",
        (
            "Merino Tee",
            "Running Socks",
            "Fleece Hoodie",
            "Training Shorts",
            "Ribbed Beanie",
            "Base Layer Top",
        ),
        ("Woolhaven", "Northrow", "Tempo Athletic"),
        32.0,
        0,
        (5, 6),
        0.52,
    ),
    CategoryDef(
        "Tech Accessories",
        (
            "USB-C Fast Charger",
            "Wireless Earbuds",
            "Aluminium Phone Stand",
            "Power Bank",
            "Braided Cable Kit",
            "Smart Scale",
        ),
        ("Voltwell", "Brightlane", "Quanta Gear"),
        29.0,
        0,
        (9,),
        0.35,
    ),
    CategoryDef(
        "Courses & Guides",
        (
            "Beginner Course",
            "Masterclass",
            "Guided Workbook",
            "1:1 Coaching Session",
            "Recipe Collection",
            "30-Day Programme",
        ),
        ("Studio Clarity", "Brightpath Learning", "Field Notes"),
        35.0,
        0,
        (1, 8),
        0.85,
    ),
)
"""Up to ten categories; the first ``spec.categories`` of them are used."""

_TIER_WORDS: Final[tuple[tuple[str, ...], ...]] = (
    ("Starter", "Essentials", "Mini", "Trial"),
    ("Classic", "Everyday", "Original", "Signature"),
    ("Pro", "Reserve", "Limited Edition", "Elite"),
)
_TIER_PRICE: Final[tuple[float, ...]] = (0.55, 1.0, 2.1)
_TIER_SHARE: Final[tuple[float, ...]] = (0.35, 0.4, 0.25)
_SIZES: Final[tuple[tuple[str, float], ...]] = (("small", 0.7), ("", 1.0), ("large", 1.8))


@dataclass(frozen=True, slots=True)
class Catalog:
    """Arrays describing every product; index ``i`` is the same product in all of them."""

    product_id: npt.NDArray[np.str_]
    name: npt.NDArray[np.str_]
    category: npt.NDArray[np.int64]
    category_names: tuple[str, ...]
    brand: npt.NDArray[np.str_]
    tier: npt.NDArray[np.int64]
    base_price_eur: npt.NDArray[np.float64]
    price_minor: npt.NDArray[np.int64]
    """Shape (currencies, products): list price per spec currency in minor units."""
    currencies: tuple[str, ...]
    margin_rate: npt.NDArray[np.float64]
    replenishment_days: npt.NDArray[np.int64]
    """Days a consumable lasts; 0 for durable goods."""
    complements: npt.NDArray[np.int64]
    """Shape (products, 3): complementary product indexes, -1 padded."""
    popularity: npt.NDArray[np.float64]

    @property
    def size(self) -> int:
        """Number of products."""
        return len(self.product_id)

    @property
    def is_consumable(self) -> npt.NDArray[np.bool_]:
        """True for products that run out and are bought again."""
        return self.replenishment_days > 0

    def products_table(self) -> pa.Table:
        """``products.csv`` rows in the store's main currency, prices as exact decimals."""
        main = self.currencies[0]
        exponent = EXPONENTS[main]
        complements = [
            json.dumps([str(self.product_id[j]) for j in row if j >= 0]) for row in self.complements
        ]
        replen = pa.array([int(d) if d > 0 else None for d in self.replenishment_days], pa.int64())
        return pa.table(
            {
                "product_id": pa.array(self.product_id.tolist(), pa.string()),
                "name": pa.array(self.name.tolist(), pa.string()),
                "category": pa.array([self.category_names[c] for c in self.category], pa.string()),
                "brand": pa.array(self.brand.tolist(), pa.string()),
                "price": format_major(self.price_minor[0], exponent),
                "currency": pa.array([main] * self.size, pa.string()),
                "margin_rate": pa.array(np.round(self.margin_rate, 3)),
                "replenishment_days": replen,
                "complements": pa.array(complements, pa.string()),
            }
        )

    def truth_table(self) -> pa.Table:
        """Hidden product facts: tier, popularity weight, base price and complement indexes."""
        base = self.products_table()
        return (
            base.append_column("tier", pa.array([TIERS[t] for t in self.tier]))
            .append_column("popularity", pa.array(self.popularity))
            .append_column("base_price_eur", pa.array(self.base_price_eur))
            .append_column("is_consumable", pa.array(self.is_consumable))
        )


def _stock_codes(rng: np.random.Generator, n: int) -> list[str]:
    """Distinct invoice-style stock codes such as ``21730`` or ``85123A``."""
    numbers = rng.choice(np.arange(10_000, 99_999), size=n, replace=False)
    suffix = rng.random(n) < 0.15
    letters = rng.choice(list("ABCDEFGHJKLMNPRSTUVW"), size=n)
    return [
        f"{num}{let if suf else ''}" for num, let, suf in zip(numbers, letters, suffix, strict=True)
    ]


def build_catalog(spec: SimulationSpec) -> Catalog:
    """Generate the catalogue for ``spec`` (deterministic for its seed)."""
    rng = rng_for(spec.seed, Stream.CATALOG, 0)
    cats = CATEGORIES[: spec.categories]
    per_cat = np.full(len(cats), spec.products // len(cats))
    per_cat[: spec.products % len(cats)] += 1
    names: list[str] = []
    category: list[int] = []
    brands: list[str] = []
    tiers: list[int] = []
    base: list[float] = []
    replen: list[int] = []
    margin: list[float] = []
    seen: set[str] = set()
    for c, (cat, count) in enumerate(zip(cats, per_cat.tolist(), strict=True)):
        tier_draw = rng.choice(3, size=count, p=_TIER_SHARE)
        tier_draw[:3] = (0, 1, 2)
        for k in range(count):
            tier = int(tier_draw[k])
            noun = cat.nouns[k % len(cat.nouns)]
            brand = cat.brands[int(rng.integers(len(cat.brands)))]
            word = _TIER_WORDS[tier][int(rng.integers(len(_TIER_WORDS[tier])))]
            size_label, size_mult = (
                _SIZES[int(rng.integers(len(_SIZES)))] if cat.replenish_days else ("", 1.0)
            )
            name = f"{brand} {noun} {word}" + (f" ({size_label})" if size_label else "")
            suffix = 2
            while name in seen:
                name = f"{brand} {noun} {word} No. {suffix}"
                suffix += 1
            seen.add(name)
            names.append(name)
            category.append(c)
            brands.append(brand)
            tiers.append(tier)
            price = cat.base_price_eur * _TIER_PRICE[tier] * size_mult * rng.lognormal(0.0, 0.25)
            base.append(float(price))
            days = (
                cat.replenish_days * size_mult * rng.uniform(0.85, 1.15)
                if cat.replenish_days
                else 0
            )
            replen.append(round(days))
            margin.append(
                float(np.clip(cat.margin + rng.normal(0, 0.05) + 0.04 * (tier - 1), 0.05, 0.95))
            )
    n = len(names)
    cat_arr = np.asarray(category, dtype=np.int64)
    tier_arr = np.asarray(tiers, dtype=np.int64)
    complements = np.full((n, 3), -1, dtype=np.int64)
    for i in range(n):
        partner_cats = [p for p in cats[cat_arr[i]].complements if p < len(cats)] or [
            int(cat_arr[i])
        ]
        pool = np.flatnonzero(np.isin(cat_arr, partner_cats) & (np.arange(n) != i))
        if len(pool) == 0:
            continue
        weights = np.where(tier_arr[pool] == tier_arr[i], 3.0, 1.0)
        k = int(rng.integers(1, 4))
        chosen = rng.choice(pool, size=min(k, len(pool)), replace=False, p=weights / weights.sum())
        complements[i, : len(chosen)] = np.sort(chosen)
    base_arr = np.asarray(base)
    prices = np.stack([charm_price_minor(base_arr, cur) for cur in spec.currencies])
    return Catalog(
        product_id=np.asarray(_stock_codes(rng, n)),
        name=np.asarray(names),
        category=cat_arr,
        category_names=tuple(c.name for c in cats),
        brand=np.asarray(brands),
        tier=tier_arr,
        base_price_eur=base_arr,
        price_minor=prices,
        currencies=spec.currencies,
        margin_rate=np.asarray(margin),
        replenishment_days=np.asarray(replen, dtype=np.int64),
        complements=complements,
        popularity=rng.pareto(1.5, n) + 0.2,
    )
