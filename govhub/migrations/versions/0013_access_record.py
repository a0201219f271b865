"""the access record's index by keyed subject hash (verification answers, versions' changed subjects);
the sharing authority's API keys

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "subject_query",
        sa.Column("seq", _SEQ, primary_key=True, autoincrement=False),
        sa.Column("subject_hash", sa.String(128), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("client", sa.String(128), nullable=False),
        sa.Column("item", sa.String(64), nullable=False),
        sa.Column("resource", sa.String(64), nullable=True),
        sa.Column("version", sa.BigInteger(), nullable=True),
        sa.Column("case_number", sa.String(80), nullable=True),
        sa.Column("purpose", sa.String(255), nullable=True),
        sa.Column("answer", sa.Text(), nullable=False),
    )
    op.create_index("ix_subject_query_subject_hash_seq", "subject_query", ["subject_hash", "seq"])
    op.create_table(
        "subject_change",
        sa.Column("resource", sa.String(64), primary_key=True),
        sa.Column("version", _SEQ, primary_key=True),
        sa.Column("subject_hash", sa.String(128), primary_key=True),
        sa.Column("change", sa.String(8), nullable=False),
        sa.Column("field", sa.String(64), nullable=False),
    )
    op.create_index("ix_subject_change_subject_hash", "subject_change", ["subject_hash", "resource", "version"])
    op.create_table(
        "subject_change_mark",
        sa.Column("resource", sa.String(64), primary_key=True),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "admin_api_key",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("key_hash", sa.String(255), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("admin_api_key")
    op.drop_table("subject_change_mark")
    op.drop_index("ix_subject_change_subject_hash", table_name="subject_change")
    op.drop_table("subject_change")
    op.drop_index("ix_subject_query_subject_hash_seq", table_name="subject_query")
    op.drop_table("subject_query")
