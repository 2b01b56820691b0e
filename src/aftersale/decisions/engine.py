"""``decide``: one pure pass of the engine — who gets which message, when, on which channel.

``decide(inputs, playbook, state, policy, as_of)`` starts the journeys whose triggers fired,
advances every due journey, and puts each send it reaches through the gates
(:mod:`aftersale.decisions.gates`). It reads only its arguments: the facts gathered by
set-based queries (:mod:`aftersale.decisions.facts`), the stored journeys and earlier
decisions. The batch pass gives it every customer; the real-time path the customers touched
by new events. Both give the same decisions for the same customers, because a customer's
decisions depend only on that customer's rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import polars as pl

from aftersale.clock import ensure_utc
from aftersale.decisions.facts import ENTRY_SCHEMA, WAIT_SCHEMA, condition_columns
from aftersale.decisions.gates import (
    CANDIDATE_SCHEMA,
    CHANNELS,
    DECISION_COLUMNS,
    HISTORY_SCHEMA,
    apply_gates,
)
from aftersale.decisions.journeys import JOURNEY_SCHEMA, NOT_ENTERED_SCHEMA, advance, start
from aftersale.decisions.policy import Policy
from aftersale.decisions.program import instruction_table
from aftersale.playbooks.schema import Play, Playbook

__all__ = [
    "CONSENT_SCHEMA",
    "PassInputs",
    "PassResult",
    "PolicyState",
    "customer_frame",
    "decide",
    "empty_state",
]

_UTC = pl.Datetime("us", "UTC")
CONSENT_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "customer_id": pl.String,
    "channel": pl.String,
    "purpose": pl.String,
    "status": pl.String,
}
ALWAYS_REACHABLE = ("in_app", "webhook")
"""Channels that need no address of the customer (the shop's own app and systems)."""


@dataclass(frozen=True)
class PassInputs:
    """Facts for one pass: triggers that fired, customer facts, consents, awaited events."""

    entries: pl.DataFrame
    facts: pl.DataFrame
    consents: pl.DataFrame
    waited: pl.DataFrame

    @classmethod
    def empty(cls) -> PassInputs:
        """No facts at all (nothing fires, nobody known)."""
        return cls(
            pl.DataFrame(schema=ENTRY_SCHEMA),
            pl.DataFrame(schema={"customer_id": pl.String}),
            pl.DataFrame(schema=CONSENT_SCHEMA),
            pl.DataFrame(schema=WAIT_SCHEMA),
        )


@dataclass(frozen=True)
class PolicyState:
    """What earlier passes left: the journeys and the decisions (the gates' history)."""

    journeys: pl.DataFrame
    history: pl.DataFrame


def empty_state() -> PolicyState:
    """The state before the first pass."""
    return PolicyState(pl.DataFrame(schema=JOURNEY_SCHEMA), pl.DataFrame(schema=HISTORY_SCHEMA))


@dataclass(frozen=True)
class PassResult:
    """One pass: new decisions, the journeys it started or moved, and entries refused."""

    as_of: datetime
    decisions: pl.DataFrame
    journeys: pl.DataFrame
    not_entered: pl.DataFrame

    def counts(self) -> dict[str, int]:
        """Decisions by outcome, plus journeys started, finished and refused entries."""
        out = dict.fromkeys(("send", "defer", "suppress"), 0)
        for outcome, n in self.decisions.group_by("outcome").len().iter_rows():
            out[str(outcome)] = int(n)
        out["journeys_touched"] = len(self.journeys)
        out["journeys_exited"] = int((self.journeys["status"] == "exited").sum())
        out["not_entered"] = len(self.not_entered)
        return out

    def history_rows(self) -> pl.DataFrame:
        """The decisions as history rows for the next pass's gates."""
        return self.decisions.select(
            "idempotency_key", "customer_id", "play_id", "occurrence", "channel", "purpose",
            "outcome", at=pl.lit(ensure_utc(self.as_of), _UTC),
        ).cast(HISTORY_SCHEMA)  # type: ignore[arg-type]  # fmt: skip


def customer_frame(facts: pl.DataFrame, consents: pl.DataFrame) -> pl.DataFrame:
    """Facts plus one consent column per (channel, purpose) and reachability per channel."""
    frame = facts
    for channel in CHANNELS:
        for purpose in ("marketing", "transactional"):
            mine = consents.filter(
                (pl.col("channel") == channel) & (pl.col("purpose") == purpose)
            ).select("customer_id", pl.col("status").alias(f"consent_{channel}_{purpose}"))
            frame = frame.join(mine.unique("customer_id"), on="customer_id", how="left")
    email = pl.col("email") if "email" in frame.columns else pl.lit(None, pl.String)
    phone = pl.col("phone") if "phone" in frame.columns else pl.lit(None, pl.String)
    return frame.with_columns(
        reachable_email=email.is_not_null() & (email != ""),
        reachable_sms=phone.is_not_null() & (phone != ""),
        reachable_push=pl.lit(False),
        **{f"reachable_{c}": pl.lit(True) for c in ALWAYS_REACHABLE},
    )


def _play_table(plays: list[Play]) -> pl.DataFrame:
    rows = []
    for play in plays:
        rows.append(
            {
                "play_id": play.id,
                "purpose": play.purpose,
                "goal": play.goal,
                "priority": play.priority,
                "channels": list(play.channels),
                "holdout": play.holdout,
                "variants": [v.id for v in play.variants],
                "variant_weights": [v.weight for v in play.variants],
            }
        )
    return pl.DataFrame(
        rows,
        schema={k: CANDIDATE_SCHEMA[k] for k in (
            "play_id", "purpose", "goal", "priority", "channels", "holdout", "variants",
            "variant_weights")},
    )  # fmt: skip


def _candidates(sends: pl.DataFrame, plays: list[Play]) -> pl.DataFrame:
    matched = pl.concat_str(
        pl.col("trigger"), pl.lit(" at "), pl.col("entered_at").dt.strftime("%Y-%m-%d %H:%M"),
        pl.lit("; audience: "), pl.col("evidence").fill_null("everyone"),
        pl.when(pl.col("path") != "").then(pl.concat_str(pl.lit("; path: "), pl.col("path")))
        .otherwise(pl.lit("")),
    )  # fmt: skip
    frame = sends.join(_play_table(plays), on="play_id", how="inner").select(
        "customer_id",
        "play_id",
        step_id=pl.col("send_step"),
        occurrence="occurrence",
        journey_id="journey_id",
        due_at=pl.col("send_due_at"),
        order_id="order_id",
        product_id="product_id",
        purpose="purpose",
        goal="goal",
        priority="priority",
        channels="channels",
        holdout="holdout",
        variants="variants",
        variant_weights="variant_weights",
        matched=matched,
    )
    return frame.cast(CANDIDATE_SCHEMA)  # type: ignore[arg-type]


def decide(
    inputs: PassInputs,
    playbook: Playbook,
    state: PolicyState,
    policy: Policy,
    as_of: datetime,
) -> PassResult:
    """One pass at ``as_of``: start journeys, advance them, gate the sends they reach."""
    moment = ensure_utc(as_of)
    plays = [p for p in playbook.plays if p.enabled]
    known = {p.id for p in plays}
    program = instruction_table(plays)
    conditions = condition_columns(plays, policy)
    customers = customer_frame(inputs.facts, inputs.consents)
    missing = [c for c in (*conditions.values(), *policy.promotion_blockers)
               if c not in customers.columns]  # fmt: skip
    customers = customers.with_columns(pl.lit(None, pl.Boolean).alias(c) for c in missing)
    entries = inputs.entries.filter(pl.col("play_id").is_in(list(known)))
    started, refused = start(entries, state.journeys, plays, moment)
    active = state.journeys.filter(
        (pl.col("status") == "active") & pl.col("play_id").is_in(list(known))
    )
    journeys = pl.concat([active, started], how="vertical")
    touched, sends = advance(journeys, program, customers, inputs.waited, plays, conditions, moment)
    # journeys started in this pass but not yet due stay as they started
    unmoved = started.join(touched.select("journey_id"), on="journey_id", how="anti")
    touched = pl.concat([touched, unmoved], how="vertical")
    candidates = _candidates(sends, plays)
    decisions = apply_gates(candidates, customers, state.history, policy, moment)
    return PassResult(
        moment,
        decisions.select(DECISION_COLUMNS),
        touched.sort("journey_id").cast(JOURNEY_SCHEMA),  # type: ignore[arg-type]
        refused.sort("customer_id", "play_id", "occurrence").cast(NOT_ENTERED_SCHEMA),  # type: ignore[arg-type]
    )
