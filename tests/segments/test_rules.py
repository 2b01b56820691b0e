"""Signals decide the same way in the warehouse (Ibis) and for one customer (Python)."""

from __future__ import annotations

import math

import ibis
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aftersale.segments.rules import Condition, Signal, format_reason, matched

OPS = [">=", ">", "<=", "<", "==", "!=", "is_null", "not_null"]
values = st.one_of(st.none(), st.floats(-5, 5, allow_nan=False).map(lambda v: round(v, 1)))


@settings(max_examples=40, deadline=None)
@given(rows=st.lists(values, min_size=1, max_size=8), op=st.sampled_from(OPS), target=values)
def test_ibis_and_python_agree_including_nulls(rows: list, op: str, target: float | None) -> None:
    if target is None and op not in ("is_null", "not_null"):
        target = 0.0
    condition = Condition(feature="x", op=op, value=target)  # type: ignore[arg-type]
    frame = pd.DataFrame({"i": range(len(rows)), "x": pd.array(rows, dtype="Float64")})
    table = ibis.memtable(frame)
    got = table.mutate(ok=condition.to_ibis(table)).order_by("i").execute()["ok"].tolist()
    expected = [condition.holds({"x": v}) for v in rows]
    assert [bool(g) for g in got] == expected


def test_nan_counts_as_missing() -> None:
    assert not Condition(feature="x", op=">=", value=1).holds({"x": math.nan})
    assert Condition(feature="x", op="is_null").holds({"x": math.nan})
    assert Condition(feature="tier", op="in", value=["pro"]).holds({"tier": "pro"})


def test_reasons_fill_values_and_refuse_attribute_access() -> None:
    signal = Signal(
        name="quiet",
        when=[Condition(feature="days", op=">=", value=21)],
        reason="quiet for {days:.0f} days ({share:.0%})",
    )
    assert matched([signal], {"days": 30.4, "share": 0.25}) == [(signal, "quiet for 30 days (25%)")]
    assert matched([signal], {"days": 3}) == []
    assert format_reason("{missing} and {days}", {"days": 2.50, "missing": None}) == "none and 2.5"
    with pytest.raises(ValueError, match="plain feature names"):
        format_reason("{days.__class__}", {"days": 1})
    assert signal.features() == {"days", "share"}
