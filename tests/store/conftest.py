"""Fixtures for the store tests: a PostgreSQL server per session and a state store per backend.

``pg_url`` (with its import of ``postgres_session_url``) moves unchanged into ``tests/conftest.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from uuid import uuid4

import pytest

from aftersale.store.state import StateStore
from tests.pg import create_database, drop_database

__all__ = ["BACKENDS", "empty_store", "state_url", "store"]

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def state_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """URL of an empty database: a fresh SQLite file, or a fresh database on the test server."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'state.sqlite'}"
        return
    server_url: str = request.getfixturevalue("pg_url")
    url = create_database(server_url, f"state_{uuid4().hex[:16]}")
    yield url
    drop_database(url)


@pytest.fixture
def empty_store(state_url: str) -> Iterator[StateStore]:
    """A state store on a database that was never migrated."""
    store = StateStore.from_url(state_url)
    yield store
    store.close()


@pytest.fixture
def store(empty_store: StateStore) -> StateStore:
    """A state store migrated to the newest schema revision."""
    empty_store.migrate()
    return empty_store
