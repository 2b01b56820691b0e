"""Compile playbook conditions and audiences into Ibis expressions over the customer table.

The decision engine finds candidates for every play with one set-based query per play on the
snapshot (features joined with segments), never a Python loop over customers. Conditions were
vetted by :mod:`aftersale.playbooks.conditions`; this module turns the same syntax tree into
Ibis, so the SQL a user writes runs on every backend Ibis supports. SQL's three-valued logic is
kept: a test on a missing value is not true, so a customer lacking the data is not selected.
"""

from __future__ import annotations

from collections.abc import Callable

import ibis
import ibis.expr.types as ir
from sqlglot import expressions as exp

from aftersale.playbooks.conditions import parse_condition
from aftersale.playbooks.schema import Audience

__all__ = ["audience_filter", "compile_condition"]

_COMPARE: dict[type[exp.Expression], Callable[[ir.Value, ir.Value], ir.Value]] = {
    exp.EQ: lambda a, b: a == b,
    exp.NEQ: lambda a, b: a != b,
    exp.GT: lambda a, b: a > b,
    exp.GTE: lambda a, b: a >= b,
    exp.LT: lambda a, b: a < b,
    exp.LTE: lambda a, b: a <= b,
}
_ARITHMETIC: dict[type[exp.Expression], Callable[[ir.Value, ir.Value], ir.Value]] = {
    exp.Add: lambda a, b: a + b,
    exp.Sub: lambda a, b: a - b,
    exp.Mul: lambda a, b: a * b,
    exp.Div: lambda a, b: a / b,
}


def _literal(node: exp.Literal) -> ir.Value:
    if node.is_string:
        return ibis.literal(node.this)
    text = node.this
    return ibis.literal(float(text) if any(c in text for c in ".eE") else int(text))


def _translate(node: exp.Expression, table: ir.Table) -> ir.Value:
    """One vetted SQLGlot node as an Ibis value."""
    if isinstance(node, exp.Paren):
        return _translate(node.this, table)
    if isinstance(node, exp.Column):
        return table[node.name]
    if isinstance(node, exp.Literal):
        return _literal(node)
    if isinstance(node, exp.Boolean):
        return ibis.literal(bool(node.this))
    if isinstance(node, exp.Null):
        return ibis.null()
    if isinstance(node, exp.And):
        return _translate(node.left, table) & _translate(node.right, table)
    if isinstance(node, exp.Or):
        return _translate(node.left, table) | _translate(node.right, table)
    if isinstance(node, exp.Not):
        return ~_translate(node.this, table)
    if type(node) in _COMPARE or type(node) in _ARITHMETIC:
        op = _COMPARE.get(type(node)) or _ARITHMETIC[type(node)]
        return op(_translate(node.this, table), _translate(node.args["expression"], table))
    if isinstance(node, exp.Neg):
        return -_translate(node.this, table)
    if isinstance(node, exp.Is):
        target = _translate(node.this, table)
        if isinstance(node.expression, exp.Null):
            return target.isnull()
        return target == _translate(node.expression, table)
    if isinstance(node, exp.In):
        values = [_translate(v, table) for v in node.expressions]
        return _translate(node.this, table).isin(values)
    if isinstance(node, exp.Between):
        value = _translate(node.this, table)
        return value.between(
            _translate(node.args["low"], table), _translate(node.args["high"], table)
        )
    if isinstance(node, exp.Like | exp.ILike):
        value = _translate(node.this, table)
        pattern = node.expression
        if not (isinstance(pattern, exp.Literal) and pattern.is_string):
            raise ValueError("LIKE needs a text pattern")
        if isinstance(node, exp.ILike):
            return value.lower().like(pattern.this.lower())
        return value.like(pattern.this)
    return _function(node, table)


def _function(node: exp.Expression, table: ir.Table) -> ir.Value:
    args = [_translate(a, table) for a in node.iter_expressions()]
    if isinstance(node, exp.Coalesce):
        return ibis.coalesce(*args)
    if isinstance(node, exp.Least):
        return ibis.least(*args)
    if isinstance(node, exp.Greatest):
        return ibis.greatest(*args)
    if isinstance(node, exp.Abs):
        return args[0].abs()
    if isinstance(node, exp.Lower):
        return args[0].lower()
    if isinstance(node, exp.Upper):
        return args[0].upper()
    if isinstance(node, exp.Length):
        return args[0].length()
    if isinstance(node, exp.Round):
        return args[0].round(int(node.args["decimals"].this) if node.args.get("decimals") else 0)
    if isinstance(node, exp.Floor):
        return args[0].floor()
    if isinstance(node, exp.Ceil):
        return args[0].ceil()
    raise ValueError(f"{type(node).__name__} cannot be compiled")


def compile_condition(text: str, table: ir.Table) -> ir.BooleanValue:
    """A vetted condition as a boolean column over ``table`` (unknown or null → not true)."""
    parsed = parse_condition(text)
    value = _translate(parsed.tree, table)
    return value.cast("boolean").fill_null(False)


def audience_filter(audience: Audience, table: ir.Table) -> ir.BooleanValue:
    """True for customers in the play's audience (every listed part must hold)."""
    parts: list[ir.BooleanValue] = []
    for column, values in (
        ("lifecycle", audience.lifecycle),
        ("rfm_cell", audience.rfm_cells),
        ("value_tier", audience.value_tiers),
        ("persona", audience.personas),
        ("slice", audience.slices),
        ("health_grade", audience.health),
    ):
        if values:
            parts.append(table[column].isin(list(values)).fill_null(False))
    if audience.where:
        parts.append(compile_condition(audience.where, table))
    if not parts:
        return ibis.literal(True)
    result = parts[0]
    for part in parts[1:]:
        result &= part
    return result
