"""exchange log: hash-chained events, chain head, signed checkpoints, archives

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "exchange_event",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=False, nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("source", sa.String(length=128), nullable=False),
        sa.Column("target", sa.String(length=128), nullable=False),
        sa.Column("resource", sa.String(length=64), nullable=True),
        sa.Column("version", sa.BigInteger(), nullable=True),
        sa.Column("rows", sa.BigInteger(), nullable=True),
        sa.Column("bytes", sa.BigInteger(), nullable=True),
        sa.Column("checksum", sa.String(length=128), nullable=True),
        sa.Column("duration_ms", sa.Float(), nullable=True),
        sa.Column("outcome", sa.String(length=8), nullable=False),
        sa.Column("error_code", sa.String(length=64), nullable=True),
        sa.Column("run_id", sa.String(length=80), nullable=True),
        sa.Column("request_id", sa.String(length=80), nullable=True),
        sa.Column("case_number", sa.String(length=80), nullable=True),
        sa.Column("purpose", sa.String(length=255), nullable=True),
        sa.Column("subject_hash", sa.String(length=128), nullable=True),
        sa.Column("client", sa.String(length=128), nullable=True),
        sa.Column("department", sa.String(length=128), nullable=True),
        sa.Column("details", sa.JSON(), nullable=True),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_exchange_event")),
        sa.UniqueConstraint("event_id", name=op.f("uq_exchange_event_event_id")),
    )
    with op.batch_alter_table("exchange_event", schema=None) as batch_op:
        for column in ("type", "recorded_at", "resource", "outcome", "client", "department"):
            batch_op.create_index(batch_op.f(f"ix_exchange_event_{column}"), [column], unique=False)

    op.create_table(
        "exchange_log_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_log_head")),
    )
    op.create_table(
        "exchange_log_checkpoint",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("head_hash", sa.String(length=64), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("key_id", sa.String(length=128), nullable=False),
        sa.Column("algorithm", sa.String(length=16), nullable=False),
        sa.Column("public_key_pem", sa.Text(), nullable=False),
        sa.Column("signature", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_log_checkpoint")),
    )
    with op.batch_alter_table("exchange_log_checkpoint", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_exchange_log_checkpoint_seq"), ["seq"], unique=False)

    op.create_table(
        "exchange_log_archive",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("from_seq", sa.BigInteger(), nullable=False),
        sa.Column("to_seq", sa.BigInteger(), nullable=False),
        sa.Column("first_prev_hash", sa.String(length=64), nullable=False),
        sa.Column("head_hash", sa.String(length=64), nullable=False),
        sa.Column("path", sa.String(length=255), nullable=False),
        sa.Column("file_sm3", sa.String(length=64), nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.Column("archived_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_log_archive")),
        sa.UniqueConstraint("to_seq", name=op.f("uq_exchange_log_archive_to_seq")),
    )


def downgrade() -> None:
    op.drop_table("exchange_log_archive")
    with op.batch_alter_table("exchange_log_checkpoint", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_exchange_log_checkpoint_seq"))
    op.drop_table("exchange_log_checkpoint")
    op.drop_table("exchange_log_head")
    with op.batch_alter_table("exchange_event", schema=None) as batch_op:
        for column in ("department", "client", "outcome", "resource", "recorded_at", "type"):
            batch_op.drop_index(batch_op.f(f"ix_exchange_event_{column}"))
    op.drop_table("exchange_event")
