"""Customers of one shard: hidden traits (slice, rates, preferences) and contact details."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.special import betainc, ndtr, ndtri

from aftersale.simulator import profiles
from aftersale.simulator.catalog import Catalog
from aftersale.simulator.geo import COUNTRIES, ZONES, ascii_fold, fill_pattern, name_pools
from aftersale.simulator.rng import Stream, rng_for
from aftersale.simulator.spec import SHARD_SIZE, SimulationSpec

__all__ = ["Customers", "customer_ids", "generate_customers"]

_EMAIL_DOMAINS = np.array(
    ["example.com", "example.org", "example.net", "mail.example.com", "post.example.org"]
)
_ZONE_INDEX = {z: i for i, z in enumerate(ZONES)}


@dataclass(frozen=True, slots=True)
class Customers:
    """One shard of customers; all arrays share the row order."""

    index: npt.NDArray[np.int64]
    customer_id: npt.NDArray[np.str_]
    slice: npt.NDArray[np.int64]
    lam: npt.NDArray[np.float64]
    """Purchase rate per day while alive."""
    p: npt.NDArray[np.float64]
    """Drop-out probability after each repeat purchase."""
    risk: npt.NDArray[np.float64]
    """``p``'s rank under Beta(a, b), uniform on (0, 1): drives trouble signals."""
    price_sensitivity: npt.NDArray[np.float64]
    prefs: npt.NDArray[np.float64]
    """Shape (customers, categories): Dirichlet category preferences."""
    staple: npt.NDArray[np.int64]
    """Product index of the consumable bought again and again, or -1."""
    onboarding: npt.NDArray[np.int64]
    country: npt.NDArray[np.int64]
    zone: npt.NDArray[np.int64]
    currency: npt.NDArray[np.int64]
    first_name: npt.NDArray[np.str_]
    last_name: npt.NDArray[np.str_]
    email: npt.NDArray[np.str_]
    phone: npt.NDArray[np.str_]
    """E.164 number, or empty when the customer gave none."""
    postcode: npt.NDArray[np.str_]
    email_opt_in: npt.NDArray[np.bool_]
    sms_opt_in: npt.NDArray[np.bool_]

    def __len__(self) -> int:
        """Number of customers in the shard."""
        return len(self.index)


def customer_ids(index: npt.NDArray[np.int64]) -> npt.NDArray[np.str_]:
    """Opaque ids ``C0000001`` for global customer indexes (0-based)."""
    return np.char.add("C", np.char.zfill((np.asarray(index) + 1).astype(str), 7))


def _categorical(rng: np.random.Generator, probs: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
    """One draw per row from row-wise probabilities (rows need not be normalised)."""
    cum = np.cumsum(probs, axis=1)
    u = rng.random(len(probs)) * cum[:, -1]
    return np.asarray(
        np.minimum((cum < u[:, None]).sum(axis=1), probs.shape[1] - 1), dtype=np.int64
    )


def _places(
    rng: np.random.Generator, n: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Country and IANA zone per customer."""
    weights = np.array([c.weight for c in COUNTRIES])
    country = rng.choice(len(COUNTRIES), size=n, p=weights / weights.sum())
    zone = np.empty(n, dtype=np.int64)
    u = rng.random(n)
    for ci, c in enumerate(COUNTRIES):
        mask = country == ci
        cum = np.cumsum([w for _, w in c.zones])
        pick = np.minimum(np.searchsorted(cum, u[mask] * cum[-1]), len(cum) - 1)
        zone[mask] = [_ZONE_INDEX[c.zones[k][0]] for k in pick]
    return country.astype(np.int64), zone


def _contacts(
    rng: np.random.Generator, index: npt.NDArray[np.int64], country: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.str_], ...]:
    """Names, email, phone and postcode, drawn per country group."""
    n = len(index)
    first = np.empty(n, dtype=object)
    last = np.empty(n, dtype=object)
    first_key = np.empty(n, dtype=object)
    last_key = np.empty(n, dtype=object)
    phone = np.empty(n, dtype=object)
    postcode = np.empty(n, dtype=object)
    has_phone = rng.random(n) < 0.75
    style = rng.integers(0, 3, n)
    domain = _EMAIL_DOMAINS[rng.integers(0, len(_EMAIL_DOMAINS), n)]
    for ci, c in enumerate(COUNTRIES):
        rows = np.flatnonzero(country == ci)
        if len(rows) == 0:
            continue
        firsts, lasts, first_folded, last_folded = _pools(c.names)
        fi = rng.integers(0, len(firsts), len(rows))
        li = rng.integers(0, len(lasts), len(rows))
        first[rows], first_key[rows] = firsts[fi], first_folded[fi]
        last[rows], last_key[rows] = lasts[li], last_folded[li]
        numbers = fill_pattern("d" * c.mobile_digits, rng, len(rows))
        phone[rows] = np.char.add(f"+{c.calling_code}{c.mobile_prefix}", numbers)
        postcode[rows] = fill_pattern(c.zip_pattern, rng, len(rows))
    number = (index + 1).astype(str).astype(object)
    initial = np.array([f[0] for f in first_key], dtype=object) if n else first_key
    local = np.select(
        [style == 0, style == 1],
        [first_key + "." + last_key + "." + number, first_key + number],
        default=initial + last_key + "." + number,
    )
    email = local + "@" + domain.astype(object)
    phone[~has_phone] = ""
    return (
        first.astype(str),
        last.astype(str),
        email.astype(str),
        phone.astype(str),
        postcode.astype(str),
    )


_POOLS: dict[str, tuple[npt.NDArray[np.object_], ...]] = {}


def _pools(group: str) -> tuple[npt.NDArray[np.object_], ...]:
    """Names of a language group and their email-safe forms, computed once."""
    if group not in _POOLS:
        firsts, lasts = name_pools(group)
        _POOLS[group] = (
            np.asarray(firsts, dtype=object),
            np.asarray(lasts, dtype=object),
            np.asarray([ascii_fold(f) or "customer" for f in firsts], dtype=object),
            np.asarray([ascii_fold(x) or "x" for x in lasts], dtype=object),
        )
    return _POOLS[group]


def generate_customers(spec: SimulationSpec, catalog: Catalog, shard: int) -> Customers:
    """Draw the customers of ``shard`` (global indexes ``shard*SHARD_SIZE`` onward)."""
    lo = shard * SHARD_SIZE
    hi = min(lo + SHARD_SIZE, spec.customers)
    index = np.arange(lo, hi, dtype=np.int64)
    n = len(index)
    rng = rng_for(spec.seed, Stream.WORLD, shard)
    weights = np.asarray(spec.slice_weights)
    slice_ = rng.choice(len(weights), size=n, p=weights / weights.sum()).astype(np.int64)
    lam = rng.gamma(shape=spec.r, scale=1.0 / spec.alpha, size=n)
    p = rng.beta(spec.a, spec.b, size=n)
    risk = np.clip(betainc(spec.a, spec.b, p), 1e-9, 1 - 1e-9)
    mean = profiles.PRICE_SENSITIVITY_MEAN[slice_]
    price_sensitivity = rng.beta(mean * 8.0, (1.0 - mean) * 8.0)
    n_cat = len(catalog.category_names)
    alpha = np.full((n, n_cat), 0.45)
    for s, tilt in enumerate(profiles.SLICE_CATEGORY_TILT):
        cols = [c for c in tilt if c < n_cat]
        alpha[np.ix_(slice_ == s, cols)] += 1.3
    prefs = rng.standard_gamma(alpha)
    prefs /= prefs.sum(axis=1, keepdims=True)
    # Onboarding follows the slice mix but leans on risk through a Gaussian copula (rho 0.6).
    z = 0.6 * ndtri(risk) + 0.8 * rng.standard_normal(n)
    cum = np.cumsum(profiles.ONBOARDING_P[slice_], axis=1)
    onboarding = np.minimum((cum < ndtr(z)[:, None]).sum(axis=1), 3).astype(np.int64)
    staple = _staples(rng, catalog, prefs)
    country, zone = _places(rng, n)
    cur_index = {c: i for i, c in enumerate(spec.currencies)}
    currency = np.array([cur_index.get(COUNTRIES[c].currency, 0) for c in country], dtype=np.int64)
    first, last, email, phone, postcode = _contacts(rng, index, country)
    email_opt_in = rng.random(n) < profiles.EMAIL_OPT_IN_P[slice_]
    sms_opt_in = (phone != "") & (rng.random(n) < profiles.SMS_OPT_IN_P[slice_])
    return Customers(
        index=index,
        customer_id=customer_ids(index),
        slice=slice_,
        lam=lam,
        p=p,
        risk=risk,
        price_sensitivity=price_sensitivity,
        prefs=prefs,
        staple=staple,
        onboarding=onboarding,
        country=country,
        zone=zone,
        currency=currency,
        first_name=first,
        last_name=last,
        email=email,
        phone=phone,
        postcode=postcode,
        email_opt_in=email_opt_in,
        sms_opt_in=sms_opt_in,
    )


def _staples(
    rng: np.random.Generator, catalog: Catalog, prefs: npt.NDArray[np.float64]
) -> npt.NDArray[np.int64]:
    """Each customer's habitual consumable, if consumables matter enough to them."""
    n = len(prefs)
    consumable_cats = np.unique(catalog.category[catalog.is_consumable])
    staple = np.full(n, -1, dtype=np.int64)
    if len(consumable_cats) == 0:
        return staple
    mass = prefs[:, consumable_cats]
    cat_pick = consumable_cats[_categorical(rng, mass)]
    u = rng.random(n)
    for c in consumable_cats:
        rows = np.flatnonzero(cat_pick == c)
        pool = np.flatnonzero((catalog.category == c) & catalog.is_consumable)
        cum = np.cumsum(catalog.popularity[pool])
        staple[rows] = pool[np.minimum(np.searchsorted(cum, u[rows] * cum[-1]), len(pool) - 1)]
    staple[mass.sum(axis=1) < 0.15] = -1
    return staple
