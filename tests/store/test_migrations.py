"""Opening and migrating the state store: Alembic up / down / up, schema = ``state_tables``."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from pydantic import SecretStr
from sqlalchemy import Column, Engine, MetaData, String, Table, create_engine, inspect, text

import aftersale.store.state as state_module
from aftersale.config import Settings, StateSettings
from aftersale.errors import StorageError
from aftersale.store.state import StateStore
from aftersale.store.state_tables import metadata

__all__: list[str] = []

STATE_TABLES = {
    "consent_ledger",
    "load_files",
    "load_runs",
    "decision_passes",
    "journeys",
    "decisions",
    "outbox",
}
HEAD = "0002"
T0 = datetime(2024, 1, 1, tzinfo=UTC)
MIGRATIONS = Path(state_module.__file__).with_name("migrations")


@pytest.fixture
def plain_engine(state_url: str) -> Iterator[Engine]:
    """An engine without the store's hooks, to look at the schema from outside."""
    engine = create_engine(state_url)
    yield engine
    engine.dispose()


def _tables(engine: Engine) -> set[str]:
    """Names of the tables in the database behind ``engine``."""
    return set(inspect(engine).get_table_names())


def test_upgrade_downgrade_upgrade(empty_store: StateStore, plain_engine: Engine) -> None:
    """Migrations go up, all the way down and up again, leaving a usable store."""
    empty_store.migrate()
    assert _tables(plain_engine) == STATE_TABLES | {"alembic_version"}
    empty_store.start_load("l1", "orders", "csv", [], T0)
    empty_store.downgrade("base")
    assert _tables(plain_engine) <= {"alembic_version"}
    assert empty_store.current_revision() is None
    empty_store.migrate()
    assert empty_store.current_revision() == HEAD
    assert empty_store.table_counts() == dict.fromkeys(sorted(STATE_TABLES), 0)


def test_migrated_schema_matches_metadata(store: StateStore, plain_engine: Engine) -> None:
    """Like `alembic check`: the schema at head is exactly state_tables.metadata."""
    with plain_engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, metadata) == []


def test_schema_details_that_autogenerate_does_not_compare(
    store: StateStore, plain_engine: Engine
) -> None:
    """Unique, check and foreign-key constraints and tz-aware timestamps exist as intended."""
    inspector = inspect(plain_engine)
    uniques = inspector.get_unique_constraints("consent_ledger")
    assert [u["column_names"] for u in uniques] == [
        ["customer_id", "channel", "purpose", "recorded_at", "status"]
    ]
    checks = {c["name"] for t in STATE_TABLES for c in inspector.get_check_constraints(t)}
    assert checks == {
        "ck_load_runs_status",
        "ck_consent_ledger_status",
        "ck_decision_passes_mode",
        "ck_journeys_status",
        "ck_decisions_outcome",
    }
    assert [u["column_names"] for u in inspector.get_unique_constraints("decisions")] == [
        ["idempotency_key"]
    ]
    assert [u["column_names"] for u in inspector.get_unique_constraints("outbox")] == [
        ["idempotency_key"]
    ]
    fks = {
        (t, fk["referred_table"], fk["options"].get("ondelete"))
        for t in STATE_TABLES
        for fk in inspector.get_foreign_keys(t)
    }
    assert fks == {
        ("load_files", "load_runs", "CASCADE"),
        ("consent_ledger", "load_runs", "SET NULL"),
        ("decisions", "decision_passes", None),
    }
    started = inspector.get_columns("load_runs")[4]
    assert started["name"] == "started_at"
    if plain_engine.dialect.name == "postgresql":
        assert getattr(started["type"], "timezone", None) is True


def test_a_metadata_change_without_migration_is_detected(
    store: StateStore, plain_engine: Engine
) -> None:
    """The comparison above can fail: a column added only in metadata shows up."""
    changed = MetaData()
    for table in metadata.tables.values():
        table.to_metadata(changed)
    Table("load_runs", changed, Column("extra", String(8)), extend_existing=True)
    with plain_engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), changed)
    assert [d[0] for d in diff] == ["add_column"]


def test_concurrent_migrate_calls_agree(state_url: str) -> None:
    """Workers starting together all migrate without error (advisory lock / BEGIN IMMEDIATE)."""
    stores = [StateStore.from_url(state_url) for _ in range(3)]
    revisions: list[str] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(stores))

    def run(store: StateStore) -> None:
        try:
            barrier.wait()
            revisions.append(store.migrate())
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(s,)) for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    for store in stores:
        store.close()
    assert errors == []
    assert revisions == [HEAD] * 3


def test_downgrade_to_unknown_revision_is_a_storage_error(store: StateStore) -> None:
    """Alembic's errors become StorageError and leave the schema as it was."""
    with pytest.raises(StorageError, match=r"cannot downgrade state store at .* to nope"):
        store.downgrade("nope")
    assert store.current_revision() == HEAD


def test_revision_history_is_linear_and_self_contained() -> None:
    """One head, no alembic.ini needed, and revisions never import project code."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    script = ScriptDirectory.from_config(config)
    assert script.get_heads() == [HEAD]
    assert [r.revision for r in script.walk_revisions()] == ["0002", "0001"]
    assert not (MIGRATIONS / "alembic.ini").exists()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        source = path.read_text(encoding="utf-8")
        assert "aftersale" not in source.split('"""', 2)[2], f"{path.name} imports project code"


def test_migrate_is_idempotent_and_reaches_head(empty_store: StateStore) -> None:
    """`aftersale init` may run any number of times; each run ends at the shipped head."""
    assert empty_store.current_revision() is None
    assert empty_store.migrate() == HEAD
    assert empty_store.migrate() == HEAD
    assert empty_store.current_revision() == empty_store.head_revision() == HEAD


def test_uninitialised_store_refuses_writes_with_a_hint(empty_store: StateStore) -> None:
    """Writing before `aftersale init` says how to fix it instead of failing on a missing table."""
    with pytest.raises(StorageError) as info:
        empty_store.start_load("l-uninit", "orders", "csv", ["o.csv"], T0)
    message = str(info.value)
    assert "is not initialised; run `aftersale init`" in message
    assert empty_store.url in message
    with pytest.raises(StorageError, match="not initialised"):
        empty_store.append_consents(
            [
                {
                    "customer_id": "c",
                    "channel": "email",
                    "purpose": "marketing",
                    "status": "opt_in",
                    "recorded_at": T0,
                }
            ]
        )


def test_store_downgraded_underneath_is_reported_as_uninitialised(store: StateStore) -> None:
    """The once-only initialisation check is reset when the schema is changed through the store."""
    store.downgrade("base")
    with pytest.raises(StorageError, match="not initialised"):
        store.loads()


def test_sqlite_missing_file_is_uninitialised_and_not_created(tmp_path: Path) -> None:
    """Looking at a missing SQLite file must not create it; migrating creates file and folder."""
    path = tmp_path / "nested" / "state.sqlite"
    with StateStore.from_url(f"sqlite:///{path}") as store:
        assert store.current_revision() is None
        with pytest.raises(StorageError, match="not initialised"):
            store.table_counts()
        assert not path.exists()
        store.migrate()  # creates the folder, as `aftersale init` needs
        assert path.is_file()
        assert store.table_counts() == dict.fromkeys(sorted(STATE_TABLES), 0)


def test_sqlite_file_is_in_wal_mode(tmp_path: Path) -> None:
    """WAL lets readers (status, API) run while a load writes."""
    path = tmp_path / "s.sqlite"
    with StateStore.from_url(f"sqlite:///{path}") as store:
        store.migrate()
    engine = create_engine(f"sqlite:///{path}")
    with engine.connect() as conn:  # WAL is a property of the file, so a plain engine sees it
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    engine.dispose()


def test_from_settings_uses_state_url(tmp_path: Path) -> None:
    """The store opens the URL from Settings.state.url."""
    url = f"sqlite:///{tmp_path / 'from-settings.sqlite'}"
    settings = Settings(state=StateSettings(url=SecretStr(url)))
    with StateStore.from_settings(settings) as store:
        assert store.url == url
        assert store.dialect == "sqlite"
        assert store.migrate() == HEAD
