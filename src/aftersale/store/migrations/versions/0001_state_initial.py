"""Initial state tables: load_runs, load_files, consent_ledger.

Revision ID: 0001
Revises:
Create Date: 2025-01-01 00:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

__all__ = ["branch_labels", "depends_on", "down_revision", "downgrade", "revision", "upgrade"]

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Written by hand and frozen: later changes to state_tables.py need a new revision.
_BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _utc() -> sa.DateTime:
    """Timestamp column type: TIMESTAMPTZ on PostgreSQL, naive UTC text on SQLite."""
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create the load-run bookkeeping and the consent ledger."""
    op.create_table(
        "load_runs",
        sa.Column("load_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("source_format", sa.String(32), nullable=False),
        sa.Column("paths", sa.Text(), nullable=False),
        sa.Column("started_at", _utc(), nullable=False),
        sa.Column("finished_at", _utc(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("rows_read", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("rows_loaded", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("rows_merged", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("rows_duplicate", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("rows_quarantined", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("report", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status IN ('running', 'succeeded', 'failed')", name=op.f("ck_load_runs_status")
        ),
        sa.PrimaryKeyConstraint("load_id", name=op.f("pk_load_runs")),
    )
    op.create_index("ix_load_runs_kind_started_at", "load_runs", ["kind", "started_at"])
    op.create_index("ix_load_runs_started_at", "load_runs", ["started_at"])

    op.create_table(
        "load_files",
        sa.Column("load_id", sa.String(64), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("rows_read", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["load_id"],
            ["load_runs.load_id"],
            name=op.f("fk_load_files_load_id_load_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("load_id", "path", name=op.f("pk_load_files")),
    )
    op.create_index("ix_load_files_sha256", "load_files", ["sha256"])

    op.create_table(
        "consent_ledger",
        sa.Column("id", _BigId, autoincrement=True, nullable=False),
        sa.Column("customer_id", sa.String(255), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("purpose", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("recorded_at", _utc(), nullable=False),
        sa.Column("method", sa.String(255), nullable=True),
        sa.Column("evidence", sa.Text(), nullable=True),
        sa.Column("source", sa.String(255), nullable=True),
        sa.Column("load_id", sa.String(64), nullable=True),
        sa.CheckConstraint(
            "status IN ('opt_in', 'opt_out')", name=op.f("ck_consent_ledger_status")
        ),
        sa.ForeignKeyConstraint(
            ["load_id"],
            ["load_runs.load_id"],
            name=op.f("fk_consent_ledger_load_id_load_runs"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_ledger")),
        sa.UniqueConstraint(
            "customer_id",
            "channel",
            "purpose",
            "recorded_at",
            "status",
            name="uq_consent_ledger_entry",
        ),
    )
    op.create_index("ix_consent_ledger_load_id", "consent_ledger", ["load_id"])


def downgrade() -> None:
    """Drop the tables in reverse order of their foreign keys."""
    op.drop_index("ix_consent_ledger_load_id", table_name="consent_ledger")
    op.drop_table("consent_ledger")
    op.drop_index("ix_load_files_sha256", table_name="load_files")
    op.drop_table("load_files")
    op.drop_index("ix_load_runs_started_at", table_name="load_runs")
    op.drop_index("ix_load_runs_kind_started_at", table_name="load_runs")
    op.drop_table("load_runs")
