"""The migrations build exactly the schema the models describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel

from server import models  # noqa: F401  (the tables)
from server.db import Database


async def test_migrations_match_the_models(tmp_path):
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'test.db'}")
    try:
        await db.migrate()
        await db.migrate()  # a second start finds nothing to do

        def differences(connection):
            context = MigrationContext.configure(connection)
            return compare_metadata(context, SQLModel.metadata)

        async with db.engine.connect() as connection:
            diff = await connection.run_sync(differences)
    finally:
        await db.close()
    assert diff == []
