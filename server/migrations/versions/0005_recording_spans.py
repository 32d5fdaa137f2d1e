"""where each recording of a live session sits in the session's time

Revision ID: 0005_recording_spans
Revises: 0004_report_shares
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_recording_spans"
down_revision = "0004_report_shares"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("stream_sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("recording_spans", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("stream_sessions", schema=None) as batch_op:
        batch_op.drop_column("recording_spans")
