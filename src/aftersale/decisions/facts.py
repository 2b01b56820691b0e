"""What the engine needs to know, gathered with set-based queries on the warehouse.

Nothing here loops over customers: each function builds one Ibis expression (compiled to the
warehouse's SQL) whose result is a polars frame for the pure engine
(:mod:`aftersale.decisions.engine`).

- :func:`entries` — who enters which play now: the play's trigger (an event in the window, a
  timestamp feature plus an offset falling in the window, or a segment change between two
  snapshots) joined with the snapshot and filtered by the play's audience;
- :func:`customer_facts` — for the customers involved, the columns the journeys and gates read:
  every branch and exit condition as a boolean column, the policy's promotion blockers, the
  health grade, contact reachability, time zone, and the last order and refund times;
- :func:`waited_events` — the events journeys are waiting for (``wait_until`` steps).

Time is point in time throughout: only rows stamped before ``as_of`` are read, and the window
of a pass is ``[since, as_of)``, where ``since`` is the ``as_of`` of the previous pass.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import ibis
import ibis.expr.types as ir
import polars as pl

from aftersale.clock import ensure_utc
from aftersale.decisions.policy import Policy
from aftersale.features.sources import PURCHASE_STATUSES, json_text
from aftersale.playbooks.compile import audience_filter, compile_condition
from aftersale.playbooks.conditions import parse_condition
from aftersale.playbooks.schema import (
    EXIT_SHORTCUTS,
    BranchStep,
    ChangeTrigger,
    EventTrigger,
    Play,
    TimeTrigger,
    WaitUntilStep,
    parse_duration,
)

__all__ = [
    "ENTRY_SCHEMA",
    "ORDER_COMPLETED",
    "WAIT_SCHEMA",
    "Tables",
    "audience_names",
    "condition_columns",
    "customer_facts",
    "entries",
    "evidence",
    "waited_events",
]

ORDER_COMPLETED = "Order Completed"
"""Orders are stored as orders, not events; this event name reads them from the orders table."""

REFUND_REQUESTED = "Refund Requested"

ENTRY_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "customer_id": pl.String,
    "play_id": pl.String,
    "occurrence": pl.String,
    "triggered_at": pl.Datetime("us", "UTC"),
    "order_id": pl.String,
    "product_id": pl.String,
    "trigger": pl.String,
    "evidence": pl.String,
}
WAIT_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "customer_id": pl.String,
    "play_id": pl.String,
    "step_id": pl.String,
    "occurred_at": pl.Datetime("us", "UTC"),
    "order_id": pl.String,
    "product_id": pl.String,
}
_TS = "timestamp('UTC')"


@dataclass(frozen=True)
class Tables:
    """The warehouse tables one pass reads.

    ``snapshot`` is features joined with segments at ``as_of`` (one row per customer);
    ``previous`` the segment snapshot the last pass saw (for change triggers), if any.
    """

    snapshot: ir.Table
    customers: ir.Table
    orders: ir.Table
    events: ir.Table
    previous: ir.Table | None = None


def _moment(value: datetime) -> ir.TimestampScalar:
    return ibis.literal(ensure_utc(value), type=_TS)


def _only(table: ir.Table, ids: ir.Table | None) -> ir.Table:
    """``table`` restricted to the customers in ``ids`` (a one-column table), if given."""
    if ids is None:
        return table
    return table.semi_join(ids, table.customer_id == ids.customer_id)


def _event_rows(
    tables: Tables,
    name: str,
    where: dict[str, str | int | float | bool],
    start: datetime | None,
    as_of: datetime,
    ids: ir.Table | None,
) -> ir.Table:
    """(customer_id, occurred_at, order_id, product_id, key) of the named event in the window."""
    end = _moment(as_of)
    if name == ORDER_COMPLETED and not where:
        o = _only(tables.orders, ids)
        o = o.filter(o.customer_id.notnull(), o.ordered_at < end, o.status.isin(PURCHASE_STATUSES))
        if start is not None:
            o = o.filter(o.ordered_at >= _moment(start))
        return o.select(
            "customer_id",
            occurred_at=o.ordered_at,
            order_id=o.order_id,
            product_id=ibis.null().cast("string"),
            key=o.order_id,
        )
    e = _only(tables.events, ids)
    e = e.filter(e.event == name, e.customer_id.notnull(), e.occurred_at < end)
    if start is not None:
        e = e.filter(e.occurred_at >= _moment(start))
    for prop, value in sorted(where.items()):
        text = str(value).lower() if isinstance(value, bool) else str(value)
        e = e.filter(json_text(e.properties, prop) == text)
    return e.select(
        "customer_id",
        occurred_at=e.occurred_at,
        order_id=e.order_id,
        product_id=json_text(e.properties, "product_id"),
        key=e.event_key,
    )


def _window_start(since: datetime | None, as_of: datetime, within: str | None) -> datetime:
    """Start of a trigger window: the previous pass, at most ``within`` back (1 day at first)."""
    reach = ensure_utc(as_of) - (parse_duration(within) if within else timedelta(days=1))
    if since is None:
        return reach
    return max(ensure_utc(since), reach) if within else ensure_utc(since)


def _trigger_rows(
    play: Play,
    tables: Tables,
    since: datetime | None,
    as_of: datetime,
    ids: ir.Table | None,
) -> ir.Table | None:
    trigger = play.trigger
    snap = tables.snapshot
    null_text = ibis.null().cast("string")
    if isinstance(trigger, EventTrigger):
        start = _window_start(since, as_of, trigger.within)
        rows = _event_rows(tables, trigger.event, trigger.where, start, as_of, ids)
        label = f"event {trigger.event}" + "".join(
            f" {k}={v}" for k, v in sorted(trigger.where.items())
        )
        return rows.select(
            "customer_id",
            occurrence=rows.order_id.fill_null(rows.key),
            triggered_at=rows.occurred_at,
            order_id=rows.order_id,
            product_id=rows.product_id,
            trigger=ibis.literal(label),
        )
    if isinstance(trigger, TimeTrigger):
        start = _window_start(since, as_of, None)
        offset = parse_duration(trigger.offset, allow_negative=True)
        rows = _only(snap, ids)
        at = rows[trigger.after] + ibis.interval(seconds=int(offset.total_seconds()))
        rows = rows.filter(at >= _moment(start), at < _moment(as_of))
        return rows.select(
            "customer_id",
            occurrence=ibis.literal(f"{trigger.after}@")
            + rows[trigger.after].cast("date").cast("string"),
            triggered_at=at.cast(_TS),
            order_id=null_text,
            product_id=null_text,
            trigger=ibis.literal(f"time {trigger.after} {trigger.offset}"),
        )
    if isinstance(trigger, ChangeTrigger):
        if tables.previous is None:
            return None
        now = _only(snap, ids).select("customer_id", _now=snap[trigger.of])
        before = tables.previous.select("customer_id", _before=tables.previous[trigger.of])
        joined = now.join(before, "customer_id")
        moved = (joined._now != joined._before) & joined._now.isin(trigger.to)
        if trigger.from_:
            moved &= joined._before.isin(trigger.from_)
        rows = joined.filter(moved)
        return rows.select(
            "customer_id",
            occurrence=ibis.literal(f"{trigger.of}:") + rows._before + "->" + rows._now
            + "@" + ibis.literal(ensure_utc(as_of).date().isoformat()),
            triggered_at=_moment(as_of),
            order_id=null_text,
            product_id=null_text,
            trigger=ibis.literal(f"{trigger.of} changed: ") + rows._before + " -> " + rows._now,
        )  # fmt: skip
    raise TypeError(f"unknown trigger {type(trigger).__name__}")


_AUDIENCE_COLUMNS = (
    ("lifecycle", "lifecycle"),
    ("rfm_cells", "rfm_cell"),
    ("value_tiers", "value_tier"),
    ("personas", "persona"),
    ("slices", "slice"),
    ("health", "health_grade"),
)


def audience_names(play: Play) -> list[str]:
    """Snapshot columns the play's audience reads, in a stable order."""
    names = [column for field, column in _AUDIENCE_COLUMNS if getattr(play.audience, field)]
    if play.audience.where:
        names += sorted(parse_condition(play.audience.where).names - set(names))
    return names


def evidence(play: Play, snapshot: ir.Table) -> ir.StringValue:
    """``name=value`` for every column the play's audience reads (the values that matched)."""
    schema = snapshot.schema()
    parts: list[ir.StringValue] = []
    for name in audience_names(play):
        column = snapshot[name]
        if schema[name].is_floating():
            column = column.round(3)
        text = column.cast("string").fill_null("null")
        parts.append(ibis.literal(f"{name}=") + text)
    if not parts:
        return ibis.literal("everyone")
    out = parts[0]
    for part in parts[1:]:
        out = out + ", " + part
    return out


def entries(
    plays: Iterable[Play],
    tables: Tables,
    since: datetime | None,
    as_of: datetime,
    ids: ir.Table | None = None,
) -> ir.Table | None:
    """Every (customer, play) whose trigger fired in ``[since, as_of)`` and who is in the
    play's audience in the snapshot; None when no play can fire."""
    parts: list[ir.Table] = []
    for play in plays:
        if not play.enabled:
            continue
        rows = _trigger_rows(play, tables, since, as_of, ids)
        if rows is None:
            continue
        snap = tables.snapshot
        audience = snap.filter(audience_filter(play.audience, snap)).select(
            "customer_id", _evidence=evidence(play, snap)
        )
        rows = rows.join(audience, "customer_id")
        rows = rows.select(
            "customer_id",
            play_id=ibis.literal(play.id),
            occurrence=rows.occurrence.cast("string"),
            triggered_at=rows.triggered_at.cast(_TS),
            order_id=rows.order_id.cast("string"),
            product_id=rows.product_id.cast("string"),
            trigger=rows.trigger.cast("string"),
            evidence=rows._evidence,
        )
        parts.append(rows)
    if not parts:
        return None
    return ibis.union(*parts, distinct=False)


def condition_columns(plays: Iterable[Play], policy: Policy) -> dict[str, str]:
    """Column name for every distinct SQL condition of branches, exits and policy blockers."""
    texts: list[str] = []
    for play in plays:
        for step in play.walk_steps():
            if isinstance(step, BranchStep):
                texts.append(step.condition)
        texts.extend(e for e in play.exit_when if e not in EXIT_SHORTCUTS)
    texts.extend(policy.promotion_blockers.values())
    out: dict[str, str] = {}
    for text in texts:
        out.setdefault(text, f"cond_{len(out)}")
    return out


def customer_facts(
    plays: Iterable[Play],
    policy: Policy,
    tables: Tables,
    as_of: datetime,
    ids: ir.Table | None = None,
) -> ir.Table:
    """One row per involved customer: conditions as booleans and the columns gates read."""
    plays = list(plays)
    snap = tables.snapshot
    snap = _only(snap, ids)
    conditions = condition_columns(plays, policy)
    contacts = _only(tables.customers, ids).select("customer_id", "email", "phone", "time_zone")
    end = _moment(as_of)
    e = _only(tables.events, ids)
    refund_events = (
        e.filter(e.event == REFUND_REQUESTED, e.occurred_at < end, e.customer_id.notnull())
        .group_by("customer_id")
        .agg(_refund_event_at=lambda t: t.occurred_at.max())
    )
    o = _only(tables.orders, ids)
    refunds = (
        o.filter(o.refund_minor > 0, o.updated_at < end, o.customer_id.notnull())
        .group_by("customer_id")
        .agg(_refund_order_at=lambda t: t.updated_at.max())
    )
    columns = {name: compile_condition(text, snap) for text, name in conditions.items()}
    for flag, text in policy.promotion_blockers.items():
        columns[flag] = compile_condition(text, snap)
    base = snap.select("customer_id", "health_grade", "slice", "last_order_at", **columns)
    joined = (
        base.left_join(contacts, "customer_id")
        .left_join(refund_events, "customer_id")
        .left_join(refunds, "customer_id")
    )
    return joined.select(
        *list(base.columns),
        "email",
        "phone",
        "time_zone",
        last_refund_at=ibis.greatest(
            joined._refund_event_at.cast(_TS), joined._refund_order_at.cast(_TS)
        ),
    )


def waited_events(
    plays: Iterable[Play],
    tables: Tables,
    start: datetime | None,
    as_of: datetime,
    ids: ir.Table | None = None,
) -> ir.Table | None:
    """Events that ``wait_until`` steps wait for, in ``[start, as_of)``, tagged with the step."""
    parts: list[ir.Table] = []
    for play in plays:
        for step in play.walk_steps():
            if not isinstance(step, WaitUntilStep):
                continue
            rows = _event_rows(tables, step.event, step.where, start, as_of, ids)
            parts.append(
                rows.select(
                    "customer_id",
                    play_id=ibis.literal(play.id),
                    step_id=ibis.literal(step.id),
                    occurred_at=rows.occurred_at.cast(_TS),
                    order_id=rows.order_id.cast("string"),
                    product_id=rows.product_id.cast("string"),
                )
            )
    if not parts:
        return None
    return ibis.union(*parts, distinct=False)
