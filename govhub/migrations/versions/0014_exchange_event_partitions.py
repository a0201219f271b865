"""exchange log retention on PostgreSQL: `exchange_event` partitioned by month of `recorded_at`, so archiving
a month drops its partition instead of deleting its rows (SQLite unchanged: it deletes and vacuums)

Revision ID: 0014
Revises: 0013
"""

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    from exchange.log.partitions import partition_exchange_event

    partition_exchange_event(bind)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    op.execute("CREATE TABLE exchange_event_flat (LIKE exchange_event INCLUDING DEFAULTS)")
    op.execute("INSERT INTO exchange_event_flat SELECT * FROM exchange_event")
    op.execute("DROP TABLE exchange_event CASCADE")
    op.execute("ALTER TABLE exchange_event_flat RENAME TO exchange_event")
    op.execute("ALTER TABLE exchange_event ADD CONSTRAINT pk_exchange_event PRIMARY KEY (seq)")
    op.execute("ALTER TABLE exchange_event ADD CONSTRAINT uq_exchange_event_event_id UNIQUE (event_id)")
    op.execute("CREATE INDEX ix_exchange_event_recorded_at ON exchange_event (recorded_at)")
    for column in (
        "type",
        "resource",
        "department",
        "client",
        "outcome",
        "case_number",
        "subject_hash",
        "target",
        "source",
    ):
        op.execute(f"CREATE INDEX ix_exchange_event_{column}_seq ON exchange_event ({column}, seq)")
