"""Spreadsheet-safe text: cells that a spreadsheet would run as a formula are neutralised.

Text that starts with ``=``, ``+``, ``-``, ``@``, a tab, a carriage return or a NUL is kept as
data everywhere inside aftersale, and prefixed with a single quote only when it is written to a
file people open in a spreadsheet (OWASP "CSV injection"). :func:`restore` undoes the prefix
when aftersale reads its own export back.
"""

from __future__ import annotations

__all__ = ["FORMULA_PREFIXES", "neutralise", "restore"]

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\0")


def neutralise(value: object) -> object:
    """Return ``value`` with a leading ``'`` when it is text a spreadsheet would evaluate."""
    if isinstance(value, str) and value.startswith((*FORMULA_PREFIXES, "'")):
        return "'" + value
    return value


def restore(value: str) -> str:
    """Undo :func:`neutralise` on text read back from an aftersale export."""
    if value.startswith("'") and value[1:].startswith((*FORMULA_PREFIXES, "'")):
        return value[1:]
    return value
