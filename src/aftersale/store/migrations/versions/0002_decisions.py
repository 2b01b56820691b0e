"""Decision engine state: decision passes, journeys, decisions and the outbox.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 00:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

__all__ = ["branch_labels", "depends_on", "down_revision", "downgrade", "revision", "upgrade"]

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Written by hand and frozen: later changes to state_tables.py need a new revision.
_BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _utc() -> sa.DateTime:
    """Timestamp column type: TIMESTAMPTZ on PostgreSQL, naive UTC text on SQLite."""
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create the tables the decision engine keeps between passes."""
    op.create_table(
        "decision_passes",
        sa.Column("pass_id", sa.String(64), nullable=False),
        sa.Column("as_of", _utc(), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("started_at", _utc(), nullable=False),
        sa.Column("finished_at", _utc(), nullable=False),
        sa.Column("playbook", sa.String(64), nullable=False),
        sa.Column("customers", sa.BigInteger(), nullable=False),
        sa.Column("counts", sa.Text(), nullable=False),
        sa.CheckConstraint(
            "mode IN ('batch', 'incremental')", name=op.f("ck_decision_passes_mode")
        ),
        sa.PrimaryKeyConstraint("pass_id", name=op.f("pk_decision_passes")),
    )
    op.create_index("ix_decision_passes_as_of", "decision_passes", ["as_of"])

    op.create_table(
        "journeys",
        sa.Column("journey_id", sa.String(64), nullable=False),
        sa.Column("customer_id", sa.String(255), nullable=False),
        sa.Column("play_id", sa.String(64), nullable=False),
        sa.Column("occurrence", sa.String(255), nullable=False),
        sa.Column("order_id", sa.String(255), nullable=True),
        sa.Column("product_id", sa.String(255), nullable=True),
        sa.Column("entered_at", _utc(), nullable=False),
        sa.Column("trigger", sa.Text(), nullable=True),
        sa.Column("evidence", sa.Text(), nullable=True),
        sa.Column("pc", sa.Integer(), nullable=False),
        sa.Column("step_id", sa.String(64), nullable=True),
        sa.Column("due_at", _utc(), nullable=True),
        sa.Column("waiting_since", _utc(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("exit_reason", sa.Text(), nullable=True),
        sa.Column("path", sa.Text(), nullable=True),
        sa.Column("updated_at", _utc(), nullable=False),
        sa.CheckConstraint(
            "status IN ('active', 'done', 'exited')", name=op.f("ck_journeys_status")
        ),
        sa.PrimaryKeyConstraint("journey_id", name=op.f("pk_journeys")),
    )
    op.create_index("ix_journeys_customer_id", "journeys", ["customer_id", "play_id"])
    op.create_index("ix_journeys_status", "journeys", ["status", "due_at"])

    op.create_table(
        "decisions",
        sa.Column("id", _BigId, autoincrement=True, nullable=False),
        sa.Column("idempotency_key", sa.String(64), nullable=False),
        sa.Column("pass_id", sa.String(64), nullable=False),
        sa.Column("decided_at", _utc(), nullable=False),
        sa.Column("customer_id", sa.String(255), nullable=False),
        sa.Column("play_id", sa.String(64), nullable=False),
        sa.Column("step_id", sa.String(64), nullable=False),
        sa.Column("occurrence", sa.String(255), nullable=False),
        sa.Column("journey_id", sa.String(64), nullable=True),
        sa.Column("order_id", sa.String(255), nullable=True),
        sa.Column("product_id", sa.String(255), nullable=True),
        sa.Column("purpose", sa.String(16), nullable=False),
        sa.Column("goal", sa.String(32), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("gate", sa.String(32), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("channel", sa.String(16), nullable=True),
        sa.Column("variant", sa.String(64), nullable=True),
        sa.Column("send_at", _utc(), nullable=True),
        sa.Column("explanation", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "outcome IN ('send', 'defer', 'suppress')", name=op.f("ck_decisions_outcome")
        ),
        sa.ForeignKeyConstraint(
            ["pass_id"],
            ["decision_passes.pass_id"],
            name=op.f("fk_decisions_pass_id_decision_passes"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_decisions")),
        sa.UniqueConstraint("idempotency_key", name="uq_decisions_idempotency_key"),
    )
    op.create_index("ix_decisions_customer_id", "decisions", ["customer_id", "decided_at"])
    op.create_index("ix_decisions_decided_at", "decisions", ["decided_at"])

    op.create_table(
        "outbox",
        sa.Column("id", _BigId, autoincrement=True, nullable=False),
        sa.Column("idempotency_key", sa.String(64), nullable=False),
        sa.Column("customer_id", sa.String(255), nullable=False),
        sa.Column("play_id", sa.String(64), nullable=False),
        sa.Column("step_id", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("purpose", sa.String(16), nullable=False),
        sa.Column("variant", sa.String(64), nullable=True),
        sa.Column("order_id", sa.String(255), nullable=True),
        sa.Column("product_id", sa.String(255), nullable=True),
        sa.Column("due_at", _utc(), nullable=False),
        sa.Column("status", sa.String(16), server_default="pending", nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("idempotency_key", name="uq_outbox_idempotency_key"),
    )
    op.create_index("ix_outbox_status", "outbox", ["status", "due_at"])


def downgrade() -> None:
    """Drop the decision engine's tables."""
    op.drop_index("ix_outbox_status", table_name="outbox")
    op.drop_table("outbox")
    op.drop_index("ix_decisions_decided_at", table_name="decisions")
    op.drop_index("ix_decisions_customer_id", table_name="decisions")
    op.drop_table("decisions")
    op.drop_index("ix_journeys_status", table_name="journeys")
    op.drop_index("ix_journeys_customer_id", table_name="journeys")
    op.drop_table("journeys")
    op.drop_index("ix_decision_passes_as_of", table_name="decision_passes")
    op.drop_table("decision_passes")
