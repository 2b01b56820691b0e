"""Shared fixtures: a throw-away project and paths to the shared datasets."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from aftersale.clock import FixedClock
from aftersale.config import Settings
from tests.factories import make_settings
from tests.pg import postgres_session_url

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings of a fresh project in a temporary folder (DuckDB file + SQLite file)."""
    return make_settings(tmp_path / "project")


@pytest.fixture
def clock() -> FixedClock:
    """A clock standing at 2026-01-15 12:00 UTC."""
    return FixedClock(datetime(2026, 1, 15, 12, 0, tzinfo=UTC))


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """URL of a throw-away PostgreSQL server started from Debian's binaries for this session."""
    yield from postgres_session_url()
