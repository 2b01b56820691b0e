"""Property tests of whole passes: random playbooks, customers, consents and triggers over days.

Whatever the playbook and the data: never a message without consent and an address, never
beyond a cap or the daily marketing slot, never SMS or push in quiet hours, one variant per
customer and play, no referral ask outside Green, one decision per idempotency key,
re-running a pass decides nothing new, and the same inputs give the same decisions.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aftersale.decisions.engine import (
    CONSENT_SCHEMA,
    PassInputs,
    PolicyState,
    customer_frame,
    decide,
    empty_state,
)
from aftersale.decisions.facts import ENTRY_SCHEMA, WAIT_SCHEMA, condition_columns
from aftersale.decisions.policy import Policy
from aftersale.playbooks.schema import Play, Playbook

T0 = datetime(2025, 5, 5, 6, 0, tzinfo=UTC)
CONDITIONS = ("orders > 1", "orders > 3", "recency_days < 30")
ZONES = ("UTC", "Europe/Berlin", "America/Los_Angeles", "Asia/Tokyo")
POLICY = Policy(global_holdout=0.1)


def _send(step_id: str, channels: list[str]) -> dict[str, Any]:
    message: dict[str, Any] = {}
    if "email" in channels:
        message["email"] = {"subject": "s", "html": "<p>h</p>", "text": "t"}
    if "sms" in channels:
        message["sms"] = {"text": "t"}
    if "push" in channels:
        message["push"] = {"title": "t", "body": "b"}
    return {"kind": "send", "id": step_id, "message": message}


@st.composite
def steps(draw: st.DrawFn, channels: list[str], depth: int = 0, prefix: str = "s") -> list[Any]:
    out: list[Any] = []
    for i in range(draw(st.integers(1, 3))):
        sid = f"{prefix}{i}"
        kind = draw(st.sampled_from(["send", "send", "wait", "wait_until", "branch", "exit"]))
        if kind == "branch" and depth < 2:
            out.append({"kind": "branch", "id": sid, "condition": draw(st.sampled_from(CONDITIONS)),
                        "then": draw(steps(channels, depth + 1, f"{sid}t")),
                        "otherwise": draw(steps(channels, depth + 1, f"{sid}o"))})  # fmt: skip
        elif kind == "wait":
            out.append({"kind": "wait", "id": sid, "duration": draw(st.sampled_from(["6h", "1d"]))})
        elif kind == "wait_until":
            out.append({"kind": "wait_until", "id": sid, "event": "Order Delivered",
                        "match": "order", "timeout": "1d",
                        "on_timeout": draw(st.sampled_from(["continue", "exit"]))})  # fmt: skip
        elif kind == "exit" and out:
            out.append({"kind": "exit", "id": sid})
        else:
            out.append(_send(sid, channels))
    return out


@st.composite
def plays(draw: st.DrawFn, index: int) -> Play:
    channels = draw(st.lists(st.sampled_from(["email", "sms", "push"]), min_size=1, max_size=3,
                             unique=True))  # fmt: skip
    body = draw(steps(channels))
    if not any(s["kind"] == "send" for s in body):
        body.append(_send("last", channels))
    variants = draw(st.sampled_from([[], [{"id": "a", "weight": 1}, {"id": "b", "weight": 2}]]))
    return Play.model_validate(
        {
            "id": f"p{index}",
            "name": f"play {index}",
            "purpose": draw(st.sampled_from(["marketing", "transactional"])),
            "priority": draw(st.integers(0, 5)) * 100,
            "goal": draw(st.sampled_from(["referral", "repeat_purchase", "retention"])),
            "trigger": {"kind": "event", "event": "Order Completed"},
            "channels": channels,
            "steps": body,
            "reentry": draw(
                st.sampled_from(
                    [
                        {"kind": "once_ever"},
                        {"kind": "once_per_order"},
                        {"kind": "every", "days": 2},
                    ]
                )
            ),
            "exit_when": draw(st.sampled_from([[], ["grade_red"], ["bought_again"]])),
            "variants": variants,
            "holdout": draw(st.sampled_from([0.0, 0.2])),
        }
    )


@st.composite
def worlds(draw: st.DrawFn) -> tuple[Playbook, pl.DataFrame, pl.DataFrame, list[pl.DataFrame]]:
    playbook = Playbook(
        name="random", plays=[draw(plays(i)) for i in range(draw(st.integers(1, 4)))]
    )
    conditions = condition_columns(playbook.plays, POLICY)
    n = draw(st.integers(1, 8))
    rows, consents = [], []
    for i in range(n):
        row: dict[str, Any] = {
            "customer_id": f"C{i}",
            "health_grade": draw(st.sampled_from(["green", "yellow", "red"])),
            "email": draw(st.sampled_from([None, f"c{i}@example.com"])),
            "phone": draw(st.sampled_from([None, "+4915112345678"])),
            "time_zone": draw(st.sampled_from(ZONES)),
            "last_order_at": T0,
            "last_refund_at": None,
            "refund_open": draw(st.booleans()),
            "angry_ticket": False,
        }
        for column in conditions.values():
            row[column] = draw(st.booleans())
        rows.append(row)
        for channel in ("email", "sms", "push"):
            for purpose in ("marketing", "transactional"):
                status = draw(st.sampled_from([None, "opt_in", "opt_out"]))
                if status:
                    consents.append((f"C{i}", channel, purpose, status))
    facts = pl.DataFrame(rows).with_columns(
        pl.col("last_order_at").cast(pl.Datetime("us", "UTC")),
        pl.col("last_refund_at").cast(pl.Datetime("us", "UTC")),
    )
    days: list[pl.DataFrame] = []
    for day in range(3):
        entries = []
        for i in range(n):
            for play in playbook.plays:
                if draw(st.integers(0, 3)) == 0:
                    at = T0 + timedelta(days=day, hours=draw(st.integers(0, 20)))
                    entries.append({"customer_id": f"C{i}", "play_id": play.id,
                                    "occurrence": f"O{i}-{day}", "triggered_at": at,
                                    "order_id": f"O{i}-{day}", "product_id": None,
                                    "trigger": "event", "evidence": "everyone"})  # fmt: skip
        days.append(pl.DataFrame(entries, schema=ENTRY_SCHEMA))
    return playbook, facts, pl.DataFrame(consents, schema=CONSENT_SCHEMA, orient="row"), days


def _run(world: tuple[Any, ...]) -> tuple[pl.DataFrame, PolicyState, PassInputs, datetime]:
    playbook, facts, consents, days = world
    state = empty_state()
    decided: list[pl.DataFrame] = []
    inputs = PassInputs.empty()
    moment = T0
    for index, entries in enumerate(days):
        for hour in (0, 12):  # two passes a day
            moment = T0 + timedelta(days=index + 1, hours=hour)
            fired = entries if hour == 0 else entries.clear()
            inputs = PassInputs(fired, facts, consents, pl.DataFrame(schema=WAIT_SCHEMA))
            result = decide(inputs, playbook, state, POLICY, moment)
            kept = state.journeys.join(result.journeys.select("journey_id"), on="journey_id",
                                       how="anti")  # fmt: skip
            state = PolicyState(
                pl.concat([kept, result.journeys]),
                pl.concat([state.history, result.history_rows()]),
            )
            decided.append(result.decisions.with_columns(at=pl.lit(moment)))
    return pl.concat(decided), state, inputs, moment


def _quiet(at: datetime, zone: str) -> bool:
    local = at.astimezone(ZoneInfo(zone)).time()
    return local >= time(21, 0) or local < time(8, 0)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(world=worlds())
def test_passes_never_break_the_policy(world: tuple[Any, ...]) -> None:
    playbook, facts, consents, _ = world
    decided, state, last_inputs, last = _run(world)
    assert decided["idempotency_key"].n_unique() == decided.height
    people = {r["customer_id"]: r for r in customer_frame(facts, consents).to_dicts()}
    going = decided.filter(pl.col("outcome") != "suppress")
    for d in going.to_dicts():
        who = people[d["customer_id"]]
        channel = d["channel"]
        assert who[f"reachable_{channel}"]
        if d["purpose"] == "marketing":
            assert who[f"consent_{channel}_marketing"] == "opt_in"
            assert not who["refund_open"]
        else:
            assert who[f"consent_{channel}_transactional"] != "opt_out"
        if d["goal"] == "referral":
            assert who["health_grade"] == "green"
        if channel in ("sms", "push"):
            assert not _quiet(d["send_at"], who["time_zone"])
    marketing = going.filter(pl.col("purpose") == "marketing")
    for row in marketing.to_dicts():  # rolling 24 h and 7 d windows at each decision
        mine = marketing.filter(
            (pl.col("customer_id") == row["customer_id"]) & (pl.col("at") <= row["at"])
        )
        day = mine.filter(pl.col("at") > row["at"] - timedelta(days=1))
        assert day.height <= POLICY.marketing_per_day
        same = mine.filter(pl.col("channel") == row["channel"])
        cap = POLICY.caps[row["channel"]]
        assert same.filter(pl.col("at") > row["at"] - timedelta(days=1)).height <= cap.day
        assert same.filter(pl.col("at") > row["at"] - timedelta(days=7)).height <= cap.week
    variants = decided.filter(pl.col("variant").is_not_null())
    assert variants.group_by("customer_id", "play_id").agg(pl.col("variant").n_unique())[
        "variant"
    ].max() in (None, 1)
    again = decide(last_inputs, playbook, state, POLICY, last)
    assert again.decisions.is_empty()  # re-running the last pass decides nothing new
    assert _run(world)[0].equals(decided)  # deterministic
