"""report shares

Revision ID: 0004_report_shares
Revises: 0003_storage_cleanups
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0004_report_shares"
down_revision = "0003_storage_cleanups"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "report_shares",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("owner_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("report_kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("report_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("expires_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("revoked_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("report_shares", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_report_shares_owner_id"), ["owner_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_report_shares_report_id"), ["report_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("report_shares", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_report_shares_report_id"))
        batch_op.drop_index(batch_op.f("ix_report_shares_owner_id"))
    op.drop_table("report_shares")
