"""storage cleanups

Revision ID: 0003_storage_cleanups
Revises: 0002
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0003_storage_cleanups"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "storage_cleanups",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=1024), nullable=False),
        sa.Column("upload_id", sqlmodel.sql.sqltypes.AutoString(length=1024), nullable=True),
        sa.Column("due_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("storage_cleanups", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_storage_cleanups_due_at"), ["due_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("storage_cleanups", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_storage_cleanups_due_at"))
    op.drop_table("storage_cleanups")
