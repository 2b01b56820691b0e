"""Journeys: flat programs, entry under re-entry rules, waits, wait-until, branches and exits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
import pytest

from aftersale.decisions.engine import PassInputs, PolicyState, decide, empty_state
from aftersale.decisions.facts import ENTRY_SCHEMA, WAIT_SCHEMA, condition_columns
from aftersale.decisions.journeys import JOURNEY_SCHEMA, advance, start
from aftersale.decisions.policy import Policy
from aftersale.decisions.program import compile_play, instruction_table
from aftersale.playbooks.schema import Play, Playbook

T0 = datetime(2025, 3, 3, 10, 0, tzinfo=UTC)  # a Monday, 10:00 UTC
UTC_TS = pl.Datetime("us", "UTC")


def _send(step_id: str) -> dict[str, Any]:
    return {
        "kind": "send",
        "id": step_id,
        "message": {"email": {"subject": step_id, "html": "<p>x</p>", "text": "x"}},
    }


def play(**overrides: Any) -> Play:
    """A transactional email play triggered on first order; fields overridable."""
    base: dict[str, Any] = {
        "id": "welcome",
        "name": "Welcome",
        "purpose": "transactional",
        "priority": 100,
        "goal": "first_win",
        "trigger": {"kind": "time", "after": "first_order_at"},
        "channels": ["email"],
        "steps": [_send("hello"), {"kind": "wait", "id": "pause", "duration": "1d"},
                  _send("follow_up")],
    }  # fmt: skip
    base.update(overrides)
    return Play.model_validate(base)


def test_nested_branches_become_forward_jumps() -> None:
    p = play(
        steps=[
            {"kind": "branch", "id": "b1", "condition": "orders > 1",
             "then": [_send("a"), {"kind": "exit", "id": "stop"}],
             "otherwise": [{"kind": "branch", "id": "b2", "condition": "orders = 0",
                            "then": [_send("b")]}]},
            _send("c"),
        ]
    )  # fmt: skip
    program = {i.step_id: i for i in compile_play(p)}
    assert [i.step_id for i in compile_play(p)] == ["b1", "a", "stop", "b2", "b", "c", "end"]
    assert (program["b1"].next, program["b1"].alt) == (1, 3)
    assert program["a"].next == 2 and program["stop"].kind == "exit"
    assert (program["b2"].next, program["b2"].alt) == (4, 5)  # no otherwise: straight to c
    assert program["b"].next == 5 and program["c"].next == 6
    assert instruction_table([p]).height == 7


def _entries(*rows: tuple[str, str, datetime], play_id: str = "welcome") -> pl.DataFrame:
    return pl.DataFrame(
        [
            {"customer_id": c, "play_id": play_id, "occurrence": o, "triggered_at": t,
             "order_id": o, "product_id": None, "trigger": "test", "evidence": "everyone"}
            for c, o, t in rows
        ],
        schema=ENTRY_SCHEMA,
    )  # fmt: skip


def _facts(**columns: list[Any]) -> pl.DataFrame:
    base: dict[str, Any] = {
        "customer_id": ["C1"],
        "health_grade": ["green"],
        "email": ["c1@example.com"],
        "last_order_at": [T0],
        "last_refund_at": [None],
    }
    base.update(columns)
    return pl.DataFrame(base).with_columns(
        pl.col("last_order_at").cast(UTC_TS), pl.col("last_refund_at").cast(UTC_TS)
    )


def _run(
    p: Play,
    at: datetime,
    state: PolicyState,
    entries: pl.DataFrame | None = None,
    facts: pl.DataFrame | None = None,
    waited: pl.DataFrame | None = None,
    policy: Policy | None = None,
) -> tuple[pl.DataFrame, PolicyState]:
    inputs = PassInputs(
        entries if entries is not None else pl.DataFrame(schema=ENTRY_SCHEMA),
        facts if facts is not None else _facts(),
        pl.DataFrame(schema={"customer_id": pl.String, "channel": pl.String,
                             "purpose": pl.String, "status": pl.String}),
        waited if waited is not None else pl.DataFrame(schema=WAIT_SCHEMA),
    )  # fmt: skip
    result = decide(inputs, Playbook(name="t", plays=[p]), state, policy or Policy(), at)
    kept = state.journeys.join(result.journeys.select("journey_id"), on="journey_id", how="anti")
    journeys = pl.concat([kept, result.journeys])
    return result.decisions, PolicyState(
        journeys, pl.concat([state.history, _history(result.decisions, at)])
    )


def _history(decisions: pl.DataFrame, at: datetime) -> pl.DataFrame:
    from aftersale.decisions.gates import HISTORY_SCHEMA

    return decisions.select(
        "idempotency_key", "customer_id", "play_id", "occurrence", "channel", "purpose",
        "outcome", at=pl.lit(at, UTC_TS),
    ).cast(HISTORY_SCHEMA)  # type: ignore[arg-type]  # fmt: skip


def test_a_cadence_sends_each_step_once_when_it_falls_due() -> None:
    p = play()
    state = empty_state()
    first, state = _run(p, T0 + timedelta(hours=1), state, _entries(("C1", "O1", T0)))
    assert first["step_id"].to_list() == ["hello"] and first["outcome"].to_list() == ["send"]
    early, state = _run(p, T0 + timedelta(hours=20), state)
    assert early.is_empty()  # the 1-day wait is not over
    second, state = _run(p, T0 + timedelta(days=1, hours=1), state)
    assert second["step_id"].to_list() == ["follow_up"]
    again, state = _run(p, T0 + timedelta(days=1, hours=1), state)
    assert again.is_empty()  # re-running a pass decides nothing new
    (journey,) = state.journeys.to_dicts()
    assert journey["status"] == "done" and journey["exit_reason"] == "finished"
    assert journey["path"] == "hello > pause > follow_up"


def test_exit_conditions_are_checked_before_every_step() -> None:
    p = play(exit_when=["bought_again"])
    state = empty_state()
    _, state = _run(p, T0 + timedelta(hours=1), state, _entries(("C1", "O1", T0)))
    bought = _facts(last_order_at=[T0 + timedelta(hours=5)])
    out, state = _run(p, T0 + timedelta(days=1, hours=1), state, facts=bought)
    assert out.is_empty()
    (journey,) = state.journeys.to_dicts()
    assert journey["status"] == "exited"
    assert journey["exit_reason"] == "bought again on 2025-03-03"


def _waiting_play(on_timeout: str = "continue") -> Play:
    return play(
        id="care",
        trigger={"kind": "event", "event": "Order Completed"},
        steps=[
            {"kind": "wait_until", "id": "until_delivered", "event": "Order Delivered",
             "match": "order", "timeout": "5d", "on_timeout": on_timeout},
            _send("tips"),
        ],
    )  # fmt: skip


def _delivered(order_id: str, at: datetime) -> pl.DataFrame:
    return pl.DataFrame(
        [{"customer_id": "C1", "play_id": "care", "step_id": "until_delivered",
          "occurred_at": at, "order_id": order_id, "product_id": None}],
        schema=WAIT_SCHEMA,
    )  # fmt: skip


def test_wait_until_continues_on_the_matching_event_only() -> None:
    p = _waiting_play()
    state = empty_state()
    entries = _entries(("C1", "O1", T0), play_id="care")
    out, state = _run(p, T0 + timedelta(hours=1), state, entries)
    assert out.is_empty()
    other_order = _delivered("O2", T0 + timedelta(days=1))
    out, state = _run(p, T0 + timedelta(days=2), state, waited=other_order)
    assert out.is_empty()  # a delivery of another order does not count
    mine = _delivered("O1", T0 + timedelta(days=2, hours=3))
    out, state = _run(p, T0 + timedelta(days=3), state, waited=mine)
    assert out["step_id"].to_list() == ["tips"]
    (journey,) = state.journeys.to_dicts()
    assert journey["path"] == "until_delivered:arrived > tips"


@pytest.mark.parametrize(
    ("on_timeout", "sent", "status"), [("continue", ["tips"], "done"), ("exit", [], "exited")]
)
def test_wait_until_times_out(on_timeout: str, sent: list[str], status: str) -> None:
    p = _waiting_play(on_timeout)
    state = empty_state()
    _, state = _run(p, T0 + timedelta(hours=1), state, _entries(("C1", "O1", T0), play_id="care"))
    out, state = _run(p, T0 + timedelta(days=5, hours=1), state)
    assert out["step_id"].to_list() == sent
    (journey,) = state.journeys.to_dicts()
    assert journey["status"] == status
    if on_timeout == "exit":
        assert journey["exit_reason"] == "Order Delivered did not come in time"


def test_branches_follow_the_condition_on_current_features() -> None:
    p = play(
        steps=[{"kind": "branch", "id": "which", "condition": "health_grade = 'green'",
                "then": [_send("cheer")], "otherwise": [_send("help")]}]
    )  # fmt: skip
    column = condition_columns([p], Policy())["health_grade = 'green'"]
    facts = _facts(
        customer_id=["C1", "C2"],
        health_grade=["green", "red"],
        email=["a@x", "b@x"],
        last_order_at=[T0, T0],
        last_refund_at=[None, None],
    )
    facts = facts.with_columns(pl.Series(column, [True, False]))  # fmt: skip
    entries = _entries(("C1", "O1", T0), ("C2", "O2", T0))
    out, _ = _run(p, T0 + timedelta(hours=1), empty_state(), entries, facts)
    assert dict(out.select("customer_id", "step_id").iter_rows()) == {"C1": "cheer", "C2": "help"}
    assert "path: which:otherwise" in out.filter(pl.col("customer_id") == "C2")["explanation"][0]


def _start(p: Play, entries: pl.DataFrame, journeys: pl.DataFrame, at: datetime) -> tuple:  # type: ignore[type-arg]
    return start(entries, journeys, [p], at)


def test_reentry_rules_decide_who_starts_again() -> None:
    at = T0 + timedelta(days=10)
    earlier = start(_entries(("C1", "O1", T0)), pl.DataFrame(schema=JOURNEY_SCHEMA), [play()],
                    T0)[0].with_columns(status=pl.lit("done"))  # fmt: skip
    again = _entries(("C1", "O2", at - timedelta(hours=1)))
    started, refused = _start(play(), again, earlier, at)
    assert started.is_empty() and refused["reason"].to_list() == [
        "already entered once (re-entry: once ever)"
    ]
    every = play(reentry={"kind": "every", "days": 30})
    started, refused = _start(every, again, earlier, at)
    assert refused["reason"].to_list() == ["entered 10 days ago (re-entry: every 30 days)"]
    later = _entries(("C1", "O2", T0 + timedelta(days=40)))
    started, _ = _start(every, later, earlier, T0 + timedelta(days=41))
    assert started.height == 1
    per_order = play(reentry={"kind": "once_per_order"})
    two = _entries(("C1", "O2", at), ("C1", "O3", at))
    started, refused = _start(per_order, two, earlier, at + timedelta(hours=1))
    assert sorted(started["occurrence"]) == ["O2", "O3"] and refused.is_empty()
    same, refused = _start(per_order, _entries(("C1", "O1", T0)), earlier, at)
    assert same.is_empty() and refused.is_empty()  # already in for that occurrence: nothing


def test_a_customer_inside_the_play_is_not_started_twice() -> None:
    active, _ = start(_entries(("C1", "O1", T0)), pl.DataFrame(schema=JOURNEY_SCHEMA),
                      [play(reentry={"kind": "every", "days": 1})], T0)  # fmt: skip
    later = _entries(("C1", "O2", T0 + timedelta(days=3)))
    started, refused = start(later, active, [play(reentry={"kind": "every", "days": 1})],
                             T0 + timedelta(days=3, hours=1))  # fmt: skip
    assert started.is_empty()
    assert refused["reason"].to_list() == ["still in the play since 2025-03-03"]


def test_advance_without_due_journeys_returns_nothing() -> None:
    p = play()
    touched, sends = advance(
        pl.DataFrame(schema=JOURNEY_SCHEMA), instruction_table([p]), _facts(),
        pl.DataFrame(schema=WAIT_SCHEMA), [p], {}, T0,
    )  # fmt: skip
    assert touched.is_empty() and sends.is_empty()


def test_stale_sends_are_suppressed_not_sent_late() -> None:
    p = play()
    state = empty_state()
    out, _ = _run(p, T0 + timedelta(days=2, hours=1), state, _entries(("C1", "O1", T0)))
    assert out.select("step_id", "outcome", "gate").rows() == [
        ("follow_up", "send", None),  # fell due 1 day 1 hour ago: within stale_after (2d)
        ("hello", "suppress", "stale"),  # fell due 2 days 1 hour ago
    ]
    assert out.filter(pl.col("gate") == "stale")["reason"][0] == (
        "fell due at 2025-03-03 10:00 UTC, more than 2 days, 0:00:00 before this pass; "
        "not sent late"
    )
