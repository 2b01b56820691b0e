"""simulate_forward: continues the hidden BG/NBD process; common random numbers expose uplift."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from scipy import stats

from aftersale.errors import InvalidInputError
from aftersale.simulator import (
    ResponseModel,
    SentMessage,
    SimulationSpec,
    WorldState,
    simulate_forward,
)

from .conftest import MEDIUM, Store


@pytest.fixture(scope="module")
def world(medium: Store) -> WorldState:
    return WorldState.load(medium.root)


@pytest.fixture(scope="module")
def model() -> ResponseModel:
    return ResponseModel.from_spec(MEDIUM)


def _to_all(world: WorldState, mask: np.ndarray, kind: str, days: list[float]) -> list[SentMessage]:
    return [SentMessage(str(c), kind, d) for c in world.customer_id[mask] for d in days]  # type: ignore[arg-type]


def test_world_state_reflects_truth(world: WorldState) -> None:
    assert world.as_of_day == MEDIUM.days
    assert world.start_epoch == MEDIUM.start_epoch
    assert len(world.customer_id) == MEDIUM.customers
    assert 0.2 < world.is_alive.mean() < 0.8


def test_without_messages_the_process_continues_as_bgnbd(world: WorldState) -> None:
    w = 60.0
    out = simulate_forward(world, [], world.as_of_day, world.as_of_day + w, seed=1)
    outcomes = out.outcomes.to_pandas()
    alive = world.is_alive
    lam, p = world.lam[alive], world.p[alive]
    # E[purchases] = sum_j P(N >= j) (1-p)^(j-1), N ~ Poisson(lam w): buying stops at drop-out.
    j = np.arange(1, 600)
    expected = (
        stats.poisson.sf(j[None, :] - 1, lam[:, None] * w) * (1 - p[:, None]) ** (j - 1)
    ).sum(axis=1)
    got = outcomes.loc[alive, "n_orders"].to_numpy()
    assert abs(got.mean() - expected.mean()) < 4 * got.std() / np.sqrt(len(got))
    q = 1 - np.exp(-lam * p * w)
    dropped = outcomes.loc[alive, "dropped_out"].to_numpy()
    assert abs(dropped.mean() - q.mean()) < 4 * np.sqrt(np.sum(q * (1 - q))) / len(q)
    assert outcomes.loc[~alive, "n_orders"].sum() == 0  # the lapsed never come back unprompted
    orders = out.orders.to_pandas()
    assert orders["day"].between(world.as_of_day, world.as_of_day + w, inclusive="left").all()
    assert not orders["after_message"].any()


def test_same_seed_same_future_other_seed_other(world: WorldState) -> None:
    a = simulate_forward(world, [], 365, 395, seed=3)
    b = simulate_forward(world, [], 365, 395, seed=3)
    c = simulate_forward(world, [], 365, 395, seed=4)
    assert a.orders.equals(b.orders) and a.outcomes.equals(b.outcomes)
    assert not a.orders.equals(c.orders)


def test_helpful_message_gives_every_customer_at_least_the_control_future(
    world: WorldState, model: ResponseModel
) -> None:
    target = (world.slice == 3) & world.is_alive  # budget starters
    msgs = _to_all(world, target, "bundle", [366.0])
    control = simulate_forward(world, [], 365, 425, seed=8, model=model).outcomes.to_pandas()
    treated = simulate_forward(world, msgs, 365, 425, seed=8, model=model).outcomes.to_pandas()
    assert (treated["n_orders"] >= control["n_orders"]).all()
    assert (treated.loc[~target, "n_orders"] == control.loc[~target, "n_orders"]).all()
    uplift = treated.loc[target, "n_orders"].mean() - control.loc[target, "n_orders"].mean()
    assert uplift > 0
    assert treated.loc[target, "revenue_minor"].sum() > control.loc[target, "revenue_minor"].sum()


def test_message_burst_hurts_and_unsubscribes(world: WorldState, model: ResponseModel) -> None:
    target = (world.slice == 2) & world.is_alive  # time-poor customers, low tolerance
    msgs = _to_all(world, target, "cross_sell", [366 + 0.25 * i for i in range(10)])
    control = simulate_forward(world, [], 365, 425, seed=8, model=model).outcomes.to_pandas()
    treated = simulate_forward(world, msgs, 365, 425, seed=8, model=model)
    t = treated.outcomes.to_pandas()
    assert (t.loc[target, "purchase_rate_multiplier"] < 1).all()
    assert (t["n_orders"] <= control["n_orders"]).all()
    assert t.loc[target, "n_orders"].mean() < control.loc[target, "n_orders"].mean()
    assert t.loc[target, "unsubscribed"].mean() > 0.1
    events = treated.events.to_pandas()
    assert set(events["event"]) >= {"Unsubscribed"}


def test_winback_brings_some_lapsed_customers_back(world: WorldState, model: ResponseModel) -> None:
    lapsed = ~world.is_alive
    msgs = _to_all(world, lapsed, "winback", [370.0])
    out = simulate_forward(world, msgs, 365, 455, seed=2, model=model).outcomes.to_pandas()
    back = out.loc[lapsed, "reactivated"]
    assert 0.03 < back.mean() < 0.3
    assert out.loc[lapsed & out["reactivated"].to_numpy(), "n_orders"].sum() > 0
    assert out.loc[lapsed & ~out["reactivated"].to_numpy(), "n_orders"].sum() == 0


def test_messages_as_a_table(world: WorldState) -> None:
    table = pa.table(
        {
            "customer_id": ["C0000001", "C0000002"],
            "kind": ["milestone", "care_tips"],
            "day": [366.0, 367.5],
        }
    )
    out = simulate_forward(world, table, 365, 380, seed=1)
    assert out.outcomes.column("n_messages").to_pylist()[:3] == [1, 1, 0]


def test_bad_arguments(world: WorldState) -> None:
    with pytest.raises(InvalidInputError, match="from_day"):
        simulate_forward(world, [], 300, 400, seed=1)
    with pytest.raises(InvalidInputError, match="customer_id"):
        simulate_forward(world, [SentMessage("nobody", "bundle", 366.0)], 365, 400, seed=1)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="before from_day"):
        simulate_forward(world, [SentMessage("C0000001", "bundle", 360.0)], 365, 400, seed=1)  # type: ignore[arg-type]


def test_small_world_from_spec_truth(tmp_path: object) -> None:
    from pathlib import Path

    from aftersale.simulator import simulate_store

    root = Path(str(tmp_path))
    simulate_store(SimulationSpec(customers=300, days=90, seed=2, formats=frozenset()), root)
    world = WorldState.load(root)
    out = simulate_forward(world, [SentMessage("C0000003", "onboarding", 90.5)], 90, 120, seed=0)
    assert out.outcomes.num_rows == 300
    assert set((root / "truth").iterdir()) >= {root / "truth" / "spec.json"}
