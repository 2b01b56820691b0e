"""The hidden purchase process: BG/NBD purchase times and drop-out, shaped to local daytimes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from aftersale.simulator.geo import ZONES
from aftersale.simulator.spec import SimulationSpec

__all__ = ["HOUR_WEIGHTS", "PurchaseTimes", "draw_purchase_times", "group_ranks"]

IntArray = npt.NDArray[np.int64]

HOUR_WEIGHTS: Final[npt.NDArray[np.float64]] = np.array(
    [
        0.5,
        0.3,
        0.2,
        0.15,
        0.15,
        0.3,
        0.8,
        1.5,
        2.5,
        3.2,
        3.6,
        4.0,
        4.6,
        4.4,
        4.0,
        3.8,
        3.8,
        4.0,
        4.6,
        5.4,
        5.8,
        5.2,
        3.6,
        1.6,
    ]
)
"""Relative share of orders by local hour of day (lunch and evening peaks)."""


@dataclass(frozen=True, slots=True)
class PurchaseTimes:
    """Purchase instants of one shard, sorted by customer then time (seconds after start)."""

    cust: IntArray
    t: IntArray
    dropout_t: IntArray
    """Second of the purchase after which the customer dropped out, or -1 if alive at the end."""


def group_ranks(groups: IntArray) -> IntArray:
    """0-based position of each row within its run of equal ``groups`` values (rows sorted)."""
    n = len(groups)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    starts = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]])
    run_start = np.repeat(starts, np.diff(np.r_[starts, n]))
    return np.arange(n, dtype=np.int64) - run_start


def _zone_offsets(spec: SimulationSpec) -> IntArray:
    """Offset of each zone from UTC at the middle of the period, for daytime shaping only."""
    mid = datetime.fromtimestamp(spec.start_epoch + spec.end_second // 2, tz=ZoneInfo("UTC"))
    out = []
    for zone in ZONES:
        offset = mid.astimezone(ZoneInfo(zone)).utcoffset()
        out.append(int(offset.total_seconds()) if offset is not None else 0)
    return np.asarray(out, dtype=np.int64)


def draw_purchase_times(
    rng: np.random.Generator,
    spec: SimulationSpec,
    lam: npt.NDArray[np.float64],
    p: npt.NDArray[np.float64],
    zone: IntArray,
) -> PurchaseTimes:
    """Draw first purchase (acquisition) and BG/NBD repeat purchases for each customer.

    Repeat purchases arrive as a Poisson process of rate ``lam`` per day; after the ``j``-th
    repeat purchase the customer drops out with probability ``p`` (so the number of repeat
    purchases before drop-out is geometric). Times are then moved within their local day to
    a realistic hour, which leaves the day (and so the process) intact.
    """
    n = len(lam)
    days = float(spec.days)
    acq = rng.random(n) * days
    span = days - acq
    count = rng.poisson(lam * span)
    quota = rng.geometric(np.clip(p, 1e-12, 1.0))
    dropped = count >= quota
    repeats = np.where(dropped, quota, count).astype(np.int64)
    # The first J of N uniform points: the J-th is Beta(J, N-J+1); the others lie below it.
    top = np.ones(n)
    d = np.flatnonzero(dropped)
    top[d] = rng.beta(quota[d].astype(np.float64), (count[d] - quota[d] + 1).astype(np.float64))
    free = repeats - dropped.astype(np.int64)
    cust_free = np.repeat(np.arange(n, dtype=np.int64), free)
    frac = rng.random(len(cust_free)) * top[cust_free]
    cust = np.concatenate([np.arange(n, dtype=np.int64), cust_free, d])
    when = np.concatenate([acq, acq[cust_free] + frac * span[cust_free], acq[d] + top[d] * span[d]])
    seconds = np.minimum(np.floor(when * 86_400.0).astype(np.int64), spec.end_second - 1)
    # Shape to local daytime: keep the local day, redraw the hour.
    offset = _zone_offsets(spec)[zone[cust]]
    local = seconds + offset
    hour = rng.choice(24, size=len(seconds), p=HOUR_WEIGHTS / HOUR_WEIGHTS.sum())
    shaped = (local // 86_400) * 86_400 + hour * 3600 + rng.integers(0, 3600, len(seconds))
    shaped -= offset
    ok = (shaped >= 0) & (shaped < spec.end_second)
    seconds = np.where(ok, shaped, seconds)
    order = np.lexsort((seconds, cust))
    cust, seconds = cust[order], seconds[order]
    last = np.full(n, -1, dtype=np.int64)
    ends = np.flatnonzero(np.r_[cust[1:] != cust[:-1], True]) if len(cust) else cust
    last[cust[ends]] = seconds[ends]
    dropout_t = np.where(dropped, last, -1)
    return PurchaseTimes(cust=cust, t=seconds, dropout_t=dropout_t)
