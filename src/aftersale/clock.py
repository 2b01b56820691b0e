"""The only module that reads wall time; everything else receives a :class:`Clock`."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "FixedClock", "SystemClock", "ensure_utc", "known_time_zone"]


@runtime_checkable
class Clock(Protocol):
    """Source of the current time (tz-aware UTC) and of a monotonic counter."""

    def now(self) -> datetime:
        """Return the current time as a tz-aware UTC datetime."""
        ...

    def monotonic(self) -> float:
        """Return seconds from an arbitrary origin that never goes backwards."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        """Return the current UTC time."""
        return datetime.now(UTC)

    def monotonic(self) -> float:
        """Return :func:`time.monotonic`."""
        return time.monotonic()


class FixedClock:
    """A clock for tests and replays: stands still until moved with :meth:`advance`."""

    def __init__(self, at: datetime) -> None:
        self._at = ensure_utc(at)
        self._mono = 0.0

    def now(self) -> datetime:
        """Return the fixed time."""
        return self._at

    def monotonic(self) -> float:
        """Return seconds advanced so far."""
        return self._mono

    def advance(self, delta: timedelta) -> None:
        """Move the clock forward by ``delta``."""
        if delta < timedelta(0):
            raise ValueError("FixedClock cannot move backwards")
        self._at += delta
        self._mono += delta.total_seconds()


def ensure_utc(value: datetime) -> datetime:
    """Return ``value`` in UTC; a naive datetime is rejected rather than guessed."""
    if value.tzinfo is None:
        raise ValueError(
            f"naive datetime {value.isoformat()} has no time zone; pass a tz-aware value"
        )
    return value.astimezone(UTC)


def known_time_zone(name: str) -> str:
    """``name`` when it is an IANA time zone this machine knows; ``ValueError`` otherwise."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown IANA time zone {name!r}") from exc
    return name
