"""a browser-playable copy of a job's video

Revision ID: 0006_job_playable_video
Revises: 0005_recording_spans
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0006_job_playable_video"
down_revision = "0005_recording_spans"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "playable_video_key",
                sqlmodel.sql.sqltypes.AutoString(length=1024),
                nullable=True,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_column("playable_video_key")
