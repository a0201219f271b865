"""runs know their kind (ingest, recheck, reprocess) and pending rows; resources count open pending rows

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ingest_run", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kind", sa.String(16), nullable=False, server_default="ingest"))
        batch_op.add_column(sa.Column("scope", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("pending", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("outcomes", sa.JSON(), nullable=True))
    with op.batch_alter_table("resource_state", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pending", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("resource_state", schema=None) as batch_op:
        batch_op.drop_column("pending")
    with op.batch_alter_table("ingest_run", schema=None) as batch_op:
        batch_op.drop_column("outcomes")
        batch_op.drop_column("pending")
        batch_op.drop_column("scope")
        batch_op.drop_column("kind")
