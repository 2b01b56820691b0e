"""Closed-loop evaluation: continue a simulated world after messages were sent.

:func:`simulate_forward` runs the same BG/NBD process that produced the history, from the
hidden state at its end, with each customer's rates changed by the :class:`ResponseModel` from
the day of their first message. Random numbers are drawn per customer in a fixed layout that
does not depend on the messages (common random numbers), so running it twice with the same
seed, once with the messages and once without, gives each customer's true individual uplift.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.parquet as pq

from aftersale.errors import InvalidInputError
from aftersale.simulator.process import group_ranks
from aftersale.simulator.response import HEALTH_CODES, MESSAGE_KINDS, ResponseModel, SentMessage
from aftersale.simulator.rng import Stream, rng_for
from aftersale.simulator.spec import SLICES, SimulationSpec
from aftersale.simulator.timefmt import timestamp_array

__all__ = ["ForwardResult", "WorldState", "simulate_forward"]

F = npt.NDArray[np.float64]
_MAX_RATE = 3.0
_AOV_SIGMA = 0.35


@dataclass(frozen=True, slots=True)
class WorldState:
    """Hidden state of every customer at ``as_of_day`` (days after ``start_epoch``)."""

    customer_id: npt.NDArray[np.str_]
    slice: npt.NDArray[np.int64]
    lam: F
    p: F
    is_alive: npt.NDArray[np.bool_]
    health: npt.NDArray[np.int64]
    has_first_win: npt.NDArray[np.bool_]
    aov_minor: npt.NDArray[np.int64]
    currency: npt.NDArray[np.str_]
    as_of_day: float
    start_epoch: int

    @classmethod
    def from_truth(cls, truth: pa.Table, *, as_of_day: float, start_epoch: int) -> WorldState:
        """State from a ``customers_truth`` table as written at the end of the period."""
        col = truth.column
        return cls(
            customer_id=np.asarray(col("customer_id").to_pylist(), dtype=str),
            slice=np.array([SLICES.index(s) for s in col("slice").to_pylist()], dtype=np.int64),
            lam=col("lambda_per_day").to_numpy(),
            p=col("p_dropout").to_numpy(),
            is_alive=np.asarray(col("is_alive_at_end").to_pylist(), dtype=bool),
            health=np.array([HEALTH_CODES[h] for h in col("health").to_pylist()], dtype=np.int64),
            has_first_win=np.asarray(col("has_first_win").to_pylist(), dtype=bool),
            aov_minor=col("aov_minor").to_numpy().astype(np.int64),
            currency=np.asarray(col("currency").to_pylist(), dtype=str),
            as_of_day=float(as_of_day),
            start_epoch=int(start_epoch),
        )

    @classmethod
    def load(cls, out_dir: Path | str) -> WorldState:
        """State at the end of the period of a store written by :func:`simulate_store`."""
        root = Path(out_dir)
        spec = SimulationSpec.from_json(root / "truth" / "spec.json")
        truth = pq.read_table(root / "truth" / "customers_truth.parquet")
        return cls.from_truth(truth, as_of_day=spec.days, start_epoch=spec.start_epoch)


@dataclass(frozen=True, slots=True)
class ForwardResult:
    """Orders, events and per-customer outcomes between ``from_day`` and ``to_day``."""

    orders: pa.Table
    events: pa.Table
    outcomes: pa.Table


def _message_arrays(
    world: WorldState, sent: Sequence[SentMessage] | pa.Table, from_day: float, to_day: float
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], F]:
    """Messages as (customer row, kind index, day) arrays, checked and windowed."""
    if isinstance(sent, pa.Table):
        ids = sent.column("customer_id").to_pylist()
        kinds = [str(k) for k in sent.column("kind").to_pylist()]
        days = np.asarray(sent.column("day").to_pylist(), dtype=np.float64)
    else:
        ids = [m.customer_id for m in sent]
        kinds = [str(m.kind) for m in sent]
        days = np.array([m.day for m in sent], dtype=np.float64)
    index = {c: i for i, c in enumerate(world.customer_id.tolist())}
    kind_index = {k.value: i for i, k in enumerate(MESSAGE_KINDS)}
    unknown = sorted({c for c in ids if c not in index})
    if unknown:
        raise InvalidInputError(f"sent_messages customer_id not in the world: {unknown[:5]}")
    bad = sorted({k for k in kinds if k not in kind_index})
    if bad:
        raise InvalidInputError(f"sent_messages kind unknown: {bad}; known: {list(kind_index)}")
    if len(days) and (days.min() < from_day):
        raise InvalidInputError(f"sent_messages day {days.min()} is before from_day {from_day}")
    keep = days < to_day
    cust = np.array([index[c] for c in ids], dtype=np.int64)[keep]
    kind = np.array([kind_index[k] for k in kinds], dtype=np.int64)[keep]
    return cust, kind, days[keep]


def simulate_forward(
    world: WorldState,
    sent_messages: Sequence[SentMessage] | pa.Table,
    from_day: float,
    to_day: float,
    seed: int,
    *,
    model: ResponseModel | None = None,
) -> ForwardResult:
    """Simulate orders and events in ``[from_day, to_day)`` after ``sent_messages``.

    ``sent_messages`` is a sequence of :class:`SentMessage` or a table with ``customer_id``,
    ``kind`` and ``day`` columns. Use the model of the store (``ResponseModel.from_spec``)
    to see the store's true effects; the default is the model for seed 0.
    """
    if not world.as_of_day <= from_day < to_day:
        raise InvalidInputError(
            f"need as_of_day ({world.as_of_day}) <= from_day ({from_day}) < to_day ({to_day})"
        )
    model = model or ResponseModel()
    n = len(world.customer_id)
    mc, mk, md = _message_arrays(world, sent_messages, from_day, to_day)
    eff = model.effects(
        slice_=world.slice,
        health=world.health,
        has_first_win=world.has_first_win,
        is_alive=world.is_alive,
        msg_customer=mc,
        msg_kind=mk,
        msg_day=md,
    )
    t0 = np.full(n, np.inf)
    np.minimum.at(t0, mc, md)
    t_last = np.full(n, -np.inf)
    np.maximum.at(t_last, mc, md)
    rng = rng_for(seed, Stream.FORWARD, 0)
    span = to_day - world.as_of_day
    u_react, u_unsub, u_ref = rng.random(n), rng.random(n), rng.random(n)
    ref_delay = rng.exponential(2.0, n)
    expected = world.lam * _MAX_RATE * span
    slots = np.ceil(expected + 5.0 * np.sqrt(expected) + 5.0).astype(np.int64)
    owner = np.repeat(np.arange(n, dtype=np.int64), slots)
    e, u, z = (
        rng.exponential(1.0, len(owner)),
        rng.random(len(owner)),
        rng.standard_normal(len(owner)),
    )

    reactivated = ~world.is_alive & (u_react < eff.p_reactivate) & np.isfinite(t0)
    active = world.is_alive | reactivated
    start = np.where(reactivated, t0, world.as_of_day)
    cum = np.cumsum(e)
    run_start = np.arange(len(owner)) - group_ranks(owner)
    s = cum - np.r_[0.0, cum][run_start]
    lam = np.maximum(world.lam[owner], 1e-12)
    m = eff.purchase_rate_multiplier[owner]
    kink = np.maximum(t0[owner] - start[owner], 0.0)
    base_mass = lam * np.where(np.isfinite(kink), kink, np.inf)
    after = np.maximum(start[owner], t0[owner])
    when = start[owner] + s / lam
    late = s >= base_mass  # only customers with a message reach the treated piece
    when[late] = after[late] + (s[late] - base_mass[late]) / (lam[late] * m[late])
    treated = when >= t0[owner]
    p_now = np.where(
        treated, np.minimum(world.p[owner] * eff.dropout_multiplier[owner], 1.0), world.p[owner]
    )
    drop = u < p_now
    drops_before = np.cumsum(drop) - np.r_[0, np.cumsum(drop)][run_start] - drop
    valid = active[owner] & (drops_before == 0) & (when < to_day)
    dropped_now = np.zeros(n, bool)
    dropped_now[owner[valid & drop]] = True
    value = world.aov_minor[owner] * np.exp(_AOV_SIGMA * z - _AOV_SIGMA**2 / 2)
    value = np.where(treated, value * eff.aov_multiplier[owner], value)
    total = np.floor(value + 0.5).astype(np.int64)
    report = valid & (when >= from_day)
    oc, ot, ov = owner[report], when[report], total[report]

    unsub = np.isfinite(t0) & (u_unsub < eff.p_unsubscribe)
    unsub_day = np.where(unsub, t_last + 0.1, np.nan)
    unsub &= unsub_day < to_day
    ref_day = t0 + ref_delay
    refer = np.isfinite(t0) & active & (u_ref < eff.p_referral) & (ref_day < to_day)
    ev_c = np.r_[np.flatnonzero(unsub), np.flatnonzero(refer), np.flatnonzero(reactivated)]
    ev_d = np.r_[unsub_day[unsub], ref_day[refer], t0[reactivated]]
    ev_name = (
        ["Unsubscribed"] * int(unsub.sum())
        + ["Referral Shared"] * int(refer.sum())
        + ["Reactivated"] * int(reactivated.sum())
    )
    ev_order = np.lexsort((ev_d, ev_c))

    def stamp(days: F) -> pa.Array:
        """UTC timestamps for simulation days."""
        return timestamp_array(world.start_epoch + np.floor(days * 86_400).astype(np.int64))

    orders = pa.table(
        {
            "customer_id": pa.array(world.customer_id[oc], pa.string()),
            "ordered_at": stamp(ot),
            "day": pa.array(ot),
            "total_minor": pa.array(ov),
            "currency": pa.array(world.currency[oc], pa.string()),
            "after_message": pa.array(ot >= t0[oc]),
        }
    )
    events = pa.table(
        {
            "customer_id": pa.array(world.customer_id[ev_c[ev_order]], pa.string()),
            "event": pa.array([ev_name[i] for i in ev_order], pa.string()),
            "occurred_at": stamp(ev_d[ev_order]),
            "day": pa.array(ev_d[ev_order]),
        }
    )
    n_msgs = np.bincount(mc, minlength=n)
    outcomes = pa.table(
        {
            "customer_id": pa.array(world.customer_id, pa.string()),
            "slice": pa.array([SLICES[s] for s in world.slice], pa.string()),
            "n_messages": pa.array(n_msgs.astype(np.int64)),
            "n_orders": pa.array(np.bincount(oc, minlength=n).astype(np.int64)),
            "revenue_minor": pa.array(np.bincount(oc, weights=ov, minlength=n).astype(np.int64)),
            "dropped_out": pa.array(dropped_now),
            "is_alive_at_end": pa.array(active & ~dropped_now),
            "unsubscribed": pa.array(unsub),
            "referred": pa.array(refer),
            "reactivated": pa.array(reactivated),
            "purchase_rate_multiplier": pa.array(eff.purchase_rate_multiplier),
            "dropout_multiplier": pa.array(eff.dropout_multiplier),
            "aov_multiplier": pa.array(eff.aov_multiplier),
            "p_unsubscribe": pa.array(eff.p_unsubscribe),
            "p_referral": pa.array(eff.p_referral),
            "p_reactivate": pa.array(eff.p_reactivate),
        }
    )
    return ForwardResult(orders=orders, events=events, outcomes=outcomes)
