"""Streaming line numbers: the same answer as numbering the whole load at once."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import duckdb
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from aftersale.ingestion.sequence import POSITION, REPEAT, LineSequencer
from aftersale.services.ingest import ingest
from tests.factories import make_settings, write_csv

lines = st.lists(st.tuples(st.sampled_from("ABCDE"), st.integers(0, 3)), min_size=1, max_size=60)


def reference(rows: list[tuple[str, int]]) -> tuple[list[int | None], list[bool], int]:
    seen: dict[str, set[int]] = {}
    count: dict[str, int] = {}
    positions: list[int | None] = []
    repeats: list[bool] = []
    runs = 0
    previous = None
    for order, h in rows:
        if order != previous:
            runs += 1
        previous = order
        repeat = h in seen.setdefault(order, set())
        seen[order].add(h)
        if not repeat:
            count[order] = count.get(order, 0) + 1
        repeats.append(repeat)
        positions.append(count[order])
    return positions, repeats, runs


@settings(max_examples=200, deadline=None)
@given(rows=lines, cuts=st.lists(st.integers(1, 59), max_size=4))
def test_streamed_positions_match_whole_file_numbering_for_contiguous_orders(
    rows: list[tuple[str, int]], cuts: list[int]
) -> None:
    rows = sorted(rows, key=lambda r: r[0])  # contiguous orders
    frame = pl.DataFrame({"order_id": [r[0] for r in rows], "_h": [r[1] for r in rows]})
    bounds = sorted({0, len(rows), *(c for c in cuts if c < len(rows))})
    sequencer = LineSequencer()
    parts = [sequencer(frame.slice(a, b - a)) for a, b in pairwise(bounds)]
    out = pl.concat(parts)
    positions, repeats, runs = reference(rows)
    assert out[REPEAT].to_list() == repeats
    kept = [p for p, r in zip(positions, repeats, strict=True) if not r]
    assert out.filter(~pl.col(REPEAT))[POSITION].to_list() == kept
    assert sequencer.runs == runs == len({r[0] for r in rows})
    assert sequencer.repeats == sum(repeats)


def test_interleaved_orders_fall_back_to_sorting_with_the_same_result(tmp_path: Path) -> None:
    header = ("order_id", "ordered_at", "product_id", "quantity", "unit_price", "currency")
    contiguous = [
        ("A", "2025-01-01", "p1", "1", "1.00", "EUR"),
        ("A", "2025-01-01", "p2", "2", "2.00", "EUR"),
        ("A", "2025-01-01", "p2", "2", "2.00", "EUR"),
        ("B", "2025-01-02", "p3", "1", "3.00", "EUR"),
    ]
    interleaved = [contiguous[0], contiguous[3], contiguous[1], contiguous[2]]
    results = []
    for name, rows in (("c", contiguous), ("i", interleaved)):
        settings_ = make_settings(tmp_path / name)
        report = ingest(
            "orders", write_csv(tmp_path / f"{name}.csv", header, rows), settings=settings_
        )
        assert report.rows_duplicate == 1 and report.rows_loaded == 3 and report.balanced()
        with duckdb.connect(str(settings_.warehouse.path), read_only=True) as con:
            results.append(
                con.sql("select line_id, product_id from order_lines order by 1").fetchall()
            )
        assert report.notes["orders_contiguous_files"] == (1 if name == "c" else 0)
    assert results[0] == results[1] == [("A:1", "p1"), ("A:2", "p2"), ("B:1", "p3")]
