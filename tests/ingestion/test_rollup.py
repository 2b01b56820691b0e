"""Orders rolled up while streaming equal the orders the engine builds from all lines at once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise

import ibis
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from aftersale.ingestion.assemble import orders_from_lines
from aftersale.ingestion.rollup import Rollup
from aftersale.ingestion.sequence import REPEAT, LineSequencer

START = datetime(2025, 1, 1, tzinfo=UTC)
line = st.tuples(
    st.sampled_from(["product", "product", "shipping", "discount", "fee", "adjustment"]),
    st.integers(-3, 5),  # quantity
    st.sampled_from([0, 125, 999, -50]),  # unit price (minor units)
    st.integers(0, 90),  # minutes after the order's first line
)
order = st.tuples(
    st.sampled_from(["A", "B", "C1", "C2", "D", "E", "F"]),  # ids starting with C cancel
    st.sampled_from(["k1", "k2", None]),  # customer (None: guest)
    st.lists(line, min_size=1, max_size=5),
)


def _lines(orders: list[tuple[str, str | None, list[tuple[str, int, int, int]]]]) -> pl.DataFrame:
    rows = []
    seen: set[str] = set()
    for number, (name, customer, lines) in enumerate(orders):
        order_id = name if name not in seen else f"{name}{number}"  # contiguous: ids unique
        seen.add(order_id)
        for kind, quantity, price, minutes in lines:
            rows.append(
                {
                    "order_id": order_id,
                    "customer_id": customer,
                    "currency": "EUR",
                    "ordered_at": START + timedelta(days=number, minutes=minutes),
                    "line_kind": kind,
                    "quantity": quantity,
                    "unit_price_minor": price,
                    "source_file": f"f{number % 2}.csv",
                    "source": "shop",
                }
            )
    frame = pl.DataFrame(rows, schema_overrides={"ordered_at": pl.Datetime("us", "UTC")})
    return frame.with_columns(_h=frame.hash_rows(seed=0))  # equal lines repeat


def _sorted(frame: pl.DataFrame) -> pl.DataFrame:
    columns = sorted(frame.columns)
    return frame.select(columns).sort("order_id")


@settings(max_examples=60, deadline=None)
@given(
    orders=st.lists(order, min_size=1, max_size=12),
    cuts=st.lists(st.integers(1, 40), max_size=5),
    prefix=st.sampled_from(["C", None]),
)
def test_streamed_orders_equal_orders_built_from_every_line(
    orders: list[tuple[str, str | None, list[tuple[str, int, int, int]]]],
    cuts: list[int],
    prefix: str | None,
) -> None:
    lines = _lines(orders)
    sequencer = LineSequencer()
    rollup = Rollup(prefix)
    bounds = sorted({0, lines.height, *(c for c in cuts if c < lines.height)})
    parts, kept = [], []
    for a, b in pairwise(bounds):
        numbered = sequencer(lines.slice(a, b - a)).filter(~pl.col(REPEAT))
        kept.append(numbered)
        parts.append(rollup(numbered))
    parts.append(rollup.finish())
    streamed = pl.concat([p for p in parts if p.height], how="diagonal_relaxed")
    distinct = pl.concat(kept).drop(REPEAT)
    assert distinct.height == lines.unique(maintain_order=True).height

    con = ibis.duckdb.connect()
    built = con.to_polars(orders_from_lines(ibis.memtable(distinct), prefix))
    con.disconnect()
    assert streamed.height == built.height == lines["order_id"].n_unique()
    streamed = streamed.select(built.columns)
    assert _sorted(streamed).equals(_sorted(built.cast(streamed.schema))), (streamed, built)
    notes = rollup.notes
    assert notes["guest_orders"] == int(built["is_guest"].sum())
    assert notes["cancelled_orders"] == int((built["status"] == "cancelled").sum())
    assert notes["return_orders"] == int((built["status"] == "returned").sum())
    assert notes["negative_quantity_lines"] == int((distinct["quantity"] < 0).sum())


def test_an_open_order_is_carried_to_the_next_chunk() -> None:
    lines = _lines([("A", "k1", [("product", 1, 100, 0)] * 3), ("B", None, [("fee", 1, 5, 0)])])
    sequencer = LineSequencer()
    rollup = Rollup()
    first = rollup(sequencer(lines.slice(0, 2)))
    second = rollup(sequencer(lines.slice(2)))
    assert first.height == 0  # order A may continue in the next chunk
    assert second["order_id"].to_list() == ["A"]
    assert second["subtotal_minor"].to_list() == [300] and second["item_count"].to_list() == [3]
    last = rollup.finish()
    assert last["order_id"].to_list() == ["B"] and last["is_guest"].to_list() == [True]
    assert last["item_count"].to_list() == [None]  # no product lines: no item count
