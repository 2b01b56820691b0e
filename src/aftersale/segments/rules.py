"""Signals: named conditions over features that build both the Ibis expression and the reason.

Every segment, slice score and health grade is made of signals, so one definition decides for a
million customers in the warehouse and explains one customer in plain words, and the two cannot
drift apart. Null values never match (as in SQL), in both forms.
"""

from __future__ import annotations

import math
import string
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal, cast

import ibis
import ibis.expr.types as ir
from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["Condition", "Signal", "format_reason", "matched", "points"]

Op = Literal[">=", ">", "<=", "<", "==", "!=", "is_null", "not_null", "in"]
_Strict = ConfigDict(extra="forbid", frozen=True)


class Condition(BaseModel):
    """``feature op value``: e.g. ``days_of_silence >= 21`` or ``first_win_at is_null``."""

    model_config = _Strict

    feature: str = Field(min_length=1)
    op: Op
    value: float | str | bool | list[str] | None = None

    @field_validator("value")
    @classmethod
    def _finite(cls, value: Any) -> Any:
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError("must be a finite number")
        return value

    def to_ibis(self, table: ir.Table) -> ir.BooleanValue:
        """The condition as a boolean column over ``table`` (null → False)."""
        column = table[self.feature]
        if self.op == "is_null":
            return column.isnull()
        if self.op == "not_null":
            return column.notnull()
        if self.op == "in":
            assert isinstance(self.value, list)
            return column.isin(self.value).fill_null(False)
        value = self.value
        compare = {
            ">=": column >= value,
            ">": column > value,
            "<=": column <= value,
            "<": column < value,
            "==": column == value,
            "!=": column != value,
        }[self.op]
        return compare.fill_null(False)

    def holds(self, row: Mapping[str, Any]) -> bool:
        """The same test on one customer's values."""
        value = row.get(self.feature)
        if _missing(value):
            return self.op == "is_null"
        if self.op == "is_null":
            return False
        if self.op == "not_null":
            return True
        if self.op == "in":
            assert isinstance(self.value, list)
            return value in self.value
        target: Any = self.value
        value = cast(Any, value)
        return bool(
            {
                ">=": lambda: value >= target,
                ">": lambda: value > target,
                "<=": lambda: value <= target,
                "<": lambda: value < target,
                "==": lambda: value == target,
                "!=": lambda: value != target,
            }[self.op]()
        )


class Signal(BaseModel):
    """A named piece of evidence: all ``when`` conditions hold; ``weight`` counts toward a score."""

    model_config = _Strict

    name: str = Field(min_length=1)
    when: list[Condition] = Field(min_length=1)
    weight: float = 1.0
    reason: str = Field(min_length=1, description="Plain words; {feature} shows its value.")

    def to_ibis(self, table: ir.Table) -> ir.BooleanValue:
        """True where every condition holds."""
        result = self.when[0].to_ibis(table)
        for condition in self.when[1:]:
            result &= condition.to_ibis(table)
        return result

    def holds(self, row: Mapping[str, Any]) -> bool:
        """The same test on one customer's values."""
        return all(c.holds(row) for c in self.when)

    def features(self) -> set[str]:
        """Features the signal reads (its conditions and its reason text)."""
        used = {c.feature for c in self.when}
        used |= {name for _, name, _, _ in string.Formatter().parse(self.reason) if name}
        return used


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


class _SafeFormatter(string.Formatter):
    """Plain ``{name}`` / ``{name:.0f}`` only: no attribute or index access from config text."""

    def get_field(self, field_name: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> Any:
        if not field_name.isidentifier():
            raise ValueError(f"only plain feature names may be used in reasons: {field_name!r}")
        return super().get_field(field_name, args, kwargs)

    def format_field(self, value: Any, format_spec: str) -> str:
        if _missing(value):
            return "none"
        if isinstance(value, float) and not format_spec:
            return f"{value:.1f}".rstrip("0").rstrip(".")
        try:
            return str(super().format_field(value, format_spec))
        except (TypeError, ValueError):
            return str(value)


_FORMATTER = _SafeFormatter()


def format_reason(template: str, row: Mapping[str, Any]) -> str:
    """Fill a reason template with one customer's values."""
    return str(_FORMATTER.vformat(template, (), dict(row)))


def matched(signals: Iterable[Signal], row: Mapping[str, Any]) -> list[tuple[Signal, str]]:
    """The signals that hold for ``row``, each with its filled reason."""
    return [(s, format_reason(s.reason, row)) for s in signals if s.holds(row)]


def points(signals: Sequence[Signal], table: ir.Table) -> ir.FloatingValue:
    """Sum of the weights of the signals that hold, as an Ibis column."""
    total: ir.FloatingValue = ibis.literal(0.0)
    for signal in signals:
        total = total + ibis.ifelse(signal.to_ibis(table), signal.weight, 0.0)
    return total
