"""Journeys: a customer's way through one play, advanced for every customer at once.

A journey is a position in its play's flat program (:mod:`aftersale.decisions.program`) with
the time its current step falls due. Each pass first starts new journeys from the triggers
that fired (applying the play's re-entry rule), then advances every due journey instruction
by instruction, all journeys together, until each one is parked: waiting for a time in the
future, waiting for an event that has not come, or finished. Exit conditions are checked
before every step. Sends reached on the way become the pass's candidates for the gates.

Pure functions over polars frames; the state store persists the journeys between passes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime

import polars as pl

from aftersale.clock import ensure_utc
from aftersale.playbooks.schema import EveryDays, OncePerOrder, Play

__all__ = [
    "JOURNEY_SCHEMA",
    "NOT_ENTERED_SCHEMA",
    "advance",
    "journey_id",
    "start",
]

_UTC = pl.Datetime("us", "UTC")
JOURNEY_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "journey_id": pl.String,
    "customer_id": pl.String,
    "play_id": pl.String,
    "occurrence": pl.String,
    "order_id": pl.String,
    "product_id": pl.String,
    "entered_at": _UTC,
    "trigger": pl.String,
    "evidence": pl.String,
    "pc": pl.Int64,
    "step_id": pl.String,
    "due_at": _UTC,
    "waiting_since": _UTC,
    "status": pl.String,
    "exit_reason": pl.String,
    "path": pl.String,
    "updated_at": _UTC,
}
NOT_ENTERED_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "customer_id": pl.String,
    "play_id": pl.String,
    "occurrence": pl.String,
    "triggered_at": _UTC,
    "reason": pl.String,
}


def journey_id(customer_id: str, play_id: str, occurrence: str) -> str:
    """A journey's identity: one per (customer, play, occurrence)."""
    text = "\x1f".join(("journey", customer_id, play_id, occurrence))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _rules(plays: Iterable[Play]) -> pl.DataFrame:
    rows = []
    for play in plays:
        rule = play.reentry
        days = rule.days if isinstance(rule, EveryDays) else None
        rows.append((play.id, rule.kind, days, isinstance(rule, OncePerOrder)))
    return pl.DataFrame(
        rows,
        schema={"play_id": pl.String, "_rule": pl.String, "_days": pl.Int64, "_per_order": bool},
        orient="row",
    )


def start(
    entries: pl.DataFrame,
    journeys: pl.DataFrame,
    plays: Iterable[Play],
    as_of: datetime,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """New journeys from ``entries`` under each play's re-entry rule, and the entries refused.

    An entry whose (customer, play, occurrence) already has a journey is simply already in
    (re-running a pass starts nothing new). Otherwise: ``once_ever`` refuses anyone who has
    had a journey in the play; ``every`` refuses within N days of the last entry; and, except
    for ``once_per_order``, a customer still inside the play is not started again. Several
    entries of one customer into one play in the same pass start only the earliest, unless
    the rule is once per order.
    """
    moment = ensure_utc(as_of)
    if entries.is_empty():
        return pl.DataFrame(schema=JOURNEY_SCHEMA), pl.DataFrame(schema=NOT_ENTERED_SCHEMA)
    rules = _rules(plays)
    cands = (
        entries.sort("triggered_at", "occurrence")
        .unique(["customer_id", "play_id", "occurrence"], keep="first", maintain_order=True)
        .with_columns(
            journey_id=pl.Series(
                [journey_id(*r) for r in entries.sort("triggered_at", "occurrence")
                 .unique(["customer_id", "play_id", "occurrence"], keep="first",
                         maintain_order=True)
                 .select("customer_id", "play_id", "occurrence").iter_rows()],
                dtype=pl.String,
            )
        )
        .join(rules, on="play_id", how="left")
    )  # fmt: skip
    known = set(journeys["journey_id"].to_list()) if len(journeys) else set()
    cands = cands.filter(~pl.col("journey_id").is_in(list(known)))
    before = journeys.group_by("customer_id", "play_id").agg(
        _had=pl.len(),
        _last_entry=pl.col("entered_at").max(),
        _active_since=pl.col("entered_at").filter(pl.col("status") == "active").min(),
    )
    cands = cands.join(before, on=["customer_id", "play_id"], how="left").with_columns(
        _had=pl.col("_had").fill_null(0),
        _rank=pl.int_range(pl.len()).over("customer_id", "play_id"),
    )
    days_since = (pl.lit(moment) - pl.col("_last_entry")).dt.total_seconds() / 86_400.0
    once = (pl.col("_rule") == "once_ever") & (pl.col("_had") > 0)
    every = (pl.col("_rule") == "every") & (pl.col("_had") > 0) & (days_since < pl.col("_days"))
    inside = ~pl.col("_per_order") & pl.col("_active_since").is_not_null()
    reason = (
        pl.when((pl.col("_rank") > 0) & ~pl.col("_per_order"))
        .then(pl.lit("an earlier trigger in this pass started the play"))
        .when(once)
        .then(pl.lit("already entered once (re-entry: once ever)"))
        .when(every)
        .then(
            pl.concat_str(
                pl.lit("entered "),
                days_since.fill_null(0).round(0).cast(pl.Int64).cast(pl.String),
                pl.lit(" days ago (re-entry: every "),
                pl.col("_days").cast(pl.String),
                pl.lit(" days)"),
            )
        )
        .when(inside)
        .then(
            pl.concat_str(
                pl.lit("still in the play since "),
                pl.col("_active_since").dt.strftime("%Y-%m-%d"),
            )
        )
        .otherwise(None)
    )
    cands = cands.with_columns(_refused=reason)
    refused = cands.filter(pl.col("_refused").is_not_null()).select(
        "customer_id", "play_id", "occurrence", "triggered_at", reason=pl.col("_refused")
    )
    started = cands.filter(pl.col("_refused").is_null()).select(
        "journey_id",
        "customer_id",
        "play_id",
        "occurrence",
        "order_id",
        "product_id",
        entered_at=pl.col("triggered_at"),
        trigger="trigger",
        evidence=pl.col("evidence") if "evidence" in cands.columns else pl.lit(None, pl.String),
        pc=pl.lit(0, pl.Int64),
        step_id=pl.lit(None, pl.String),
        due_at=pl.col("triggered_at"),
        waiting_since=pl.lit(None, _UTC),
        status=pl.lit("active"),
        exit_reason=pl.lit(None, pl.String),
        path=pl.lit("", pl.String),
        updated_at=pl.lit(moment, _UTC),
    )
    return started.cast(JOURNEY_SCHEMA), refused.cast(NOT_ENTERED_SCHEMA)  # type: ignore[arg-type]


# -- advancing ---------------------------------------------------------------------------------
def _exit_reason(plays: list[Play], conditions: dict[str, str]) -> pl.Expr:
    """The first exit condition of the journey's play that holds, as text (else null)."""
    reason: pl.Expr = pl.lit(None, pl.String)
    for play in reversed(plays):
        mine = pl.col("play_id") == play.id
        for name in reversed(play.exit_when):
            if name == "bought_again":
                hit = pl.col("last_order_at") > pl.col("entered_at")
                text: pl.Expr = pl.concat_str(
                    pl.lit("bought again on "), pl.col("last_order_at").dt.strftime("%Y-%m-%d")
                )
            elif name == "refunded":
                hit = pl.col("last_refund_at") > pl.col("entered_at")
                text = pl.concat_str(
                    pl.lit("refund or refund request on "),
                    pl.col("last_refund_at").dt.strftime("%Y-%m-%d"),
                )
            elif name == "unsubscribed":
                hit = pl.lit(True)
                for channel in play.channels:
                    status = pl.col(f"consent_{channel}_{play.purpose}")
                    hit = hit & (status == "opt_out")
                text = pl.lit(f"opted out of {play.purpose} on {', '.join(play.channels)}")
            elif name == "grade_red":
                hit = pl.col("health_grade") == "red"
                text = pl.lit("health turned Red")
            elif name == "grade_not_green":
                hit = pl.col("health_grade").fill_null("unknown") != "green"
                text = pl.concat_str(
                    pl.lit("health is "), pl.col("health_grade").fill_null("unknown"),
                    pl.lit(", no longer Green"),
                )  # fmt: skip
            else:
                hit = pl.col(conditions[name])
                text = pl.lit(f"exit condition holds: {name}")
            reason = pl.when(mine & hit.fill_null(False)).then(text).otherwise(reason)
    return reason


def _branch_value(conditions: dict[str, str]) -> pl.Expr:
    value: pl.Expr = pl.lit(False)
    for text, column in conditions.items():
        value = pl.when(pl.col("condition") == text).then(pl.col(column)).otherwise(value)
    return value.fill_null(False)


def _arrivals(ready: pl.DataFrame, waited: pl.DataFrame, as_of: datetime) -> pl.DataFrame:
    """Earliest awaited event per waiting journey (matching its order or product if asked)."""
    waiting = ready.filter(pl.col("kind") == "wait_until").select(
        "journey_id", "customer_id", "play_id", "step_id_now", "match", "order_id",
        "product_id", since=pl.col("waiting_since").fill_null(pl.col("due_at")),
    )  # fmt: skip
    if waiting.is_empty() or waited.is_empty():
        return pl.DataFrame(schema={"journey_id": pl.String, "_arrived": _UTC})
    hits = waiting.join(
        waited.rename({"order_id": "_ev_order", "product_id": "_ev_product"}),
        left_on=["customer_id", "play_id", "step_id_now"],
        right_on=["customer_id", "play_id", "step_id"],
    ).filter(
        (pl.col("occurred_at") >= pl.col("since"))
        & (pl.col("occurred_at") < as_of)
        & (
            (pl.col("match") == "none")
            | ((pl.col("match") == "order") & (pl.col("_ev_order") == pl.col("order_id")))
            | ((pl.col("match") == "product") & (pl.col("_ev_product") == pl.col("product_id")))
        ).fill_null(False)
    )
    return hits.group_by("journey_id").agg(_arrived=pl.col("occurred_at").min())


def advance(
    journeys: pl.DataFrame,
    program: pl.DataFrame,
    facts: pl.DataFrame,
    waited: pl.DataFrame,
    plays: list[Play],
    conditions: dict[str, str],
    as_of: datetime,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Advance every due journey as far as it can go at ``as_of``.

    Returns the journeys touched (their new state) and the sends reached, one row per
    (journey, send step) with the time it fell due and the branch path taken.
    """
    moment = ensure_utc(as_of)
    empty_sends = pl.DataFrame(
        schema={**JOURNEY_SCHEMA, "send_step": pl.String, "send_due_at": _UTC}
    )
    live = journeys.filter(
        (pl.col("status") == "active")
        & ((pl.col("due_at") < moment) | pl.col("waiting_since").is_not_null())
    )
    if live.is_empty():
        return journeys.clear(), empty_sends
    keep = list(JOURNEY_SCHEMA)
    work = live.join(facts, on="customer_id", how="left")
    for column in ("last_order_at", "last_refund_at"):
        if column not in work.columns:
            work = work.with_columns(pl.lit(None, _UTC).alias(column))
    fact_cols = [c for c in work.columns if c not in keep]
    exit_reason = _exit_reason(plays, conditions)
    parked: list[pl.DataFrame] = []
    sends: list[pl.DataFrame] = []
    longest = int(program.group_by("play_id").len()["len"].cast(pl.Int64).max() or 0)  # type: ignore[arg-type]
    for _ in range(longest + 1):
        if work.is_empty():
            break
        work = work.join(
            program.rename({"step_id": "step_id_now"}), on=["play_id", "pc"], how="left"
        ).with_columns(_exit=exit_reason)
        arrived = _arrivals(work, waited, moment)
        work = work.join(arrived, on="journey_id", how="left")
        deadline = pl.col("waiting_since").fill_null(pl.col("due_at")) + pl.duration(
            seconds=pl.col("seconds")
        )
        kind = pl.col("kind")
        exiting = pl.col("_exit").is_not_null()
        timed_out = (kind == "wait_until") & pl.col("_arrived").is_null() & (deadline <= moment)
        waiting = (kind == "wait_until") & pl.col("_arrived").is_null() & (deadline > moment)
        branch_then = _branch_value(conditions)
        work = work.with_columns(
            _was_send=~exiting & (kind == "send"),
            status=pl.when(exiting).then(pl.lit("exited"))
            .when(kind.is_in(["end", "exit"])).then(pl.lit("done"))
            .when(timed_out & pl.col("exit_on_timeout")).then(pl.lit("exited"))
            .otherwise(pl.col("status")),
            exit_reason=pl.when(exiting).then(pl.col("_exit"))
            .when(kind == "exit").then(pl.concat_str(pl.lit("exit step "), pl.col("step_id_now")))
            .when(kind == "end").then(pl.lit("finished"))
            .when(timed_out & pl.col("exit_on_timeout")).then(pl.concat_str(
                pl.col("event"), pl.lit(" did not come in time")))
            .otherwise(pl.col("exit_reason")),
            _next_pc=pl.when(kind == "branch").then(
                pl.when(branch_then).then(pl.col("next")).otherwise(pl.col("alt")))
            .when(kind.is_in(["send", "wait"])).then(pl.col("next"))
            .when((kind == "wait_until") & (pl.col("_arrived").is_not_null() | timed_out))
            .then(pl.col("next"))
            .otherwise(pl.col("pc")),
            _next_due=pl.when(kind == "wait").then(
                pl.col("due_at") + pl.duration(seconds=pl.col("seconds")))
            .when((kind == "wait_until") & pl.col("_arrived").is_not_null())
            .then(pl.col("_arrived"))
            .when(kind == "wait_until").then(deadline)
            .otherwise(pl.col("due_at")),
            _step=pl.when(kind == "branch").then(pl.concat_str(
                pl.col("step_id_now"), pl.lit(":"),
                pl.when(branch_then).then(pl.lit("then")).otherwise(pl.lit("otherwise"))))
            .when((kind == "wait_until") & pl.col("_arrived").is_not_null())
            .then(pl.concat_str(pl.col("step_id_now"), pl.lit(":arrived")))
            .when(timed_out).then(pl.concat_str(pl.col("step_id_now"), pl.lit(":timeout")))
            .when(kind.is_in(["send", "wait"])).then(pl.col("step_id_now"))
            .otherwise(None),
            _waiting=waiting,
            _waiting_since=pl.when(waiting).then(
                pl.col("waiting_since").fill_null(pl.col("due_at"))).otherwise(None),
        )  # fmt: skip
        work = work.with_columns(pl.col("status").cast(pl.String))
        reached = work.filter(pl.col("_was_send") & (pl.col("status") == "active"))
        if not reached.is_empty():
            sends.append(
                reached.select(
                    *keep[:-1],
                    updated_at=pl.lit(moment, _UTC),
                    send_step=pl.col("step_id_now"),
                    send_due_at=pl.col("due_at"),
                )
            )
        work = work.with_columns(
            path=pl.when(pl.col("_step").is_not_null() & (pl.col("status") == "active"))
            .then(pl.when(pl.col("path") == "").then(pl.col("_step"))
                  .otherwise(pl.concat_str(pl.col("path"), pl.lit(" > "), pl.col("_step"))))
            .otherwise(pl.col("path")),
            step_id=pl.when(pl.col("status") == "active").then(pl.col("step_id_now"))
            .otherwise(pl.col("step_id")),
            pc=pl.col("_next_pc"),
            due_at=pl.col("_next_due"),
            waiting_since=pl.col("_waiting_since"),
            updated_at=pl.lit(moment, _UTC),
        )  # fmt: skip
        stop = (pl.col("status") != "active") | pl.col("_waiting") | (pl.col("due_at") >= moment)
        done = work.filter(stop)
        parked.append(done.select(keep))
        work = work.filter(~stop).select(*keep, *fact_cols)
    if not work.is_empty():  # only possible with a cycle, which compile_play cannot produce
        raise RuntimeError("journeys did not settle; the play program has a cycle")
    touched = pl.concat(parked, how="vertical") if parked else journeys.clear()
    out_sends = pl.concat(sends, how="vertical") if sends else empty_sends
    return touched.cast(JOURNEY_SCHEMA), out_sends  # type: ignore[arg-type]
