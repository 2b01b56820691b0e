"""Compiled conditions select exactly the rows SQL itself selects (DuckDB as the oracle)."""

from __future__ import annotations

import duckdb
import ibis
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aftersale.playbooks.compile import audience_filter, compile_condition
from aftersale.playbooks.schema import Audience

NUMBERS = ("orders", "p_alive", "days_of_silence")
TEXTS = ("slice", "health_grade")

number = st.sampled_from(NUMBERS)
text = st.sampled_from(TEXTS)
literal = st.integers(-3, 12).map(str) | st.floats(0, 1).map(lambda v: f"{v:.2f}")
word = st.sampled_from(["'pain_now'", "'time_poor'", "'red'", "'green'", "'x'"])


def _atoms() -> st.SearchStrategy[str]:
    compare = st.sampled_from(["=", "<>", ">", ">=", "<", "<="])
    return st.one_of(
        st.builds(lambda a, op, b: f"{a} {op} {b}", number, compare, literal),
        st.builds(lambda a, op, b: f"{a} {op} {b}", number, compare, number),
        st.builds(lambda a, b: f"{a} = {b}", text, word),
        st.builds(lambda a, b, c: f"{a} IN ({b}, {c})", text, word, word),
        st.builds(lambda a, lo, hi: f"{a} BETWEEN {lo} AND {hi}", number, literal, literal),
        st.builds(lambda a: f"{a} IS NULL", number | text),
        st.builds(lambda a: f"{a} IS NOT NULL", number | text),
        st.builds(lambda a, b: f"coalesce({a}, 0) + 1 > {b}", number, literal),
        st.builds(lambda a: f"lower({a}) LIKE '%a%'", text),
    )


conditions = st.recursive(
    _atoms(),
    lambda inner: st.one_of(
        st.builds(lambda a, b: f"({a}) AND ({b})", inner, inner),
        st.builds(lambda a, b: f"({a}) OR ({b})", inner, inner),
        st.builds(lambda a: f"NOT ({a})", inner),
    ),
    max_leaves=4,
)
rows = st.lists(
    st.fixed_dictionaries(
        {
            "orders": st.none() | st.integers(0, 10),
            "p_alive": st.none() | st.floats(0, 1),
            "days_of_silence": st.none() | st.floats(0, 100),
            "slice": st.none() | st.sampled_from(["pain_now", "time_poor", "unknown"]),
            "health_grade": st.none() | st.sampled_from(["red", "yellow", "green"]),
        }
    ),
    min_size=1,
    max_size=12,
)


def _frame(data: list[dict[str, object]]) -> pd.DataFrame:
    frame = pd.DataFrame(data)
    frame.insert(0, "i", range(len(frame)))
    frame["orders"] = frame["orders"].astype("Int64")
    frame["p_alive"] = frame["p_alive"].astype("Float64")
    frame["days_of_silence"] = frame["days_of_silence"].astype("Float64")
    for column in TEXTS:
        frame[column] = frame[column].astype("string")
    return frame


@settings(max_examples=60, deadline=None)
@given(condition=conditions, data=rows)
def test_compiled_conditions_agree_with_sql(condition: str, data: list[dict[str, object]]) -> None:
    frame = _frame(data)
    con = ibis.duckdb.connect()
    table = con.create_table("customers", frame)
    ours = con.execute(table.select("i", ok=compile_condition(condition, table)).order_by("i"))
    oracle = duckdb.connect()
    oracle.register("customers", frame)
    theirs = oracle.sql(
        f"SELECT i, coalesce(({condition}), false) AS ok FROM customers ORDER BY i"
    ).df()
    assert ours["ok"].astype(bool).tolist() == theirs["ok"].astype(bool).tolist(), condition


def test_audience_combines_segments_and_condition() -> None:
    frame = _frame(
        [
            {"orders": 1, "p_alive": 0.9, "days_of_silence": 1.0, "slice": "pain_now",
             "health_grade": "green"},
            {"orders": 3, "p_alive": 0.2, "days_of_silence": 50.0, "slice": "pain_now",
             "health_grade": "red"},
            {"orders": 1, "p_alive": None, "days_of_silence": 2.0, "slice": None,
             "health_grade": "green"},
        ]
    )  # fmt: skip
    table = ibis.memtable(frame)
    audience = Audience(slices=["pain_now"], health=["green", "yellow"], where="orders = 1")
    picked = ibis.duckdb.connect().execute(table.filter(audience_filter(audience, table)))
    assert picked["i"].tolist() == [0]
    everyone = ibis.duckdb.connect().execute(table.filter(audience_filter(Audience(), table)))
    assert len(everyone) == 3


def test_a_bad_condition_is_refused_before_compiling() -> None:
    table = ibis.memtable(pd.DataFrame({"orders": [1]}))
    with pytest.raises(ValueError, match="not allowed"):
        compile_condition("random() > 0.5", table)
