"""data corrections: why a flag closed, as a column (`correction_flag.closed_reason`: corrected or
record_left) instead of words in its closing step's note; closed flags are filled in from that note

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

# what the closing step's note said, up to 0014, of a flag closed because its record left the published version
_RECORD_LEFT_NOTE = "%no longer holds the record%"


def upgrade() -> None:
    op.add_column("correction_flag", sa.Column("closed_reason", sa.String(16), nullable=True))
    # a closed flag's reason is its latest closing's (a flag reopened and closed again closed for the second reason)
    op.execute(
        sa.text(
            "UPDATE correction_flag SET closed_reason = CASE WHEN ("
            " SELECT e.note FROM correction_event e"
            " WHERE e.flag_id = correction_flag.id AND e.action = 'closed'"
            " ORDER BY e.id DESC LIMIT 1"
            ") LIKE :record_left THEN 'record_left' ELSE 'corrected' END "
            "WHERE status = 'closed'"
        ).bindparams(record_left=_RECORD_LEFT_NOTE)
    )


def downgrade() -> None:
    op.drop_column("correction_flag", "closed_reason")  # the closing notes still say it
