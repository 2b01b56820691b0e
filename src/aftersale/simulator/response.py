"""How simulated customers respond to messages: the hidden, inspectable effect table.

Each (slice, kind of message) cell holds relative changes (purchase rate, drop-out probability,
order value) and probabilities (unsubscribe, referral, reactivation of a lapsed customer).
Effects depend on the customer's state (a referral ask before a first win backfires, a save
offer matters most to Red customers, a win-back only revives the lapsed) and fade with
repetition; too many messages in a short window cause fatigue: less buying, more drop-out and
unsubscribes. The model is pure: the same inputs always give the same :class:`Effect`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from aftersale.errors import InvalidInputError
from aftersale.simulator.rng import Stream, rng_for
from aftersale.simulator.spec import SLICES, SimulationSpec

__all__ = [
    "EFFECT_FIELDS",
    "MESSAGE_KINDS",
    "Effect",
    "EffectArrays",
    "MessageKind",
    "ResponseModel",
    "ResponseParams",
    "SentMessage",
]

F = npt.NDArray[np.float64]
HEALTH_CODES: Final[dict[str, int]] = {"green": 0, "yellow": 1, "red": 2}


class MessageKind(StrEnum):
    """Kinds of message a playbook can send; each has its own hidden effect per slice."""

    ONBOARDING = "onboarding"
    FIRST_WIN_REMINDER = "first_win_reminder"
    CARE_TIPS = "care_tips"
    SECOND_PURCHASE_INCENTIVE = "second_purchase_incentive"
    EXCLUSIVE_ACCESS = "exclusive_access"
    BUNDLE = "bundle"
    LOYALTY_POINTS = "loyalty_points"
    CONCIERGE = "concierge"
    REPLENISHMENT = "replenishment"
    CROSS_SELL = "cross_sell"
    WINBACK = "winback"
    MILESTONE = "milestone"
    SAVE_OFFER = "save_offer"
    REFERRAL_ASK = "referral_ask"


MESSAGE_KINDS: Final[tuple[MessageKind, ...]] = tuple(MessageKind)
_K = {k: i for i, k in enumerate(MESSAGE_KINDS)}
EFFECT_FIELDS: Final[tuple[str, ...]] = (
    "rate_lift",
    "dropout_change",
    "aov_lift",
    "p_unsubscribe",
    "p_referral",
    "p_reactivate",
)
"""Columns of a table cell: three relative changes (e.g. 0.1 = +10 %) and three probabilities."""

_BASE: Final[dict[str, tuple[float, ...]]] = {
    "onboarding": (0.05, -0.15, 0.0, 0.002, 0.0, 0.0),
    "first_win_reminder": (0.04, -0.12, 0.0, 0.003, 0.0, 0.0),
    "care_tips": (0.03, -0.08, 0.0, 0.003, 0.0, 0.0),
    "second_purchase_incentive": (0.15, -0.03, -0.06, 0.004, 0.0, 0.02),
    "exclusive_access": (0.06, -0.05, 0.05, 0.004, 0.005, 0.01),
    "bundle": (0.08, -0.02, 0.10, 0.004, 0.0, 0.01),
    "loyalty_points": (0.06, -0.06, 0.0, 0.003, 0.0, 0.01),
    "concierge": (0.04, -0.10, 0.06, 0.002, 0.005, 0.02),
    "replenishment": (0.12, -0.05, 0.0, 0.003, 0.0, 0.03),
    "cross_sell": (0.05, 0.0, 0.08, 0.005, 0.0, 0.0),
    "winback": (0.03, 0.0, -0.03, 0.01, 0.0, 0.08),
    "milestone": (0.03, -0.08, 0.0, 0.002, 0.01, 0.0),
    "save_offer": (0.05, -0.25, -0.02, 0.004, 0.0, 0.05),
    "referral_ask": (0.0, 0.0, 0.0, 0.006, 0.06, 0.0),
}
_SCALE: Final[dict[tuple[str, str], float]] = {
    ("pain_now", "concierge"): 2.0,
    ("pain_now", "onboarding"): 1.5,
    ("pain_now", "care_tips"): 0.5,
    ("pain_now", "save_offer"): 1.4,
    ("proof_seeker", "milestone"): 2.0,
    ("proof_seeker", "care_tips"): 1.5,
    ("proof_seeker", "second_purchase_incentive"): 0.7,
    ("time_poor", "replenishment"): 1.6,
    ("time_poor", "onboarding"): 1.3,
    ("budget_starter", "bundle"): 1.8,
    ("budget_starter", "loyalty_points"): 1.8,
    ("budget_starter", "second_purchase_incentive"): 1.6,
    ("budget_starter", "save_offer"): 1.3,
    ("budget_starter", "concierge"): 0.3,
    ("status_chaser", "exclusive_access"): 2.0,
    ("status_chaser", "milestone"): 1.8,
    ("status_chaser", "concierge"): 1.5,
    ("status_chaser", "bundle"): 0.5,
    ("status_chaser", "loyalty_points"): 0.6,
}
"""Slice-specific strength of a kind (multiplies the whole base cell)."""
_OVERRIDE: Final[dict[tuple[str, str], dict[str, float]]] = {
    ("pain_now", "exclusive_access"): {"rate_lift": -0.02},
    ("time_poor", "care_tips"): {"rate_lift": -0.02, "p_unsubscribe": 0.008},
    ("budget_starter", "exclusive_access"): {"rate_lift": -0.04, "aov_lift": -0.05},
    ("status_chaser", "second_purchase_incentive"): {"rate_lift": 0.02, "aov_lift": -0.10},
    ("status_chaser", "referral_ask"): {"p_referral": 0.09},
    ("proof_seeker", "referral_ask"): {"p_referral": 0.07},
}
"""Cells where a slice reacts differently in kind, including harmful messages."""


@dataclass(frozen=True, slots=True)
class SentMessage:
    """One message sent to a customer ``day`` days after the simulation start."""

    customer_id: str
    kind: MessageKind
    day: float
    channel: str = "email"

    def __post_init__(self) -> None:
        """Accept the kind as plain text and check it."""
        try:
            object.__setattr__(self, "kind", MessageKind(self.kind))
        except ValueError:
            raise InvalidInputError(
                f"SentMessage.kind {self.kind!r} unknown; known: {', '.join(MESSAGE_KINDS)}"
            ) from None


@dataclass(frozen=True, slots=True)
class Effect:
    """Combined effect of a customer's messages, applied from the first message on."""

    purchase_rate_multiplier: float
    dropout_multiplier: float
    aov_multiplier: float
    p_unsubscribe: float
    p_referral: float
    p_reactivate: float = 0.0


@dataclass(frozen=True, slots=True)
class EffectArrays:
    """:class:`Effect` fields for many customers at once, plus the fatigue that shaped them."""

    purchase_rate_multiplier: F
    dropout_multiplier: F
    aov_multiplier: F
    p_unsubscribe: F
    p_referral: F
    p_reactivate: F
    excess_messages: npt.NDArray[np.int64]

    def row(self, i: int) -> Effect:
        """The effect on customer row ``i``."""
        return Effect(
            float(self.purchase_rate_multiplier[i]),
            float(self.dropout_multiplier[i]),
            float(self.aov_multiplier[i]),
            float(self.p_unsubscribe[i]),
            float(self.p_referral[i]),
            float(self.p_reactivate[i]),
        )


@dataclass(frozen=True, slots=True)
class ResponseParams:
    """Fatigue and shape parameters of the response model (all hidden ground truth)."""

    fatigue_window_days: float = 7.0
    fatigue_cap: tuple[int, ...] = (4, 3, 2, 3, 3)
    """Messages per window each slice tolerates (SLICES order) before fatigue sets in."""
    fatigue_rate_penalty: float = 0.10
    fatigue_dropout_penalty: float = 0.15
    fatigue_unsubscribe: float = 0.04
    repeat_decay: float = 0.5
    """Weight of the n-th message of the same kind is ``repeat_decay ** (n - 1)``."""
    jitter: float = 0.2
    seed: int = 0


def _base_table() -> F:
    """Effect table before jitter, shape (slices, kinds, fields)."""
    table = np.array([[_BASE[k.value] for k in MESSAGE_KINDS]] * len(SLICES), dtype=np.float64)
    for (s, k), scale in _SCALE.items():
        table[SLICES.index(s), _K[MessageKind(k)], :] *= scale
    for (s, k), cells in _OVERRIDE.items():
        for name, value in cells.items():
            table[SLICES.index(s), _K[MessageKind(k)], EFFECT_FIELDS.index(name)] = value
    return table


class ResponseModel:
    """Hidden per-slice, per-kind effects of messages, with state rules and fatigue."""

    def __init__(self, params: ResponseParams | None = None) -> None:
        """Draw the jittered effect table for ``params.seed`` (signs never change)."""
        self.params = params or ResponseParams()
        base = _base_table()
        rng = rng_for(self.params.seed, Stream.RESPONSE, 0)
        noise = 1.0 + self.params.jitter * rng.uniform(-1.0, 1.0, base.shape)
        self.table: F = base * noise

    @classmethod
    def from_spec(cls, spec: SimulationSpec) -> ResponseModel:
        """The response model a simulated store with ``spec`` hides."""
        return cls(ResponseParams(jitter=spec.effect_jitter, seed=spec.seed))

    def table_rows(self) -> pa.Table:
        """The effect table as rows (slice, kind, fields...) for ``truth/response_effects.csv``."""
        slices: list[str] = []
        kinds: list[str] = []
        cols: dict[str, list[float]] = {f: [] for f in EFFECT_FIELDS}
        for si, s in enumerate(SLICES):
            for ki, k in enumerate(MESSAGE_KINDS):
                slices.append(s)
                kinds.append(k.value)
                for fi, f in enumerate(EFFECT_FIELDS):
                    cols[f].append(round(float(self.table[si, ki, fi]), 6))
        return pa.table({"slice": slices, "kind": kinds, **cols})

    def effect(self, customer: Mapping[str, Any], sent_messages: Sequence[SentMessage]) -> Effect:
        """Effect of ``sent_messages`` on one customer given a truth row (slice, health, ...)."""
        try:
            slice_ = SLICES.index(customer["slice"])
        except (KeyError, ValueError):
            raise InvalidInputError(
                f"customer row needs 'slice' in {SLICES}, got {customer.get('slice')!r}"
            ) from None
        health = HEALTH_CODES.get(str(customer.get("health", "green")), 0)
        arrays = self.effects(
            slice_=np.array([slice_]),
            health=np.array([health]),
            has_first_win=np.array([bool(customer.get("has_first_win", True))]),
            is_alive=np.array([bool(customer.get("is_alive_at_end", True))]),
            msg_customer=np.zeros(len(sent_messages), dtype=np.int64),
            msg_kind=np.array([_K[m.kind] for m in sent_messages], dtype=np.int64),
            msg_day=np.array([m.day for m in sent_messages], dtype=np.float64),
        )
        return arrays.row(0)

    def effects(
        self,
        *,
        slice_: npt.NDArray[np.int64],
        health: npt.NDArray[np.int64],
        has_first_win: npt.NDArray[np.bool_],
        is_alive: npt.NDArray[np.bool_],
        msg_customer: npt.NDArray[np.int64],
        msg_kind: npt.NDArray[np.int64],
        msg_day: npt.NDArray[np.float64],
    ) -> EffectArrays:
        """Vectorised effects for many customers; messages point to customer rows."""
        n, prm = len(slice_), self.params
        order = np.lexsort((msg_day, msg_customer))
        mc, mk, md = msg_customer[order], msg_kind[order], msg_day[order]
        cell = self.table[slice_[mc], mk].copy()
        cell *= self._state_scale(mk, health[mc], has_first_win[mc], is_alive[mc])[:, None]
        bad_ask = (mk == _K[MessageKind.REFERRAL_ASK]) & ~((health[mc] == 0) & has_first_win[mc])
        cell[bad_ask, 0] = np.minimum(cell[bad_ask, 0], -0.03)
        cell[bad_ask, 3] *= 3.0
        cell[bad_ask, 4] *= 0.2
        cell[:, 5] *= ~is_alive[mc]
        # Repetition fades: the n-th message of one kind counts decay**(n-1).
        key = mc * len(MESSAGE_KINDS) + mk
        by_key = np.argsort(key, kind="stable")
        rank = np.empty(len(key), dtype=np.int64)
        sorted_key = key[by_key]
        starts = (
            np.r_[0, np.flatnonzero(np.diff(sorted_key)) + 1] if len(key) else np.zeros(0, np.int64)
        )
        run = np.repeat(starts, np.diff(np.r_[starts, len(key)])) if len(key) else starts
        rank[by_key] = np.arange(len(key)) - run
        w = prm.repeat_decay**rank

        def total_log(values: F) -> F:
            """Per-customer sum of log(1 + value): multiplies effects across messages."""
            logs = np.log1p(np.maximum(values, -0.95))
            return np.asarray(np.bincount(mc, weights=logs, minlength=n), dtype=np.float64)

        rate = np.exp(total_log(w * cell[:, 0]))
        drop = np.exp(total_log(w * cell[:, 1]))
        aov = np.exp(total_log(w * cell[:, 2]))
        p_unsub = 1.0 - np.exp(total_log(-cell[:, 3]))
        p_ref = 1.0 - np.exp(total_log(-w * cell[:, 4]))
        p_react = 1.0 - np.exp(total_log(-w * cell[:, 5]))
        # Fatigue: the busiest window beyond the slice's tolerance.
        stamp = mc * 1e6 + md
        in_window = np.searchsorted(stamp, stamp, side="right") - np.searchsorted(
            stamp, stamp - prm.fatigue_window_days, side="left"
        )
        busiest = np.zeros(n, dtype=np.int64)
        np.maximum.at(busiest, mc, in_window)
        cap = np.asarray(prm.fatigue_cap, dtype=np.int64)[slice_]
        excess = np.maximum(busiest - cap, 0)
        rate *= (1.0 - prm.fatigue_rate_penalty) ** excess
        drop *= (1.0 + prm.fatigue_dropout_penalty) ** excess
        p_unsub = 1.0 - (1.0 - p_unsub) * (1.0 - prm.fatigue_unsubscribe) ** excess
        p_ref *= (1.0 - prm.fatigue_rate_penalty) ** excess
        return EffectArrays(
            purchase_rate_multiplier=np.clip(rate, 0.2, 3.0),
            dropout_multiplier=np.clip(drop, 0.2, 5.0),
            aov_multiplier=np.clip(aov, 0.5, 2.0),
            p_unsubscribe=np.clip(p_unsub, 0.0, 1.0),
            p_referral=np.clip(p_ref, 0.0, 1.0),
            p_reactivate=np.clip(p_react, 0.0, 1.0),
            excess_messages=excess,
        )

    @staticmethod
    def _state_scale(
        kind: npt.NDArray[np.int64],
        health: npt.NDArray[np.int64],
        has_first_win: npt.NDArray[np.bool_],
        is_alive: npt.NDArray[np.bool_],
    ) -> F:
        """How much a message matters in the customer's current state."""
        scale = np.ones(len(kind))
        save = kind == _K[MessageKind.SAVE_OFFER]
        scale[save] = np.array([0.2, 0.7, 1.0])[health[save]]
        early = np.isin(kind, [_K[MessageKind.ONBOARDING], _K[MessageKind.FIRST_WIN_REMINDER]])
        scale[early & has_first_win] = 0.3
        winback = (kind == _K[MessageKind.WINBACK]) & is_alive
        scale[winback] = 0.3
        return scale
