"""stream sessions and viewer links

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stream_sessions",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("owner_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("quality", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("court", sa.JSON(), nullable=True),
        sa.Column("frame_size", sa.JSON(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("started_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("ended_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("total_shots", sa.Integer(), nullable=False),
        sa.Column("total_rallies", sa.Integer(), nullable=False),
        sa.Column("stats", sa.JSON(), nullable=True),
        sa.Column("output_prefix", sqlmodel.sql.sqltypes.AutoString(length=1024), nullable=False),
        sa.Column("recording_path", sqlmodel.sql.sqltypes.AutoString(length=1024), nullable=True),
        sa.Column("recording_key", sqlmodel.sql.sqltypes.AutoString(length=1024), nullable=True),
        sa.Column("recordings", sa.JSON(), nullable=True),
        sa.Column("report_key", sqlmodel.sql.sqltypes.AutoString(length=1024), nullable=True),
        sa.Column("heatmap_near_key", sqlmodel.sql.sqltypes.AutoString(length=1024), nullable=True),
        sa.Column("heatmap_far_key", sqlmodel.sql.sqltypes.AutoString(length=1024), nullable=True),
        sa.Column("error", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["users.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("stream_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_stream_sessions_owner_id"), ["owner_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_stream_sessions_status"), ["status"], unique=False)

    op.create_table(
        "viewer_links",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("session_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("expires_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("revoked_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["stream_sessions.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("viewer_links", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_viewer_links_session_id"), ["session_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("viewer_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_viewer_links_session_id"))

    op.drop_table("viewer_links")
    with op.batch_alter_table("stream_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stream_sessions_status"))
        batch_op.drop_index(batch_op.f("ix_stream_sessions_owner_id"))

    op.drop_table("stream_sessions")
