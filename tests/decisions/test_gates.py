"""Properties of ``decide`` over random customers, candidates and history (Hypothesis):
never without consent, never beyond a cap, never inside quiet hours, one variant per customer
and play, referral asks only when Green, deterministic and idempotent."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aftersale.decisions.gates import (
    CANDIDATE_SCHEMA,
    HISTORY_SCHEMA,
    apply_gates,
    idempotency_key,
)
from aftersale.decisions.policy import Policy

ZONES = ["UTC", "Europe/London", "America/New_York", "Asia/Kolkata", "Pacific/Auckland"]
PLAYS = [
    # id, purpose, goal, priority, channels, holdout, variants
    ("welcome", "transactional", "activation", 80, ["email", "sms"], 0.0, []),
    ("incentive", "marketing", "repeat_purchase", 40, ["email"], 0.1, ["a", "b"]),
    ("referral", "marketing", "referral", 30, ["email", "push"], 0.0, []),
    ("save", "marketing", "retention", 90, ["sms", "email"], 0.0, []),
    ("upsell", "marketing", "order_value", 20, ["email"], 0.0, []),
]
JOURNEY = {"journey_id": "j", "due_at": None, "order_id": None, "product_id": None}
CONSENT = st.sampled_from([None, "opt_in", "opt_out"])


@st.composite
def worlds(draw: st.DrawFn) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, datetime]:
    as_of = datetime(2025, 6, 1, tzinfo=UTC) + timedelta(minutes=draw(st.integers(0, 2 * 1440)))
    n = draw(st.integers(1, 6))
    customers = []
    for i in range(n):
        row: dict[str, object] = {
            "customer_id": f"C{i}",
            "time_zone": draw(st.sampled_from([*ZONES, None])),
            "health_grade": draw(st.sampled_from(["green", "yellow", "red", None])),
            "refund_open": draw(st.booleans()),
            "angry_ticket": draw(st.booleans()),
        }
        for channel in ("email", "sms", "push"):
            row[f"reachable_{channel}"] = draw(st.booleans())
            row[f"consent_{channel}_marketing"] = draw(CONSENT)
            row[f"consent_{channel}_transactional"] = draw(CONSENT)
        customers.append(row)
    candidates = []
    for i in range(n):
        for play in draw(st.lists(st.sampled_from(PLAYS), max_size=5, unique_by=lambda p: p[0])):
            pid, purpose, goal, priority, channels, holdout, variants = play
            candidates.append(
                {
                    "customer_id": f"C{i}", "play_id": pid, "step_id": "s1",
                    "occurrence": draw(st.sampled_from(["O1", "O2"])), **JOURNEY,
                    "purpose": purpose, "goal": goal, "priority": priority, "channels": channels,
                    "holdout": holdout, "variants": variants,
                    "variant_weights": [1.0] * len(variants),
                    "matched": f"{pid} matched",
                }
            )  # fmt: skip
    history = []
    for i in range(n):
        for _ in range(draw(st.integers(0, 3))):
            pid = draw(st.sampled_from([p[0] for p in PLAYS]))
            history.append(
                {
                    "idempotency_key": f"old-{len(history)}", "customer_id": f"C{i}",
                    "play_id": pid, "occurrence": "O1",
                    "channel": draw(st.sampled_from(["email", "sms", "push"])),
                    "purpose": "marketing", "outcome": "send",
                    "at": as_of - timedelta(hours=draw(st.integers(1, 200))),
                }
            )  # fmt: skip
    return (
        pl.DataFrame(candidates, schema=CANDIDATE_SCHEMA),
        pl.DataFrame(customers),
        pl.DataFrame(history, schema=HISTORY_SCHEMA),
        as_of,
    )


POLICY = Policy(global_holdout=0.2)


def _local_quiet(at: datetime, zone: str | None) -> bool:
    local = at.astimezone(ZoneInfo(zone or "UTC")).time()
    return local >= time(21, 0) or local < time(8, 0)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(world=worlds())
def test_policy_is_never_broken(world: tuple) -> None:  # type: ignore[type-arg]
    candidates, customers, history, as_of = world
    decisions = apply_gates(candidates, customers, history, POLICY, as_of)
    assert len(decisions) == len(candidates)  # history keys are "old-*": nothing dropped
    people = {r["customer_id"]: r for r in customers.to_dicts()}
    going = decisions.filter(pl.col("outcome") != "suppress")
    for d in going.to_dicts():
        who = people[d["customer_id"]]
        channel = d["channel"]
        assert who[f"reachable_{channel}"]
        if d["purpose"] == "marketing":
            assert who[f"consent_{channel}_marketing"] == "opt_in"
            assert not who["refund_open"] and not who["angry_ticket"]
        else:
            assert who[f"consent_{channel}_transactional"] != "opt_out"
        if d["goal"] == "referral":
            assert who["health_grade"] == "green"
        if d["goal"] in ("referral", "order_value"):
            assert who["health_grade"] != "red"
        if channel in ("sms", "push"):
            assert not _local_quiet(d["send_at"], who["time_zone"])
    # Caps: history plus this pass never exceed a channel's day/week cap or the daily slot.
    sent = history.filter(pl.col("at") >= as_of - timedelta(days=1))
    for d in (
        going.filter(pl.col("purpose") == "marketing").group_by("customer_id").len().to_dicts()
    ):
        before = sent.filter(pl.col("customer_id") == d["customer_id"]).height
        assert before + d["len"] <= max(POLICY.marketing_per_day, before)
    for (customer, channel), group in going.filter(pl.col("purpose") == "marketing").group_by(
        ["customer_id", "channel"]
    ):
        cap = POLICY.caps[str(channel)]
        mine = history.filter((pl.col("customer_id") == customer) & (pl.col("channel") == channel))
        day = mine.filter(pl.col("at") >= as_of - timedelta(days=1)).height
        week = mine.filter(pl.col("at") >= as_of - timedelta(days=7)).height
        assert day + group.height <= max(cap.day, day)
        assert week + group.height <= max(cap.week, week)
    # Every suppression names its gate and a reason.
    for d in decisions.filter(pl.col("outcome") == "suppress").to_dicts():
        assert d["gate"] and d["reason"]


@settings(max_examples=60, deadline=None)
@given(world=worlds(), seed=st.randoms())
def test_deterministic_and_idempotent(world: tuple, seed: object) -> None:  # type: ignore[type-arg]
    candidates, customers, history, as_of = world
    first = apply_gates(candidates, customers, history, POLICY, as_of)
    shuffled = candidates.sample(fraction=1.0, shuffle=True, seed=7)
    assert apply_gates(shuffled, customers, history, POLICY, as_of).equals(first)
    recorded = first.select(
        "idempotency_key", "customer_id", "play_id", "occurrence", "channel", "purpose",
        "outcome", at=pl.lit(as_of, dtype=pl.Datetime("us", "UTC")),
    )  # fmt: skip
    again = apply_gates(candidates, customers, pl.concat([history, recorded]), POLICY, as_of)
    assert again.is_empty()


def test_holdout_and_variants_are_stable_hashes() -> None:
    rows = [
        {"customer_id": f"C{i}", "play_id": "incentive", "step_id": "s1", "occurrence": "O1",
         **JOURNEY, "purpose": "marketing", "goal": "repeat_purchase", "priority": 1,
         "channels": ["email"], "holdout": 0.0, "variants": ["a", "b"],
         "variant_weights": [3.0, 1.0], "matched": ""}
        for i in range(4000)
    ]  # fmt: skip
    candidates = pl.DataFrame(rows, schema=CANDIDATE_SCHEMA)
    customers = pl.DataFrame(
        {"customer_id": [f"C{i}" for i in range(4000)], "reachable_email": [True] * 4000,
         "consent_email_marketing": ["opt_in"] * 4000, "health_grade": ["green"] * 4000}
    )  # fmt: skip
    empty = pl.DataFrame(schema=HISTORY_SCHEMA)
    as_of = datetime(2025, 6, 1, 12, tzinfo=UTC)
    out = apply_gates(candidates, customers, empty, Policy(), as_of)
    control = out.filter(pl.col("gate") == "global_holdout").height / 4000
    assert 0.04 <= control <= 0.06  # 5 % global control group
    sent = out.filter(pl.col("outcome") == "send")
    share_a = sent.filter(pl.col("variant") == "a").height / sent.height
    assert 0.72 <= share_a <= 0.78  # weights 3:1
    assert apply_gates(candidates, customers, empty, Policy(), as_of).equals(out)
    other_salt = apply_gates(candidates, customers, empty, Policy(salt="other"), as_of)
    assert not other_salt["variant"].equals(out["variant"])
    assert idempotency_key("C1", "p", "s", "o") == idempotency_key("C1", "p", "s", "o")


def test_quiet_hours_defer_to_the_next_allowed_minute() -> None:
    as_of = datetime(2025, 6, 1, 23, 30, tzinfo=UTC)  # 00:30 in London (BST), 19:30 in New York
    candidates = pl.DataFrame(
        [
            {"customer_id": c, "play_id": "save", "step_id": "s1", "occurrence": "O1",
             **JOURNEY, "purpose": "transactional", "goal": "retention", "priority": 90,
             "channels": ["sms"], "holdout": 0.0, "variants": [], "variant_weights": [],
             "matched": ""}
            for c in ("LON", "NYC")
        ],
        schema=CANDIDATE_SCHEMA,
    )  # fmt: skip
    customers = pl.DataFrame(
        {"customer_id": ["LON", "NYC"], "time_zone": ["Europe/London", "America/New_York"],
         "reachable_sms": [True, True]}
    )  # fmt: skip
    out = apply_gates(candidates, customers, pl.DataFrame(schema=HISTORY_SCHEMA), Policy(), as_of)
    london, new_york = out.sort("customer_id").to_dicts()
    assert london["outcome"] == "defer" and london["gate"] == "quiet_hours"
    assert london["send_at"] == datetime(2025, 6, 2, 7, 0, tzinfo=UTC)  # 08:00 BST
    assert new_york["outcome"] == "send" and new_york["send_at"] == as_of
