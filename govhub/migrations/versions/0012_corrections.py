"""data corrections (校核纠错): a reported error on one field of one curated record, the provider's
answer and the record's closing when a published version carries a corrected value

Revision ID: 0012
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "correction_flag",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("resource", sa.String(64), nullable=False, index=True),
        sa.Column("record_key", sa.String(255), nullable=False, index=True),
        sa.Column("field", sa.String(64), nullable=False),
        sa.Column("provider_code", sa.String(32), nullable=False, index=True),
        sa.Column("reporter_kind", sa.String(16), nullable=False),
        sa.Column("reporter", sa.String(64), nullable=False, index=True),
        sa.Column("case_number", sa.String(80), nullable=True),
        sa.Column("problem", sa.Text(), nullable=False),
        sa.Column("evidence_text", sa.Text(), nullable=True),
        sa.Column("evidence_ref", sa.String(500), nullable=True),
        sa.Column("flagged_value", sa.Text(), nullable=True),
        sa.Column("flagged_version", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("overdue_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(64), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_version", sa.Integer(), nullable=True),
    )
    active = sa.text("status IN ('open', 'confirmed')")
    op.create_index(
        "uq_correction_flag_active",
        "correction_flag",
        ["resource", "record_key", "field"],
        unique=True,
        sqlite_where=active,
        postgresql_where=active,
    )
    op.create_table(
        "correction_event",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "flag_id",
            sa.Integer(),
            sa.ForeignKey("correction_flag.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(80), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("correction_event")
    op.drop_index("uq_correction_flag_active", table_name="correction_flag")
    op.drop_table("correction_flag")
