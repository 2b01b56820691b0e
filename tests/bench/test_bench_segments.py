"""Smoke test of ``bench/bench_segments.py``: the direct load, both sides on a tiny store, and
the pandas baseline against the library on the configurable event counts the simulator lacks."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
from bench.bench_segments import (
    StoreSpec,
    baseline_once,
    candidate_once,
    compare_outputs,
    compare_with_ingest,
    ensure_store,
    ensure_warehouse,
    main,
)

from aftersale.segments import load_segmentation


def test_direct_load_matches_ingest(tmp_path: Path) -> None:
    store = ensure_store(tmp_path, StoreSpec(customers=150))
    problems = compare_with_ingest(store, tmp_path / "compare")
    assert set(problems) == {"customers", "orders", "order_lines", "events"}
    assert all(found == [] for found in problems.values()), problems


@pytest.mark.slow
def test_main_runs_both_sides_and_they_agree(tmp_path: Path) -> None:
    args = ["--sizes", "200,400", "--repeats", "1", "--data-dir", str(tmp_path)]
    result = main([*args, "--no-warmup", "--no-record"])
    assert sorted(result.pairs) == [200, 400]
    for n, agreement in result.agreements.items():
        assert agreement.customers_candidate == agreement.customers_baseline > 0.8 * n
        assert agreement.ok, agreement.lines()
        assert agreement.segments_all_equal == 1.0
    for pair in result.pairs.values():
        assert pair.candidate_result == pair.baseline_result


def _add_configured_events(db: Path, as_of: str) -> list[str]:
    """Track events for every ``[signals.counts]`` rule and help-page calls for a few
    customers shortly before ``as_of`` (the simulator sends neither); returns those names."""
    signals = load_segmentation().signals
    con = duckdb.connect(str(db))
    try:
        customers = [r[0] for r in con.sql("SELECT customer_id FROM customers LIMIT 40").fetchall()]
        rows = []
        for i, customer in enumerate(customers):
            at = f"TIMESTAMPTZ '{as_of}' - INTERVAL {i % 20 + 1} DAY"
            for name, rule in signals.counts.items():
                if (i + len(name)) % 3:
                    rows.append(("track", rule.event, customer, at, json.dumps(rule.where)))
            for k, path in enumerate(signals.help_paths):
                if (i + k) % 2:
                    url = f"https://shop.example{path.upper()}/article-{i}"
                    rows.append(("page", None, customer, at, json.dumps({"url": url})))
            rows.append(("page", None, customer, at, json.dumps({"path": "/products/x"})))
        for j, (kind, event, customer, at, props) in enumerate(rows):
            con.execute(
                "INSERT INTO events (event_key, message_id, type, event, customer_id, "
                f"occurred_at, properties, source, loaded_at) VALUES (?, ?, ?, ?, ?, {at}, ?, "
                "'test', now())",
                [f"test:{j}", f"{j}", kind, event, customer, props],
            )
    finally:
        con.close()
    return [*signals.counts, "help_page_views_recent"]


@pytest.mark.slow
def test_baseline_and_library_agree_on_configured_counts(tmp_path: Path) -> None:
    store = ensure_store(tmp_path, StoreSpec(customers=200))
    db = tmp_path / "extra.duckdb"
    meta = ensure_warehouse(store, db, None)
    names = _add_configured_events(db, meta["as_of"])
    assert names
    out = tmp_path / "baseline"
    assert candidate_once(str(db), meta["as_of"]) == baseline_once(str(db), meta["as_of"], str(out))
    agreement = compare_outputs(db, out)
    assert agreement.ok, agreement.lines()
    con = duckdb.connect(str(db), read_only=True)
    try:
        sums = con.sql(
            "SELECT " + ", ".join(f"sum({n})" for n in names) + " FROM bench_features"
        ).fetchone()
    finally:
        con.close()
    assert sums is not None
    assert all(total > 0 for total in sums), dict(zip(names, sums, strict=True))


@pytest.mark.parametrize("text", ["3000", "1000,300", "100000, 300000,1e6"])
def test_sizes_are_sorted_unique_counts(text: str) -> None:
    from bench.bench_segments import _sizes

    sizes = _sizes(text)
    assert sizes == sorted(set(sizes))
    assert all(isinstance(n, int) and n > 0 for n in sizes)
