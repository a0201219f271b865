"""exchange log at a year's size: (column, seq) indexes for every monitor filter, canonical details text,
marks (last verified checkpoint, rollup watermark), verification history and hour/day rollups

Revision ID: 0008
Revises: 0007
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_FILTERED = ("type", "resource", "department", "client", "outcome", "case_number", "subject_hash", "target", "source")
_OLD = ("type", "resource", "outcome", "client", "department")
_BATCH = 20_000


def _canonical(value: object) -> str:
    from exchange.crypto import canonical_json

    return canonical_json(value).decode("utf-8")


def _rewrite_details(bind: sa.Connection) -> None:
    """Store every event's details as its canonical JSON text: the same value, so no hash changes."""
    events = sa.table("exchange_event", sa.column("seq", sa.BigInteger), sa.column("details", sa.Text))
    after = 0
    while True:
        rows = bind.execute(
            sa.select(events.c.seq, events.c.details)
            .where(events.c.seq > after, events.c.details.is_not(None))
            .order_by(events.c.seq)
            .limit(_BATCH)
        ).all()
        if not rows:
            return
        changed = []
        for seq, text in rows:
            value = json.loads(text) if isinstance(text, str) else text
            canonical = _canonical(value)
            if canonical != text:
                changed.append({"s": seq, "d": canonical})
        if changed:
            bind.execute(
                sa.update(events).where(events.c.seq == sa.bindparam("s")).values(details=sa.bindparam("d")), changed
            )
        after = rows[-1][0]


def upgrade() -> None:
    bind = op.get_bind()
    with op.batch_alter_table("exchange_event", schema=None) as batch_op:
        for column in _OLD:
            batch_op.drop_index(f"ix_exchange_event_{column}")
        for column in _FILTERED:
            batch_op.create_index(f"ix_exchange_event_{column}_seq", [column, "seq"], unique=False)
    if bind.dialect.name == "postgresql":
        op.execute("ALTER TABLE exchange_event ALTER COLUMN details TYPE text USING details::text")
    _rewrite_details(bind)
    op.create_table(
        "exchange_log_mark",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("checkpoint_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_exchange_log_mark")),
    )
    op.create_table(
        "exchange_log_check",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("from_seq", sa.BigInteger(), nullable=True),
        sa.Column("to_seq", sa.BigInteger(), nullable=True),
        sa.Column("events", sa.BigInteger(), nullable=False),
        sa.Column("unsigned_tail", sa.BigInteger(), nullable=False),
        sa.Column("problem", sa.String(length=32), nullable=True),
        sa.Column("first_bad_seq", sa.BigInteger(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_log_check")),
    )
    op.create_index(op.f("ix_exchange_log_check_kind"), "exchange_log_check", ["kind"], unique=False)
    op.create_table(
        "exchange_rollup",
        sa.Column("grain", sa.String(length=1), nullable=False),
        sa.Column("bucket", sa.String(length=16), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=128), nullable=False),
        sa.Column("department", sa.String(length=128), nullable=False),
        sa.Column("client", sa.String(length=128), nullable=False),
        sa.Column("outcome", sa.String(length=8), nullable=False),
        sa.Column("events", sa.BigInteger(), nullable=False),
        sa.Column("rows", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "grain", "bucket", "type", "source", "department", "client", "outcome", name=op.f("pk_exchange_rollup")
        ),
    )


def downgrade() -> None:
    op.drop_table("exchange_rollup")
    op.drop_index(op.f("ix_exchange_log_check_kind"), table_name="exchange_log_check")
    op.drop_table("exchange_log_check")
    op.drop_table("exchange_log_mark")
    with op.batch_alter_table("exchange_event", schema=None) as batch_op:
        for column in _FILTERED:
            batch_op.drop_index(f"ix_exchange_event_{column}_seq")
        for column in _OLD:
            batch_op.create_index(f"ix_exchange_event_{column}", [column], unique=False)
