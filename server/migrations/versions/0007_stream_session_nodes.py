"""the node holding a live session, and the gaps a lost node left in it

Revision ID: 0007_stream_session_nodes
Revises: 0006_job_playable_video
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0007_stream_session_nodes"
down_revision = "0006_job_playable_video"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("stream_sessions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("node_url", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True)
        )
        batch_op.add_column(sa.Column("gaps", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("stream_sessions", schema=None) as batch_op:
        batch_op.drop_column("gaps")
        batch_op.drop_column("node_url")
