"""verification: approval-system clients (hashed keys, grants, rate limits) and issued sealed answers

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "verification_client",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("department", sa.String(length=128), nullable=True),
        sa.Column("key_hash", sa.String(length=255), nullable=False),
        sa.Column("allowed_items", sa.JSON(), nullable=False),
        sa.Column("rate_limit_per_minute", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_verification_client")),
    )
    op.create_table(
        "verification_answer",
        sa.Column("answer_id", sa.String(length=36), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("item", sa.String(length=64), nullable=False),
        sa.Column("case_number", sa.String(length=80), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("issued_at", sa.String(length=32), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("answer_id", name=op.f("pk_verification_answer")),
    )
    with op.batch_alter_table("verification_answer", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_verification_answer_client_id"), ["client_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_verification_answer_case_number"), ["case_number"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("verification_answer", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_verification_answer_case_number"))
        batch_op.drop_index(batch_op.f("ix_verification_answer_client_id"))
    op.drop_table("verification_answer")
    op.drop_table("verification_client")
