"""Properties of loading: idempotent, order-independent splits, bounded chunks."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aftersale.services import ingest as ingest_module
from aftersale.services.ingest import ingest
from tests.factories import make_settings, write_csv

HEADER = ("order_id", "customer_id", "ordered_at", "currency", "total", "status")
row = st.tuples(
    st.sampled_from([f"O{i}" for i in range(12)]),
    st.sampled_from(["c1", "c2", "c3", ""]),
    st.sampled_from(
        ["2025-01-01T10:00:00Z", "2025-02-03 08:00:00+02:00", "03/04/2025 09:30", "nope"]
    ),
    st.sampled_from(["EUR", "JPY", "KWD", "BAD"]),
    st.sampled_from(["1", "12.50", "1,234.5", "x"]),
    st.sampled_from(["completed", "refunded", "", "weird"]),
)


def _orders(settings_path: Path) -> list[tuple]:
    with duckdb.connect(str(settings_path), read_only=True) as con:
        return con.sql(
            "select * exclude (loaded_at, source_file) from orders order by order_id"
        ).fetchall()


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=st.lists(row, min_size=1, max_size=25), cut=st.integers(0, 25))
def test_loading_twice_changes_nothing_and_every_row_is_accounted_for(
    tmp_path_factory: pytest.TempPathFactory, rows: list[tuple[str, ...]], cut: int
) -> None:
    root = tmp_path_factory.mktemp("p")
    settings_ = make_settings(root / "project")
    path = write_csv(root / "orders.csv", HEADER, rows)
    first = ingest("orders", path, settings=settings_)
    assert first.balanced() and first.rows_read == len(rows)
    stored = _orders(settings_.warehouse.path)
    second = ingest("orders", path, settings=settings_)
    assert second.rows_loaded == 0 and second.rows_merged == 0 and second.balanced()
    assert _orders(settings_.warehouse.path) == stored
    # The same rows in two files of one load give the same orders as one file.
    split = make_settings(root / "split")
    a = write_csv(root / "a.csv", HEADER, rows[:cut])
    b = write_csv(root / "b.csv", HEADER, rows[cut:])
    both = ingest("orders", [a, b], settings=split)
    assert both.balanced() and _orders(split.warehouse.path) == stored


@pytest.mark.parametrize("ragged", [False, True])
def test_chunks_bound_the_rows_held_in_python(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ragged: bool
) -> None:
    seen: list[int] = []
    real = ingest_module.normalise_chunk

    def spy(raw, *args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(raw.height)
        return real(raw, *args, **kwargs)

    monkeypatch.setattr(ingest_module, "normalise_chunk", spy)
    settings_ = make_settings(tmp_path / "p", chunk_rows=1000)
    rows = [(f"c{i}", f"c{i}@example.com") for i in range(4500)]
    path = write_csv(tmp_path / "c.csv", ("customer_id", "email"), rows)
    if ragged:
        path.write_text(path.read_text(encoding="utf-8") + "broken,row,here\n", encoding="utf-8")
    report = ingest("customers", path, settings=settings_)
    assert report.rows_loaded == 4500
    assert report.quarantined == ({"wrong_field_count": 1} if ragged else {})
    assert sum(seen) == 4500 and max(seen) <= 1000 and len(seen) >= 5
