"""The state store's contract, run against SQLite and a real PostgreSQL server alike."""

from __future__ import annotations

import socket
import threading
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aftersale.errors import InvalidInputError, StorageError
from aftersale.store.state import ConsentAppendResult, LoadRun, StateStore

__all__: list[str] = []

T0 = datetime(2024, 3, 1, 9, 30, tzinfo=UTC)
SHA_A = "a" * 64
SHA_B = "0123456789abcdef" * 4


def consent(
    customer_id: str = "c1",
    status: str = "opt_in",
    recorded_at: datetime = T0,
    channel: str = "email",
    purpose: str = "marketing",
    **extra: Any,
) -> dict[str, Any]:
    """One consent row as the ingest hands it over."""
    return {
        "customer_id": customer_id,
        "channel": channel,
        "purpose": purpose,
        "status": status,
        "recorded_at": recorded_at,
        **extra,
    }


# --- schema and connection -----------------------------------------------------------------


def _closed_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_unreachable_postgres_names_host_and_masks_password() -> None:
    """A refused connection names the database and never prints its password."""
    port = _closed_port()
    store = StateStore.from_url(f"postgresql+psycopg://app:s3cr3t-pw@127.0.0.1:{port}/aftersale")
    with pytest.raises(StorageError) as info:
        store.migrate()
    message = str(info.value)
    assert f"postgresql+psycopg://app:***@127.0.0.1:{port}/aftersale" in message
    assert "s3cr3t-pw" not in message
    assert "check that the database is reachable" in message
    assert store.url == f"postgresql+psycopg://app:***@127.0.0.1:{port}/aftersale"
    store.close()


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("not a url", "not a valid SQLAlchemy URL"),
        ("mysql://u:pw@localhost/db", "unsupported database 'mysql'"),
    ],
)
def test_bad_urls_raise_storage_error(url: str, fragment: str) -> None:
    """Malformed or unsupported URLs fail early with a StorageError that says what is expected."""
    with pytest.raises(StorageError, match=fragment) as info:
        StateStore.from_url(url)
    assert "pw@" not in str(info.value)


# --- load runs and files -------------------------------------------------------------------


def test_timestamps_round_trip_as_tz_aware_utc(store: StateStore) -> None:
    """Any offset goes in; the same instant comes out tz-aware in UTC, microseconds kept."""
    plus_two = timezone(timedelta(hours=2))
    started = datetime(2024, 7, 1, 14, 5, 6, 123456, tzinfo=plus_two)
    store.start_load("load-tz", "orders", "csv", ["a.csv"], started)
    store.finish_load("load-tz", started + timedelta(seconds=90), "succeeded")
    run = store.last_load()
    assert run is not None
    assert run.started_at == started
    assert run.started_at.tzinfo == UTC
    assert run.started_at.isoformat() == "2024-07-01T12:05:06.123456+00:00"
    assert run.finished_at == datetime(2024, 7, 1, 12, 6, 36, 123456, tzinfo=UTC)


def test_naive_timestamps_are_rejected(store: StateStore) -> None:
    """A naive datetime is refused rather than guessed, and a bad batch leaves nothing behind."""
    with pytest.raises(InvalidInputError, match="started_at"):
        store.start_load("naive", "orders", "csv", [], datetime(2024, 1, 1))
    with pytest.raises(InvalidInputError, match="consent row 1: recorded_at"):
        store.append_consents([consent(), consent(recorded_at=datetime(2024, 1, 1))])
    assert store.table_counts()["consent_ledger"] == 0  # the batch is all or nothing


def test_load_lifecycle_is_recorded(store: StateStore) -> None:
    """start_load then finish_load round-trips every field, the report as JSON."""
    assert store.last_load() is None
    assert store.loads() == []
    store.start_load("load-1", "orders", "csv", [Path("/data/o1.csv"), "/data/o2.csv"], T0)
    running = store.last_load()
    assert running is not None
    assert (running.status, running.finished_at, running.rows_read) == ("running", None, 0)
    assert running.paths == ("/data/o1.csv", "/data/o2.csv")
    report = {"files": [{"path": "/data/o1.csv", "rows": 7}], "at": T0, "tags": {"b", "a"}}
    store.finish_load(
        "load-1",
        T0 + timedelta(minutes=2),
        "succeeded",
        rows_read=10,
        rows_loaded=7,
        rows_merged=1,
        rows_duplicate=1,
        rows_quarantined=1,
        report=report,
    )
    assert store.last_load() == LoadRun(
        load_id="load-1",
        kind="orders",
        source_format="csv",
        paths=("/data/o1.csv", "/data/o2.csv"),
        started_at=T0,
        finished_at=T0 + timedelta(minutes=2),
        status="succeeded",
        rows_read=10,
        rows_loaded=7,
        rows_merged=1,
        rows_duplicate=1,
        rows_quarantined=1,
        report={
            "files": [{"path": "/data/o1.csv", "rows": 7}],
            "at": "2024-03-01T09:30:00+00:00",
            "tags": ["a", "b"],
        },
        error=None,
    )


def test_loads_newest_first_with_limit_and_kind(store: StateStore) -> None:
    """Recent loads come newest first; last_load filters by kind."""
    for i, kind in enumerate(["orders", "events", "orders", "consents"]):
        store.start_load(f"load-{i}", kind, "jsonl", [], T0 + timedelta(hours=i))
    store.finish_load("load-1", T0 + timedelta(hours=5), "failed", error="boom")
    assert [r.load_id for r in store.loads()] == ["load-3", "load-2", "load-1", "load-0"]
    assert [r.load_id for r in store.loads(limit=2)] == ["load-3", "load-2"]
    last_orders = store.last_load("orders")
    assert last_orders is not None
    assert last_orders.load_id == "load-2"
    failed = store.last_load("events")
    assert failed is not None
    assert (failed.status, failed.error, failed.report) == ("failed", "boom", None)
    assert store.last_load("products") is None
    with pytest.raises(InvalidInputError, match="limit"):
        store.loads(limit=0)


def test_load_errors(store: StateStore) -> None:
    """Unknown and duplicate load ids, bad statuses, counts and reports are clear errors."""
    with pytest.raises(StorageError, match=r"no load run 'ghost'.*call start_load first"):
        store.finish_load("ghost", T0, "succeeded")
    store.start_load("dup", "orders", "csv", [], T0)
    with pytest.raises(StorageError, match=r"cannot start load dup.*rejected it"):
        store.start_load("dup", "orders", "csv", [], T0)
    with pytest.raises(InvalidInputError, match="succeeded or failed"):
        store.finish_load("dup", T0, "running")
    with pytest.raises(InvalidInputError, match="rows_loaded must be >= 0"):
        store.finish_load("dup", T0, "succeeded", rows_loaded=-1)
    with pytest.raises(InvalidInputError, match="not JSON"):
        store.finish_load("dup", T0, "succeeded", report={"x": object()})
    with pytest.raises(InvalidInputError, match="load_id"):
        store.start_load("", "orders", "csv", [], T0)


def test_files_are_recorded_and_reloads_recognised(store: StateStore) -> None:
    """Files are kept per load and a re-load of the same bytes is found by hash."""
    store.start_load("first", "orders", "csv", ["o.csv", "p.csv"], T0)
    store.record_file("first", "o.csv", SHA_A, 1024, 10)
    store.record_file("first", Path("p.csv"), SHA_B, 2048, 20)
    store.record_file("first", "o.csv", SHA_A, 1024, 11)  # re-recorded: replaced, not doubled
    store.start_load("second", "orders", "csv", ["renamed.csv"], T0 + timedelta(days=1))
    store.record_file("second", "renamed.csv", SHA_A, 1024, 11)
    files = store.files("first")
    assert [(f.path, f.sha256, f.bytes, f.rows_read) for f in files] == [
        ("o.csv", SHA_A, 1024, 11),
        ("p.csv", SHA_B, 2048, 20),
    ]
    assert [r.load_id for r in store.loads_with_file(SHA_A)] == ["second", "first"]
    assert [r.load_id for r in store.loads_with_file(SHA_B)] == ["first"]
    assert store.loads_with_file("f" * 64) == []
    assert store.table_counts()["load_files"] == 3


def test_file_of_unknown_load_violates_foreign_key(store: StateStore) -> None:
    """Foreign keys are enforced on both backends (SQLite needs the pragma)."""
    with pytest.raises(StorageError, match="rejected it"):
        store.record_file("no-such-load", "o.csv", SHA_A, 1, 1)
    with pytest.raises(InvalidInputError, match="sha256"):
        store.record_file("no-such-load", "o.csv", "ABC", 1, 1)


# --- consent ledger ------------------------------------------------------------------------


def test_append_consents_twice_changes_nothing(store: StateStore) -> None:
    """Re-importing the same consents inserts nothing and reports them all as duplicates."""
    store.start_load("consents-1", "consents", "csv", ["c.csv"], T0)
    rows = [
        consent("c1", "opt_in", T0, method="checkout", evidence="box", load_id="consents-1"),
        consent("c1", "opt_out", T0 + timedelta(days=3), source="shopify"),
        consent("c2", "opt_in", T0, channel="sms"),
        consent("c2", "opt_in", T0, channel="sms", purpose="transactional"),
    ]
    assert store.append_consents(rows) == ConsentAppendResult(inserted=4, duplicates=0)
    assert store.append_consents(rows) == ConsentAppendResult(inserted=0, duplicates=4)
    assert store.append_consents([]) == ConsentAppendResult(inserted=0, duplicates=0)
    counts = store.table_counts()
    assert {k: counts[k] for k in ("consent_ledger", "load_files", "load_runs")} == {
        "consent_ledger": 4,
        "load_files": 0,
        "load_runs": 1,
    }


def test_duplicates_inside_one_call_and_other_offsets_count_once(store: StateStore) -> None:
    """The same instant in another offset is the same entry, also within one call."""
    same_instant = T0.astimezone(timezone(timedelta(hours=-5)))
    rows = [consent(), consent(recorded_at=same_instant), consent(), consent(status="opt_out")]
    assert store.append_consents(rows) == ConsentAppendResult(inserted=2, duplicates=2)


def test_large_append_spans_batches(store: StateStore) -> None:
    """Counts stay exact across the multi-row INSERT batches."""
    rows = [consent(f"c{i:05d}", recorded_at=T0 + timedelta(seconds=i)) for i in range(2_345)]
    assert store.append_consents(iter(rows)) == ConsentAppendResult(inserted=2_345, duplicates=0)
    assert store.append_consents([*rows[-500:], consent("new")]) == ConsentAppendResult(1, 500)
    assert store.table_counts()["consent_ledger"] == 2_346


def test_current_consent_latest_wins_and_opt_out_wins_a_tie(store: StateStore) -> None:
    """Latest entry wins; on a tie opt_out wins; unknown is None."""
    store.append_consents(
        [
            consent("c1", "opt_in", T0),
            consent("c1", "opt_out", T0 + timedelta(days=1)),
            consent("c1", "opt_in", T0 + timedelta(days=2)),  # latest: back in
            consent("c2", "opt_in", T0 + timedelta(days=1)),
            consent("c2", "opt_out", T0 + timedelta(days=1)),  # same instant: opt_out wins
            consent("c2", "opt_in", T0),
            consent("c3", "opt_out", T0, channel="sms"),
        ]
    )
    assert store.current_consent("c1", "email", "marketing") == "opt_in"
    assert store.current_consent("c2", "email", "marketing") == "opt_out"
    assert store.current_consent("c3", "sms", "marketing") == "opt_out"
    assert store.current_consent("c3", "email", "marketing") is None
    assert store.current_consent("nobody", "email", "marketing") is None
    assert store.current_consents() == {
        ("c1", "email", "marketing"): "opt_in",
        ("c2", "email", "marketing"): "opt_out",
        ("c3", "sms", "marketing"): "opt_out",
    }
    assert store.current_consents("c2") == {("c2", "email", "marketing"): "opt_out"}
    assert store.consent_counts() == {
        ("email", "marketing", "opt_in"): 1,
        ("email", "marketing", "opt_out"): 1,
        ("sms", "marketing", "opt_out"): 1,
    }


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"channel": "fax"}, "consent row 1: channel 'fax' is not one of"),
        ({"purpose": "spam"}, "consent row 1: purpose 'spam' is not one of"),
        ({"status": "maybe"}, "consent row 1: status 'maybe' is not one of opt_in, opt_out"),
        ({"customer_id": ""}, "consent row 1: missing customer_id"),
        ({"recorded_at": None}, "consent row 1: missing recorded_at"),
        ({"recorded_at": "2024-01-01"}, "recorded_at must be a datetime, got str"),
    ],
)
def test_invalid_consent_rows_name_row_and_field(
    store: StateStore, row: dict[str, Any], message: str
) -> None:
    """A bad consent row names its index and field, and the whole call is rolled back."""
    with pytest.raises(InvalidInputError, match=message):
        store.append_consents([consent("ok"), consent("bad") | row])
    assert store.table_counts()["consent_ledger"] == 0


def test_concurrent_appends_from_four_threads_do_not_duplicate(state_url: str) -> None:
    """Four writers racing on the same rows insert each row exactly once."""
    with StateStore.from_url(state_url) as setup:
        setup.migrate()
    rows = [consent(f"c{i % 37}", recorded_at=T0 + timedelta(minutes=i)) for i in range(400)]
    results: list[ConsentAppendResult] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)
    store = StateStore.from_url(state_url)

    def worker(offset: int) -> None:
        mine = rows[offset * 50 :] + rows[: offset * 50]  # same rows, different order
        try:
            barrier.wait()
            for start in range(0, len(mine), 100):
                results.append(store.append_consents(mine[start : start + 100]))
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    store.close()
    assert errors == []
    assert sum(r.inserted for r in results) == 400
    assert sum(r.duplicates for r in results) == 3 * 400
    with StateStore.from_url(state_url) as check:
        assert check.table_counts()["consent_ledger"] == 400


_OFFSETS = [UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-8))]
_entries = st.tuples(
    st.sampled_from(["a", "b"]),
    st.sampled_from(["email", "sms"]),
    st.sampled_from(["opt_in", "opt_out"]),
    st.integers(min_value=0, max_value=4),  # few instants: ties are common
    st.sampled_from(_OFFSETS),
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(history=st.lists(_entries, max_size=25))
def test_current_consent_matches_reference(
    store: StateStore, history: list[tuple[str, str, str, int, timezone]]
) -> None:
    """For random histories with many ties, the store agrees with a plain Python rule."""
    prefix = uuid4().hex  # the store outlives examples: each example uses its own customers
    rows = [
        consent(f"{prefix}-{who}", status, (T0 + timedelta(hours=hour)).astimezone(tz), channel)
        for who, channel, status, hour, tz in history
    ]
    result = store.append_consents(rows)

    distinct = {(r["customer_id"], r["channel"], r["recorded_at"], r["status"]) for r in rows}
    assert result == ConsentAppendResult(len(distinct), len(rows) - len(distinct))
    expected: dict[tuple[str, str, str], str] = {}
    latest: dict[tuple[str, str, str], tuple[datetime, bool]] = {}
    for customer_id, channel, at, status in distinct:
        key = (customer_id, channel, "marketing")
        rank = (at, status == "opt_out")
        if key not in latest or rank > latest[key]:
            latest[key], expected[key] = rank, status
    for who in ("a", "b"):
        for channel in ("email", "sms"):
            key = (f"{prefix}-{who}", channel, "marketing")
            assert store.current_consent(*key) == expected.get(key)
    current = {k: v for k, v in store.current_consents().items() if k[0].startswith(prefix)}
    assert current == expected


def test_consent_counts_count_customers_not_rows(store: StateStore) -> None:
    """consent_counts reports customers by current status, not ledger rows."""
    rows = [consent(f"c{i}", "opt_in", T0) for i in range(5)]
    rows += [
        consent("c0", "opt_out", T0 + timedelta(hours=1)),
        consent("c0", "opt_in", T0 - timedelta(days=1)),
    ]
    store.append_consents(rows)
    assert store.consent_counts() == {
        ("email", "marketing", "opt_in"): 4,
        ("email", "marketing", "opt_out"): 1,
    }
