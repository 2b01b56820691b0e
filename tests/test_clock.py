"""The clock: fixed time for tests, tz-aware everywhere."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from aftersale.clock import FixedClock, SystemClock, ensure_utc


def test_fixed_clock_moves_only_forward() -> None:
    clock = FixedClock(datetime(2026, 1, 1, tzinfo=UTC))
    clock.advance(timedelta(hours=2))
    assert clock.now() == datetime(2026, 1, 1, 2, tzinfo=UTC) and clock.monotonic() == 7200
    with pytest.raises(ValueError, match="backwards"):
        clock.advance(timedelta(seconds=-1))


def test_times_are_utc_and_naive_ones_are_refused() -> None:
    assert SystemClock().now().tzinfo is UTC
    assert ensure_utc(datetime(2026, 1, 1, 3, tzinfo=timezone(timedelta(hours=3)))) == datetime(
        2026, 1, 1, tzinfo=UTC
    )
    with pytest.raises(ValueError, match="naive"):
        FixedClock(datetime(2026, 1, 1))
