"""catalogue: departments, resources and their data items, subscriptions and their events

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "department",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("name_en", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("api_key_hash", sa.String(length=255), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_department")),
    )
    op.create_table(
        "resource",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("resource", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("name_en", sa.String(length=200), nullable=False),
        sa.Column("abstract", sa.Text(), nullable=False),
        sa.Column("classification_code", sa.String(length=16), nullable=False),
        sa.Column("classification", sa.JSON(), nullable=False),
        sa.Column("provider_code", sa.String(length=32), nullable=False),
        sa.Column("provider_name", sa.String(length=100), nullable=False),
        sa.Column("source_system", sa.String(length=64), nullable=False),
        sa.Column("format", sa.String(length=100), nullable=False),
        sa.Column("sharing_type", sa.String(length=16), nullable=False),
        sa.Column("sharing_condition", sa.Text(), nullable=False),
        sa.Column("sharing_method", sa.String(length=100), nullable=False),
        sa.Column("open_to_public", sa.Boolean(), nullable=False),
        sa.Column("open_condition", sa.Text(), nullable=False),
        sa.Column("update_cycle", sa.String(length=8), nullable=False),
        sa.Column("primary_key", sa.JSON(), nullable=False),
        sa.Column("related", sa.JSON(), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_resource")),
        sa.UniqueConstraint("resource", name=op.f("uq_resource_resource")),
    )
    with op.batch_alter_table("resource", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_resource_classification_code"), ["classification_code"], unique=False)
        batch_op.create_index(batch_op.f("ix_resource_provider_code"), ["provider_code"], unique=False)

    op.create_table(
        "resource_item",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("resource_code", sa.String(length=32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.Column("label_en", sa.String(length=200), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("pii", sa.String(length=16), nullable=False),
        sa.Column("required", sa.Boolean(), nullable=False),
        sa.Column("primary_key", sa.Boolean(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["resource_code"],
            ["resource.code"],
            name=op.f("fk_resource_item_resource_code_resource"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_resource_item")),
        sa.UniqueConstraint("resource_code", "name", name=op.f("uq_resource_item_resource_code")),
    )
    with op.batch_alter_table("resource_item", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_resource_item_resource_code"), ["resource_code"], unique=False)

    op.create_table(
        "subscription",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("resource", sa.String(length=64), nullable=False),
        sa.Column("department_code", sa.String(length=32), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("legal_basis", sa.Text(), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("pii_access", sa.Boolean(), nullable=False),
        sa.Column("delivery_mode", sa.String(length=16), nullable=False),
        sa.Column("target_url", sa.Text(), nullable=True),
        sa.Column("schedule", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("refusal_reason", sa.Text(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["department_code"], ["department.code"], name=op.f("fk_subscription_department_code_department")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscription")),
    )
    with op.batch_alter_table("subscription", schema=None) as batch_op:
        for column in ("resource", "department_code", "status"):
            batch_op.create_index(batch_op.f(f"ix_subscription_{column}"), [column], unique=False)

    op.create_table(
        "subscription_event",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("subscription_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["subscription.id"],
            name=op.f("fk_subscription_event_subscription_id_subscription"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscription_event")),
    )
    with op.batch_alter_table("subscription_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_subscription_event_subscription_id"), ["subscription_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("subscription_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subscription_event_subscription_id"))
    op.drop_table("subscription_event")
    with op.batch_alter_table("subscription", schema=None) as batch_op:
        for column in ("status", "department_code", "resource"):
            batch_op.drop_index(batch_op.f(f"ix_subscription_{column}"))
    op.drop_table("subscription")
    with op.batch_alter_table("resource_item", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_resource_item_resource_code"))
    op.drop_table("resource_item")
    with op.batch_alter_table("resource", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_resource_provider_code"))
        batch_op.drop_index(batch_op.f("ix_resource_classification_code"))
    op.drop_table("resource")
    op.drop_table("department")
