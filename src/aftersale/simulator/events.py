"""Segment-spec JSON lines for one shard: browsing, email engagement and the behaviour rows."""

from __future__ import annotations

import json

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from aftersale.simulator import profiles, texts
from aftersale.simulator.behaviour import Behaviour
from aftersale.simulator.catalog import Catalog
from aftersale.simulator.geo import COUNTRIES
from aftersale.simulator.money import EXPONENTS, format_major
from aftersale.simulator.process import group_ranks
from aftersale.simulator.purchases import Orders
from aftersale.simulator.rng import Stream, rng_for
from aftersale.simulator.segment import Collector, EventLines, esc, num, props, take
from aftersale.simulator.spec import SimulationSpec
from aftersale.simulator.world import Customers

__all__ = ["render_events"]

IntArray = npt.NDArray[np.int64]
_DAY = 86_400


def _browse(
    c: Collector,
    spec: SimulationSpec,
    people: Customers,
    orders: Orders,
    catalog: Catalog,
    prices: pa.Array,
) -> None:
    """Searches, product views, checkout questions and pricing views around orders."""
    rng, n_cat = c.rng, len(catalog.category_names)
    heads = np.flatnonzero(orders.line_number == 1)
    real = ~orders.is_cancel
    kept = np.flatnonzero(real)
    first = np.zeros(len(orders), bool)
    first[kept[group_ranks(orders.cust[kept]) == 0]] = True
    s = people.slice[orders.cust]
    head_product = orders.product[heads]
    cat = catalog.category[head_product]
    # Products Searched, slice-typical wording most of the time.
    search = real & (rng.random(len(orders)) < np.where(first, 0.8, 0.2))
    st = orders.t - rng.integers(120, 2 * _DAY, len(orders))
    search &= st >= 0
    typical = rng.random(len(orders)) < 0.7
    n_tpl = len(texts.SEARCH_TEMPLATES[0])
    tpl = rng.integers(0, n_tpl, len(orders))
    gen = rng.integers(0, len(texts.SEARCH_GENERIC), len(orders))
    words = texts.CATEGORY_WORDS
    typ_pool = esc(
        [
            t.format(cat=words[k])
            for row in texts.SEARCH_TEMPLATES
            for t in row
            for k in range(n_cat)
        ]
    )
    gen_pool = esc([t.format(cat=words[k]) for t in texts.SEARCH_GENERIC for k in range(n_cat)])
    idx = np.flatnonzero(search)
    q_typ = take(typ_pool, ((s * n_tpl + tpl) * n_cat + cat)[idx])
    q_gen = take(gen_pool, (gen * n_cat + cat)[idx])
    query = pc.if_else(pa.array(typical[idx]), q_typ, q_gen)
    cat_pool = esc(list(catalog.category_names))
    c.add(
        "Products Searched",
        orders.cust[idx],
        st[idx],
        props('"query":', query, ',"category":', take(cat_pool, cat[idx])),
    )
    # Product Viewed after each search.
    vt = st[idx] + rng.integers(30, 600, len(idx))
    prod = head_product[idx]
    cur = esc(list(spec.currencies))
    body = props(
        '"product_id":',
        take(esc(catalog.product_id.tolist()), prod),
        ',"name":',
        take(esc(catalog.name.tolist()), prod),
        ',"category":',
        take(cat_pool, catalog.category[prod]),
        ',"price":',
        take(prices, orders.currency[idx] * catalog.size + prod),
        ',"currency":',
        take(cur, orders.currency[idx]),
    )
    c.add("Product Viewed", orders.cust[idx], vt, body)
    # Checkout questions: mostly on the first order, in the slice's words.
    ask = real & (rng.random(len(orders)) < np.where(first, profiles.CHECKOUT_QUESTION_P[s], 0.04))
    qt = orders.t - rng.integers(60, 1_800, len(orders))
    ask &= qt >= 0
    idx = np.flatnonzero(ask)
    per = max(len(r) for r in texts.CHECKOUT_QUESTIONS)
    q_pool = esc([row[k % len(row)] for row in texts.CHECKOUT_QUESTIONS for k in range(per)])
    g_pool = esc(list(texts.CHECKOUT_GENERIC))
    q = pc.if_else(
        pa.array(rng.random(len(idx)) < 0.8),
        take(q_pool, s[idx] * per + rng.integers(0, per, len(idx))),
        take(g_pool, rng.integers(0, len(texts.CHECKOUT_GENERIC), len(idx))),
    )
    c.add(
        "Checkout Question Asked",
        orders.cust[idx],
        qt[idx],
        props('"question":', q, ',"page":"checkout"'),
    )
    # Pricing before the first order (value checks), and again later for upgrade intent.
    look = first & (rng.random(len(orders)) < profiles.PRICING_VIEW_P[s])
    pt = orders.t - rng.integers(600, 3 * _DAY, len(orders))
    look &= pt >= 0
    idx = np.flatnonzero(look)
    tiers = esc(list(profiles.TIER_NAMES))
    c.add(
        "Pricing Viewed",
        orders.cust[idx],
        pt[idx],
        props('"page":"pricing","plan":', take(tiers, orders.tier[idx])),
    )


def _emails(c: Collector, spec: SimulationSpec, people: Customers, beh: Behaviour) -> None:
    """Newsletter opens and clicks while the customer is opted in to marketing email."""
    rng, end = c.rng, spec.end_second
    start = np.where(people.email_opt_in, beh.first_t, beh.email_late_opt_in_t)
    stop = np.where(beh.email_opt_out_t >= 0, beh.email_opt_out_t, end)
    has = (start >= 0) & (start < stop)
    a_end = np.clip(beh.active_end_t, start, stop)
    active = np.where(has, (a_end - start) / _DAY, 0.0)
    idle = np.where(has, (stop - a_end) / _DAY, 0.0)
    n_a = np.minimum(rng.poisson(0.045 * active), 10)
    n_i = np.minimum(rng.poisson(0.015 * idle), 4)
    own_a = np.repeat(np.arange(len(people)), n_a)
    own_i = np.repeat(np.arange(len(people)), n_i)
    t_a = start[own_a] + (rng.random(len(own_a)) * (a_end - start)[own_a]).astype(np.int64)
    t_i = a_end[own_i] + (rng.random(len(own_i)) * (stop - a_end)[own_i]).astype(np.int64)
    own, t = np.r_[own_a, own_i], np.r_[t_a, t_i]
    week = (t // (7 * _DAY)).astype(np.int64)
    campaign = pc.binary_join_element_wise('"newsletter-', pc.utf8_lpad(num(week), 3, "0"), '"', "")
    subj = take(esc(list(texts.EMAIL_SUBJECTS)), week % len(texts.EMAIL_SUBJECTS))
    c.add("Email Opened", own, t, props('"campaign_id":', campaign, ',"subject":', subj))
    click = np.flatnonzero(rng.random(len(own)) < 0.3)
    per = len(texts.EMAIL_TOPICS[0])
    flat = [tp for row in texts.EMAIL_TOPICS for tp in row]
    typical = rng.random(len(click)) < 0.7
    topic = np.where(
        typical,
        people.slice[own[click]] * per + rng.integers(0, per, len(click)),
        rng.integers(0, len(flat), len(click)),
    )
    topics = esc(flat)
    urls = esc([f"https://shop.example.com/t/{tp}" for tp in flat])
    ct = t[click] + rng.integers(10, 3_600, len(click))
    body = props(
        '"campaign_id":',
        campaign.take(pa.array(click)),
        ',"topic":',
        take(topics, topic),
        ',"url":',
        take(urls, topic),
    )
    c.add("Email Link Clicked", own[click], ct, body)


def _behaviour(
    c: Collector,
    people: Customers,
    beh: Behaviour,
    order_ids: pa.Array,
    orders: Orders,
    catalog: Catalog,
) -> None:
    """Render the truth-bearing rows drawn by :mod:`behaviour`."""
    r = beh.rows["Onboarding Step Completed"]
    c.add(
        "Onboarding Step Completed",
        r.cust,
        r.t,
        props('"step":', take(esc(texts.ONBOARDING_STEPS), r.a), ',"step_number":', num(r.a + 1)),
    )
    r = beh.rows["Key Action Performed"]
    c.add(
        "Key Action Performed",
        r.cust,
        r.t,
        props('"action":', take(esc(texts.KEY_ACTIONS), r.a)),
    )
    r = beh.rows["Milestone Reached"]
    c.add(
        "Milestone Reached",
        r.cust,
        r.t,
        props('"milestone":', take(esc(["first_win", "fifth_key_action"]), r.a)),
    )
    r = beh.rows["Support Ticket Created"]
    per = max(len(x) for x in texts.TICKETS)
    bodies = esc([row[k % len(row)] for row in texts.TICKETS for k in range(per)])
    by_cust = np.argsort(r.cust, kind="stable")
    rank = np.empty(len(r.cust), dtype=np.int64)
    rank[by_cust] = group_ranks(r.cust[by_cust])
    ticket_no = num((people.index[r.cust] + 1) * 100 + rank)
    c.add(
        "Support Ticket Created",
        r.cust,
        r.t,
        props(
            '"ticket_id":"T',
            ticket_no,
            '","subject":',
            take(esc(texts.TICKET_SUBJECTS), r.a),
            ',"body":',
            take(bodies, r.a * per + r.b % per),
            ',"channel":',
            take(esc(["email", "chat"]), r.b % 2),
        ),
    )
    r = beh.rows["Refund Requested"]
    quoted = pc.binary_join_element_wise('"', order_ids, '"', "")
    c.add(
        "Refund Requested",
        r.cust,
        r.t,
        props(
            '"order_id":',
            quoted.take(pa.array(r.a)),
            ',"reason":',
            take(esc(texts.REFUND_REASONS), r.b),
        ),
    )
    r = beh.rows["Survey Answered"]
    c.add(
        "Survey Answered",
        r.cust,
        r.t,
        props(
            '"survey_id":"post_purchase_motive","question":',
            json.dumps(texts.SURVEY_QUESTION),
            ',"answer":',
            take(esc(texts.SURVEY_ANSWERS), r.a),
            ',"answer_index":',
            num(r.a),
        ),
    )
    r = beh.rows["Referral Shared"]
    code = pc.binary_join_element_wise('"REF-', pa.array(people.customer_id[r.cust]), '"', "")
    c.add(
        "Referral Shared",
        r.cust,
        r.t,
        props(
            '"channel":', take(esc(["link", "email", "whatsapp"]), r.a), ',"referral_code":', code
        ),
    )
    r = beh.rows["Review Submitted"]
    heads = np.flatnonzero(orders.line_number == 1)
    prod = orders.product[heads][r.a]
    review_text = esc([t for row in texts.REVIEW_TEXTS for t in row])
    pick = r.b * 3 + (r.a % 3)
    c.add(
        "Review Submitted",
        r.cust,
        r.t,
        props(
            '"order_id":',
            quoted.take(pa.array(r.a)),
            ',"product_id":',
            take(esc(catalog.product_id.tolist()), prod),
            ',"rating":',
            num(r.b + 1),
            ',"text":',
            take(review_text, pick),
        ),
    )
    r = beh.rows["Unsubscribed"]
    c.add(
        "Unsubscribed",
        r.cust,
        r.t,
        props('"channel":', take(esc(["email", "sms"]), r.a), ',"purpose":"marketing"'),
    )


def render_events(
    spec: SimulationSpec,
    shard: int,
    people: Customers,
    orders: Orders,
    beh: Behaviour,
    catalog: Catalog,
    order_ids: pa.Array,
    first_message: int,
) -> EventLines:
    """All events of the shard as Segment ``track``/``identify`` JSON lines."""
    c = Collector(rng_for(spec.seed, Stream.EVENTS, shard), spec.end_second)
    exps = np.repeat([EXPONENTS[cur] for cur in spec.currencies], catalog.size)
    prices = format_major(catalog.price_minor.ravel(), exps)
    _browse(c, spec, people, orders, catalog, prices)
    _emails(c, spec, people, beh)
    _behaviour(c, people, beh, order_ids, orders, catalog)
    # identify calls for some customers when their account is created.
    who = np.flatnonzero(c.rng.random(len(people)) < 0.4)
    it = np.maximum(beh.first_t[who] - c.rng.integers(10, 600, len(who)), 0)
    phone = pa.array(people.phone[who])
    traits = pc.binary_join_element_wise(
        ',"traits":{"email":',
        esc(people.email[who].tolist()),
        ',"first_name":',
        esc(people.first_name[who].tolist()),
        ',"last_name":',
        esc(people.last_name[who].tolist()),
        pc.if_else(
            pc.equal(phone, ""), "", pc.binary_join_element_wise(',"phone":"', phone, '"', "")
        ),
        ',"country":"',
        pa.array([COUNTRIES[k].code for k in people.country[who]], pa.string()),
        '"}',
        "",
    )
    c.add("", who, it, traits)
    return c.assemble(spec, people, first_message)
