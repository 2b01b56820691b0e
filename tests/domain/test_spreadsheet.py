"""Spreadsheet safety: formula-like text is neutralised on export and restored on import."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aftersale.domain.spreadsheet import FORMULA_PREFIXES, neutralise, restore

PAYLOADS = [
    '=HYPERLINK("http://evil","x")',
    "+1+1",
    "-2+3",
    "@SUM(A1)",
    "\t=1",
    "\r=1",
    "\0x",
    "=cmd|' /C calc'!A0",
    "'=already",
]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_payloads_are_prefixed_and_restored(payload: str) -> None:
    cell = neutralise(payload)
    assert isinstance(cell, str) and cell.startswith("'")
    assert restore(cell) == payload


def test_plain_values_are_untouched() -> None:
    assert neutralise("Tea tin") == "Tea tin"
    assert neutralise(-5) == -5
    assert restore("Tea tin") == "Tea tin"


@given(st.text())
def test_round_trip_for_any_text(text: str) -> None:
    cell = neutralise(text)
    assert restore(cell) == text  # type: ignore[arg-type]
    assert not str(cell).startswith(FORMULA_PREFIXES)
