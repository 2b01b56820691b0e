"""Playbook conditions: SQL boolean expressions over customer features, checked with SQLGlot.

A condition may use feature and segment names, literals, comparisons, ``AND`` / ``OR`` /
``NOT``, ``IN``, ``BETWEEN``, ``IS [NOT] NULL``, ``LIKE``, arithmetic and a few pure functions.
Anything else (subqueries, table references, unknown functions, statements) is refused, and an
unknown name gets a "did you mean" from the known features, so a typo fails at validation, not
at send time.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from difflib import get_close_matches

import sqlglot
from sqlglot import expressions as exp
from sqlglot.errors import ParseError, SqlglotError

__all__ = ["ALLOWED_FUNCTIONS", "ParsedCondition", "check_condition", "parse_condition"]

ALLOWED_FUNCTIONS = frozenset(
    {"coalesce", "least", "greatest", "abs", "lower", "upper", "length", "round", "floor", "ceil"}
)

_BOOLEAN_ROOTS: tuple[type[exp.Expression], ...] = (
    exp.And,
    exp.Or,
    exp.Not,
    exp.EQ,
    exp.NEQ,
    exp.GT,
    exp.GTE,
    exp.LT,
    exp.LTE,
    exp.Is,
    exp.In,
    exp.Between,
    exp.Like,
    exp.ILike,
    exp.Boolean,
    exp.Column,
)
"""Nodes a condition may start with: tests that are true or false."""

_ALLOWED_NODES: tuple[type[exp.Expression], ...] = (
    *_BOOLEAN_ROOTS,
    exp.Identifier,
    exp.Literal,
    exp.Null,
    exp.Paren,
    exp.Add,
    exp.Sub,
    exp.Mul,
    exp.Div,
    exp.Neg,
    exp.Tuple,
    exp.Coalesce,
    exp.Least,
    exp.Greatest,
    exp.Abs,
    exp.Lower,
    exp.Upper,
    exp.Length,
    exp.Round,
    exp.Floor,
    exp.Ceil,
)
"""Every node a condition may contain."""


@dataclass(frozen=True)
class ParsedCondition:
    """A checked condition: its text, its syntax tree and the names it reads."""

    text: str
    tree: exp.Expression
    names: frozenset[str]

    def sql(self) -> str:
        """The condition as normalised SQL."""
        return self.tree.sql()


def parse_condition(text: str) -> ParsedCondition:
    """Parse and vet ``text``; raise ``ValueError`` with a plain explanation when it is not a
    boolean expression over names and literals."""
    if not text or not text.strip():
        raise ValueError("the condition is empty")
    try:
        statements = [s for s in sqlglot.parse(text, read="duckdb") if s is not None]
    except ParseError as exc:
        first = exc.errors[0] if exc.errors else {}
        detail = first.get("description") or str(exc)
        col = first.get("col")
        at = f" near column {col}" if col else ""
        raise ValueError(f"not valid SQL{at}: {detail}") from exc
    except SqlglotError as exc:  # tokenizer and other front-end errors
        raise ValueError(f"not valid SQL: {exc}") from exc
    if len(statements) != 1:
        raise ValueError("must be one expression (no ';' separated statements)")
    tree = statements[0]
    while isinstance(tree, exp.Paren):
        tree = tree.this
    if not isinstance(tree, _BOOLEAN_ROOTS):
        raise ValueError(
            f"must be a true/false test (a comparison, IN, IS NULL, AND/OR...); got {tree.sql()!r}"
        )
    for node in tree.walk():
        if isinstance(node, exp.Anonymous | exp.Func) and not isinstance(node, _ALLOWED_NODES):
            name = str(getattr(node, "name", "") or type(node).__name__).lower()
            raise ValueError(
                f"function {name}() is not allowed; use one of "
                f"{', '.join(sorted(ALLOWED_FUNCTIONS))}"
            )
        if not isinstance(node, _ALLOWED_NODES):
            raise ValueError(f"{type(node).__name__.lower()} is not allowed in a condition")
        if isinstance(node, exp.Column) and node.table:
            raise ValueError(f"use plain feature names, not {node.sql()!r}")
    names = frozenset(c.name for c in tree.find_all(exp.Column))
    return ParsedCondition(text, tree, names)


def check_condition(text: str, known: Iterable[str]) -> list[str]:
    """Every problem with ``text`` given the known names (empty when it is fine)."""
    try:
        parsed = parse_condition(text)
    except ValueError as exc:
        return [str(exc)]
    names = sorted(set(known))
    problems = []
    for name in sorted(parsed.names - set(names)):
        close = get_close_matches(name, names, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        problems.append(f"unknown feature {name!r}{hint}")
    return problems
