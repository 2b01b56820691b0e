"""Conditions are vetted SQL: only tests over known names, with suggestions for typos."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aftersale.playbooks.conditions import check_condition, parse_condition

KNOWN = ["orders", "slice", "health_grade", "days_of_silence", "p_alive", "first_win_at"]


@pytest.mark.parametrize(
    "text",
    [
        "orders >= 2 AND slice = 'pain_now'",
        "health_grade IN ('red', 'yellow')",
        "days_of_silence BETWEEN 3 AND 9 OR p_alive IS NULL",
        "first_win_at IS NOT NULL",
        "coalesce(p_alive, 0) < 0.3",
        "NOT (orders > 1)",
        "(orders + 1) * 2 > 5",
    ],
)
def test_good_conditions_pass(text: str) -> None:
    assert check_condition(text, KNOWN) == []
    assert parse_condition(text).names <= set(KNOWN)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("p_alive < 0.3 and days_of_silnce > 30", "did you mean 'days_of_silence'"),
        ("orders + 1", "true/false test"),
        ("random() > 0.5", "not allowed"),
        ("exists(select 1)", "true/false test"),
        ("orders > (select 1)", "not allowed"),
        ("t.orders > 1", "plain feature names"),
        ("orders >", "not valid SQL"),
        ("orders > 1; drop table customers", "one expression"),
        ("", "empty"),
    ],
)
def test_bad_conditions_say_why(text: str, message: str) -> None:
    problems = check_condition(text, KNOWN)
    assert problems and message in problems[0]


@given(st.text(max_size=60))
def test_any_text_gives_a_verdict_not_a_crash(text: str) -> None:
    problems = check_condition(text, KNOWN)
    assert isinstance(problems, list)
    assert all(isinstance(p, str) and p for p in problems)
