"""Why a customer got what they got, and why not each other play.

A play's audience is split into parts — each listed segment and each top-level ``AND`` term
of its ``where`` test — and every part is evaluated for the customer with the same compiled
SQL the batch pass uses. A play the customer fails on exactly one part is a near miss and is
explained in words ("health is yellow; audience needs green").
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import ibis
import ibis.expr.types as ir
from sqlglot import expressions as exp

from aftersale.playbooks.compile import compile_condition
from aftersale.playbooks.conditions import parse_condition
from aftersale.playbooks.schema import ChangeTrigger, EventTrigger, Play, TimeTrigger

__all__ = [
    "AudienceCheck",
    "PlayVerdict",
    "audience_checks",
    "evaluate",
    "judge_plays",
    "one_customer",
    "trigger_text",
]

_NOT_NULL = re.compile(r"^NOT (\w+) IS NULL$")
_SEGMENT_PARTS = (
    ("lifecycle", "lifecycle", "lifecycle"),
    ("rfm_cells", "rfm_cell", "RFM cell"),
    ("value_tiers", "value_tier", "value tier"),
    ("personas", "persona", "persona"),
    ("slices", "slice", "slice"),
    ("health", "health_grade", "health"),
)


@dataclass(frozen=True)
class AudienceCheck:
    """One part of a play's audience and whether the customer meets it."""

    label: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class PlayVerdict:
    """Where one customer stands with one play."""

    play_id: str
    priority: int
    checks: list[AudienceCheck] = field(default_factory=list)

    @property
    def failed(self) -> list[AudienceCheck]:
        """The parts of the audience the customer does not meet."""
        return [c for c in self.checks if not c.ok]

    @property
    def in_audience(self) -> bool:
        """True when every part holds."""
        return not self.failed


def _conjuncts(text: str) -> list[str]:
    tree = parse_condition(text).tree
    parts: list[exp.Expression] = []

    def split(node: exp.Expression) -> None:
        while isinstance(node, exp.Paren):
            node = node.this
        if isinstance(node, exp.And):
            split(node.left)
            split(node.right)
        else:
            parts.append(node)

    split(tree)
    return [_NOT_NULL.sub(r"\1 IS NOT NULL", p.sql(dialect="duckdb")) for p in parts]


def audience_checks(play: Play, table: ir.Table) -> dict[str, ir.BooleanValue]:
    """Every audience part of ``play`` as a boolean column over ``table`` (label → test)."""
    tests: dict[str, ir.BooleanValue] = {}
    for field_name, column, _ in _SEGMENT_PARTS:
        values = list(getattr(play.audience, field_name))
        if values:
            tests[f"{column} in {values}"] = table[column].isin(values).fill_null(False)
    if play.audience.where:
        for part in _conjuncts(play.audience.where):
            tests[part] = compile_condition(part, table)
    return tests


def _value(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, float):
        return f"{value:.3g}"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return str(value)


def _detail(label: str, ok: bool, row: Mapping[str, Any]) -> str:
    for _, column, words in _SEGMENT_PARTS:
        if label.startswith(f"{column} in "):
            wanted = label[len(column) + 4 :].strip("[]").replace("'", "")
            verb = "is in" if ok else "needs"
            return f"{words} is {_value(row.get(column))}; audience {verb} {wanted}"
    names = sorted(parse_condition(label).names)
    values = ", ".join(f"{n}={_value(row.get(n))}" for n in names)
    return f"{label} {'holds' if ok else 'does not hold'} ({values})"


def judge_plays(
    plays: Iterable[Play], row: Mapping[str, Any], results: Mapping[str, Mapping[str, bool]]
) -> list[PlayVerdict]:
    """Verdicts per play from the evaluated parts (``results[play_id][label]``)."""
    out = []
    for play in plays:
        checks = [
            AudienceCheck(label, bool(ok), _detail(label, bool(ok), row))
            for label, ok in results.get(play.id, {}).items()
        ]
        out.append(PlayVerdict(play.id, play.priority, checks))
    return out


def evaluate(plays: Iterable[Play], table: ir.Table) -> dict[str, dict[str, bool]]:
    """Evaluate every play's audience parts on a one-customer table in one query."""
    names: dict[str, tuple[str, str]] = {}
    columns: dict[str, ir.BooleanValue] = {}
    for play in plays:
        for label, test in audience_checks(play, table).items():
            key = f"c{len(columns)}"
            names[key] = (play.id, label)
            columns[key] = test
    if not columns:
        return {}
    row = table.select(**columns).limit(1).to_pyarrow().to_pylist()
    values = row[0] if row else dict.fromkeys(columns, False)
    out: dict[str, dict[str, bool]] = {p.id: {} for p in plays}
    for key, (play_id, label) in names.items():
        out.setdefault(play_id, {})[label] = bool(values[key])
    return out


def trigger_text(play: Play, row: Mapping[str, Any]) -> str:
    """The play's trigger in words, with the customer's value where it has one."""
    trigger = play.trigger
    if isinstance(trigger, TimeTrigger):
        base = row.get(trigger.after)
        return f"{trigger.after} {trigger.offset} (the customer's {trigger.after}: {_value(base)})"
    if isinstance(trigger, EventTrigger):
        where = "".join(f" with {k}={v}" for k, v in sorted(trigger.where.items()))
        return f"event {trigger.event}{where}"
    if isinstance(trigger, ChangeTrigger):
        now = row.get(trigger.of)
        return f"{trigger.of} changing to {', '.join(trigger.to)} (now {_value(now)})"
    return type(trigger).__name__


def one_customer(table: ir.Table, customer_id: str) -> ir.Table:
    """The snapshot row of one customer."""
    return table.filter(table.customer_id == ibis.literal(customer_id))
