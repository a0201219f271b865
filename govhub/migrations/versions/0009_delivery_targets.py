"""named delivery targets replace department-sent target URLs; revoked monitor sessions

Each distinct (department, target_url) of the existing subscriptions becomes a delivery target named
`db` (then `db-2`, `db-3`...) whose URL moves out of the database into a secret file under
`<GOVHUB_HOME>/keys/delivery-targets/<department>/<name>.url` (mode 0600); the subscription then
names the target and `target_url` is dropped. Deliveries check each migrated target like any other
(a URL that reaches the hub's own store or another department's target is refused at delivery).

Revision ID: 0009
Revises: 0008
"""

from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "delivery_target",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("department_code", sa.String(32), sa.ForeignKey("department.code"), nullable=False, index=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("connection_ref", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("registered_by", sa.String(64), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.UniqueConstraint("department_code", "name", name="uq_delivery_target_name"),
    )
    op.create_table(
        "monitor_revoked_session",
        sa.Column("sid", sa.String(64), primary_key=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False, index=True),
    )
    with op.batch_alter_table("subscription") as batch_op:
        batch_op.add_column(sa.Column("target_name", sa.String(64), nullable=True))
    _move_urls_to_targets()
    with op.batch_alter_table("subscription") as batch_op:
        batch_op.drop_column("target_url")


def _move_urls_to_targets() -> None:
    from datetime import UTC, datetime

    from govhub.delivery_targets import write_secret_file
    from govhub.settings import get_settings

    bind = op.get_bind()
    rows = bind.execute(
        sa.text("SELECT id, department_code, target_url FROM subscription WHERE target_url IS NOT NULL ORDER BY id")
    ).all()
    if not rows:
        return
    folder = get_settings().delivery_targets_dir
    names: dict[tuple[str, str], str] = {}
    counts: dict[str, int] = {}
    now = datetime.now(UTC)
    for sub_id, department, url in rows:
        key = (department, url)
        if key not in names:
            counts[department] = counts.get(department, 0) + 1
            name = "db" if counts[department] == 1 else f"db-{counts[department]}"
            path = Path(folder) / department / f"{name}.url"
            write_secret_file(path, url)
            bind.execute(
                sa.text(
                    "INSERT INTO delivery_target (department_code, name, connection_ref, active, registered_by, "
                    "registered_at, note) VALUES (:d, :n, :r, :a, 'migration', :t, :note)"
                ),
                {
                    "d": department,
                    "n": name,
                    "r": f"file:{path}",
                    "a": True,
                    "t": now,
                    "note": "moved from the subscription's target_url",
                },
            )
            names[key] = name
        bind.execute(sa.text("UPDATE subscription SET target_name = :n WHERE id = :i"), {"n": names[key], "i": sub_id})


def downgrade() -> None:
    with op.batch_alter_table("subscription") as batch_op:
        batch_op.add_column(sa.Column("target_url", sa.Text(), nullable=True))
    bind = op.get_bind()
    for sub_id, ref in bind.execute(
        sa.text(
            "SELECT s.id, t.connection_ref FROM subscription s JOIN delivery_target t "
            "ON t.department_code = s.department_code AND t.name = s.target_name"
        )
    ).all():
        url = Path(ref.removeprefix("file:")).read_text().strip() if ref.startswith("file:") else None
        bind.execute(sa.text("UPDATE subscription SET target_url = :u WHERE id = :i"), {"u": url, "i": sub_id})
    with op.batch_alter_table("subscription") as batch_op:
        batch_op.drop_column("target_name")
    op.drop_table("monitor_revoked_session")
    op.drop_table("delivery_target")
