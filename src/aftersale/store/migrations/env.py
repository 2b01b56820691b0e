"""Alembic environment of the state store: runs on a connection handed over by ``StateStore``.

``StateStore.migrate()`` builds an ``alembic.config.Config`` in code and passes its open
connection as ``config.attributes["connection"]``; the migrations then run inside that
connection's transaction. A URL in ``sqlalchemy.url`` is used only when no connection is given
(for example by a developer running ``alembic`` by hand with ``-x``-less configs).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine, pool

from aftersale.store.state_tables import metadata

__all__: list[str] = []


def _configure_and_run(connection: Connection) -> None:
    """Run the pending migrations on ``connection`` (batch mode so SQLite can alter tables)."""
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _run_offline() -> None:
    """Emit the migration SQL for the configured URL instead of executing it."""
    context.configure(
        url=context.config.get_main_option("sqlalchemy.url"),
        target_metadata=metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _run_online() -> None:
    """Run on the caller's connection, or on a short-lived engine built from the URL."""
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _configure_and_run(connection)
        return
    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no connection in config.attributes and no sqlalchemy.url set")
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.begin() as conn:
            _configure_and_run(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    _run_offline()
else:
    _run_online()
