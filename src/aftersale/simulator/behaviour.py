"""Post-purchase behaviour that drives health: onboarding, first win, usage, tickets, consent.

Everything here feeds the hidden truth (health grade at the end of the period), so it is drawn
from its own random stream whether or not ``events.jsonl`` is written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

import numpy as np
import numpy.typing as npt

from aftersale.simulator import profiles, texts
from aftersale.simulator.process import group_ranks
from aftersale.simulator.purchases import Orders
from aftersale.simulator.rng import Stream, rng_for
from aftersale.simulator.spec import SimulationSpec
from aftersale.simulator.world import Customers

__all__ = ["HEALTH", "HEALTH_REASONS", "Behaviour", "Rows", "simulate_behaviour"]

IntArray = npt.NDArray[np.int64]
HEALTH: Final[tuple[str, ...]] = ("green", "yellow", "red")
HEALTH_REASONS: Final[tuple[str, ...]] = (
    "healthy",
    "slow_start",
    "stuck_in_setup",
    "confused",
    "quiet",
    "dropped_out",
    "never_started",
    "angry_or_refund_language",
    "recent_refund",
    "silent",
)
_DAY: Final = 86_400
_HOUR: Final = 3_600
_ACTION_RATE: Final = np.array([0.08, 0.04, 0.01, 0.0])
_TROUBLE: Final = np.array([0.1, 0.5, 1.0, 0.6])
_TONE_P: Final = np.array([[0.85, 0.12, 0.03], [0.6, 0.35, 0.05], [0.3, 0.5, 0.2], [0.3, 0.3, 0.4]])
_RATING_P: Final = np.array(
    [
        [0.0, 0.02, 0.08, 0.30, 0.60],
        [0.02, 0.05, 0.18, 0.40, 0.35],
        [0.10, 0.20, 0.35, 0.25, 0.10],
        [0.30, 0.25, 0.25, 0.15, 0.05],
    ]
)


@dataclass(frozen=True, slots=True)
class Rows:
    """Event rows of one kind: customer row, second, and two kind-specific integer fields."""

    cust: IntArray
    t: IntArray
    a: IntArray
    b: IntArray

    @staticmethod
    def of(
        cust: npt.ArrayLike,
        t: npt.ArrayLike,
        a: npt.ArrayLike | None = None,
        b: npt.ArrayLike | None = None,
    ) -> Rows:
        """Build rows, filling missing fields with -1."""
        rows = np.asarray(cust, np.int64)
        fill = np.full(len(rows), -1, dtype=np.int64)
        return Rows(
            rows,
            np.asarray(t, np.int64),
            fill if a is None else np.asarray(a, np.int64),
            fill if b is None else np.asarray(b, np.int64),
        )


@dataclass(frozen=True, slots=True)
class Behaviour:
    """Per-customer outcomes plus the truth-bearing event rows, keyed by Segment event name."""

    first_t: IntArray
    first_win_t: IntArray
    active_end_t: IntArray
    last_activity_t: IntArray
    email_opt_out_t: IntArray
    sms_opt_out_t: IntArray
    email_late_opt_in_t: IntArray
    health: IntArray
    health_reason: IntArray
    worst_tone: IntArray
    survey_answer: IntArray
    rows: dict[str, Rows] = field(default_factory=dict)


def _within(t: IntArray, end: int) -> npt.NDArray[np.bool_]:
    """Rows that happened inside the period."""
    return (t >= 0) & (t < end)


def _ragged(rng: np.random.Generator, counts: IntArray) -> tuple[IntArray, IntArray]:
    """Owner row and 0-based rank for ``counts[i]`` items of each row ``i``."""
    owner = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
    return owner, group_ranks(owner)


def _group_cumsum(values: npt.NDArray[np.float64], owner: IntArray) -> npt.NDArray[np.float64]:
    """Running sum of ``values`` restarting at each new ``owner`` (rows grouped by owner)."""
    if len(values) == 0:
        return values
    total = np.cumsum(values)
    start = np.arange(len(values)) - group_ranks(owner)
    return np.asarray(total - np.r_[0.0, total][start], dtype=np.float64)


def _draw(rng: np.random.Generator, probs: npt.NDArray[np.float64]) -> IntArray:
    """One categorical draw per row of ``probs``."""
    cum = np.cumsum(probs, axis=1)
    u = rng.random(len(probs)) * cum[:, -1]
    return np.asarray(
        np.minimum((cum < u[:, None]).sum(axis=1), probs.shape[1] - 1), dtype=np.int64
    )


def simulate_behaviour(
    spec: SimulationSpec, people: Customers, orders: Orders, shard: int
) -> Behaviour:
    """Draw onboarding, usage, tickets, surveys, referrals, reviews and consent changes."""
    rng = rng_for(spec.seed, Stream.BEHAVIOUR, shard)
    n, end = len(people), spec.end_second
    real = ~orders.is_cancel
    first_t = np.full(n, end, dtype=np.int64)
    np.minimum.at(first_t, orders.cust[real], orders.t[real])
    onb = people.onboarding
    dropped = orders.dropout_t >= 0
    tail = (rng.uniform(0.0, 10.0, n) * _DAY).astype(np.int64)
    active_end = np.where(dropped, np.minimum(orders.dropout_t + tail, end), end)
    rows: dict[str, Rows] = {}

    # Onboarding steps: fast within hours, slow over days, stuck after one or two, never none.
    n_steps = np.select([onb <= 1, onb == 2], [4, rng.integers(1, 3, n)], default=0)
    gap_mean = np.array([2 * _HOUR, 1.5 * _DAY, 4 * _HOUR, 0])[onb]
    owner, rank = _ragged(rng, n_steps)
    gaps = rng.exponential(1.0, len(owner)) * gap_mean[owner] + 300
    step_t = (first_t[owner] + _group_cumsum(gaps, owner)).astype(np.int64)
    ok = _within(step_t, end)
    rows["Onboarding Step Completed"] = Rows.of(owner[ok], step_t[ok], rank[ok])

    # First win: within 48 hours for fast starters, a week or so for slow ones.
    win_at = np.where(
        onb == 0,
        first_t + (rng.uniform(4, 44, n) * _HOUR).astype(np.int64),
        first_t + (rng.uniform(3, 10, n) * _DAY).astype(np.int64),
    )
    wins = (rng.random(n) < profiles.FIRST_WIN_P[onb]) & (win_at < end)
    first_win_t = np.where(wins, win_at, -1)
    rows["Milestone Reached"] = Rows.of(
        np.flatnonzero(wins), first_win_t[wins], np.zeros(int(wins.sum()))
    )

    # Key actions while the customer is still around; silence after drop-out.
    start = np.where(wins, first_win_t, first_t + _DAY)
    span_days = np.maximum(active_end - start, 0) / _DAY
    n_act = np.minimum(rng.poisson(_ACTION_RATE[onb] * span_days), 10)
    owner, rank = _ragged(rng, n_act)
    act_t = start[owner] + (rng.random(len(owner)) * (active_end - start)[owner]).astype(np.int64)
    act_t = np.sort(act_t + owner * (end * 4)) - owner * (end * 4)
    rows["Key Action Performed"] = Rows.of(
        owner, act_t, rng.integers(0, len(texts.KEY_ACTIONS), len(owner))
    )
    fifth = (rank == 4) & (people.slice[owner] == 4)
    m = rows["Milestone Reached"]
    rows["Milestone Reached"] = Rows.of(
        np.r_[m.cust, owner[fifth]], np.r_[m.t, act_t[fifth]], np.r_[m.a, np.ones(int(fifth.sum()))]
    )

    # Support tickets: tone follows onboarding trouble; refunds bring refund language.
    mu = profiles.TICKET_RATE[people.slice] * 0.5 + _TROUBLE[onb]
    n_tix = np.minimum(rng.poisson(mu), 4)
    owner, _ = _ragged(rng, n_tix)
    tix_t = first_t[owner] + (rng.exponential(6.0, len(owner)) * _DAY).astype(np.int64)
    tone = _draw(rng, _TONE_P[onb[owner]])
    refunded = np.flatnonzero(orders.refund_t >= 0)
    ask = refunded[rng.random(len(refunded)) < 0.8]
    ask_t = np.maximum(
        orders.refund_t[ask] - (rng.uniform(0.2, 3.0, len(ask)) * _DAY).astype(np.int64),
        orders.t[ask],
    )
    t_cust = np.r_[owner, orders.cust[ask]]
    t_time = np.r_[tix_t, ask_t]
    t_tone = np.r_[tone, np.full(len(ask), 3)]
    ok = _within(t_time, end) & ((t_tone == 3) | (t_time <= active_end[t_cust]))
    t_cust, t_time, t_tone = t_cust[ok], t_time[ok], t_tone[ok]
    rows["Support Ticket Created"] = Rows.of(
        t_cust, t_time, t_tone, rng.integers(0, 6, len(t_cust))
    )
    req_t = ask_t + (rng.uniform(0.5, 6.0, len(ask)) * _HOUR).astype(np.int64)
    okr = req_t < end
    rows["Refund Requested"] = Rows.of(
        orders.cust[ask][okr],
        req_t[okr],
        ask[okr],
        rng.integers(0, len(texts.REFUND_REASONS), int(okr.sum())),
    )
    worst_tone = np.full(n, -1, dtype=np.int64)
    np.maximum.at(worst_tone, t_cust, t_tone)

    # Survey: a share of customers answer what they want most; answers mostly match the slice.
    surveyed = rng.random(n) < 0.3
    survey_t = first_t + (rng.uniform(1, 14, n) * _DAY).astype(np.int64)
    surveyed &= survey_t < end
    noise = rng.random(n) < 0.2
    answer = np.where(noise, (people.slice + rng.integers(1, 5, n)) % 5, people.slice)
    answer = np.where(surveyed, answer, -1)
    rows["Survey Answered"] = Rows.of(
        np.flatnonzero(surveyed), survey_t[surveyed], answer[surveyed]
    )

    # Referrals only after a win, more for Status-Chasers.
    ref_p = profiles.REFERRAL_P[people.slice] * np.where(onb == 0, 1.0, 0.6)
    ref_t = first_win_t + (rng.exponential(3.0, n) * _DAY).astype(np.int64)
    refers = wins & (rng.random(n) < ref_p) & (ref_t < np.minimum(active_end, end))
    rows["Referral Shared"] = Rows.of(
        np.flatnonzero(refers), ref_t[refers], rng.integers(0, 3, int(refers.sum()))
    )

    # Reviews on some orders; stars follow onboarding and refunds.
    rev = np.flatnonzero(real & (rng.random(len(orders)) < 0.06))
    rev_t = orders.t[rev] + (rng.uniform(5, 20, len(rev)) * _DAY).astype(np.int64)
    stars = _draw(rng, _RATING_P[onb[orders.cust[rev]]])
    stars = np.where(orders.refund_t[rev] >= 0, np.minimum(stars, 1), stars)
    okv = rev_t < end
    rows["Review Submitted"] = Rows.of(orders.cust[rev][okv], rev_t[okv], rev[okv], stars[okv])

    # Consent changes: unsubscribes grow with trouble and drop-out.
    trouble = (onb >= 2).astype(float)
    span = np.maximum(end - first_t, 1)
    email_out_t = first_t + (rng.random(n) * span).astype(np.int64)
    email_out = people.email_opt_in & (rng.random(n) < 0.05 + 0.12 * trouble + 0.08 * dropped)
    sms_out_t = first_t + (rng.random(n) * span).astype(np.int64)
    sms_out = people.sms_opt_in & (rng.random(n) < 0.06 + 0.1 * trouble)
    late_in_t = first_t + (rng.random(n) * span).astype(np.int64)
    late_in = ~people.email_opt_in & (rng.random(n) < 0.05)
    rows["Unsubscribed"] = Rows.of(
        np.r_[np.flatnonzero(email_out), np.flatnonzero(sms_out)],
        np.r_[email_out_t[email_out], sms_out_t[sms_out]],
        np.r_[np.zeros(int(email_out.sum())), np.ones(int(sms_out.sum()))],
    )

    last_activity = np.maximum(first_t, np.where(dropped, orders.dropout_t, -1))
    np.maximum.at(last_activity, orders.cust[real], orders.t[real])
    for name in ("Key Action Performed", "Onboarding Step Completed", "Milestone Reached"):
        r = rows[name]
        np.maximum.at(last_activity, r.cust, r.t)
    health, reason = _health(
        spec, onb, dropped, wins, last_activity, t_cust, t_time, t_tone, orders
    )
    return Behaviour(
        first_t=first_t,
        first_win_t=first_win_t,
        active_end_t=active_end,
        last_activity_t=last_activity,
        email_opt_out_t=np.where(email_out, email_out_t, -1),
        sms_opt_out_t=np.where(sms_out, sms_out_t, -1),
        email_late_opt_in_t=np.where(late_in, late_in_t, -1),
        health=health,
        health_reason=reason,
        worst_tone=worst_tone,
        survey_answer=answer,
        rows=rows,
    )


def _health(
    spec: SimulationSpec,
    onb: IntArray,
    dropped: npt.NDArray[np.bool_],
    wins: npt.NDArray[np.bool_],
    last_activity: IntArray,
    t_cust: IntArray,
    t_time: IntArray,
    t_tone: IntArray,
    orders: Orders,
) -> tuple[IntArray, IntArray]:
    """True health at the end of the period and its main reason (see HEALTH_REASONS)."""
    n, end = len(onb), spec.end_second
    recent = end - 30 * _DAY
    hot = np.zeros(n, bool)
    hot[t_cust[(t_tone >= 2) & (t_time >= recent)]] = True
    confused = np.zeros(n, bool)
    confused[t_cust[(t_tone == 1) & (t_time >= recent)]] = True
    refund_recent = np.zeros(n, bool)
    refund_recent[orders.cust[orders.refund_t >= recent]] = True
    quiet_days = (end - last_activity) / _DAY
    conditions = [
        dropped,
        onb == 3,
        hot,
        refund_recent,
        quiet_days > 45,
        onb == 2,
        (onb == 1) & ~wins,
        confused,
        quiet_days > 21,
    ]
    reasons = [5, 6, 7, 8, 9, 2, 1, 3, 4]
    reason = np.select(conditions, reasons, default=0).astype(np.int64)
    health = np.select([reason >= 5, reason >= 1], [2, 1], default=0).astype(np.int64)
    return health, reason
