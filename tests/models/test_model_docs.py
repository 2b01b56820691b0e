"""The docstring examples of the models run and print what they claim."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "aftersale.models.bgnbd",
    "aftersale.models.mbgnbd",
    "aftersale.models.pareto_nbd",
    "aftersale.models.nbd",
    "aftersale.models.heuristic",
    "aftersale.models.gamma_gamma",
    "aftersale.models.bgbb",
    "aftersale.models.sbg",
    "aftersale.models.basket",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(
        importlib.import_module(name), optionflags=doctest.NORMALIZE_WHITESPACE
    )
    assert result.attempted > 0 and result.failed == 0
