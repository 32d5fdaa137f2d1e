"""The server on PostgreSQL (DATABASE_URL): the migrations build the models' schema, and
accounts and jobs work as on SQLite."""

from __future__ import annotations

from dataclasses import replace

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel

from server import models  # noqa: F401  (the tables)
from server.app import create_app
from server.db import Database
from tests.server.conftest import sign_up
from tests.server.test_uploads import COURT, upload_single


async def test_migrations_match_the_models_on_postgres(postgres_url):
    db = Database(postgres_url)
    try:
        await db.migrate()

        def differences(connection):
            return compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)

        async with db.engine.connect() as connection:
            assert await connection.run_sync(differences) == []
    finally:
        await db.close()


async def test_accounts_and_jobs_on_postgres(aiohttp_client, settings, postgres_url):
    client = await aiohttp_client(create_app(replace(settings, database_url=postgres_url)))
    alice = await sign_up(client, "pg-alice@example.com")
    bob = await sign_up(client, "pg-bob@example.com")
    data = b"not a video at all" * 100
    ticket = await upload_single(alice, data, court=COURT)
    confirm = await alice.call("POST", f"/api/v1/upload/confirm/{ticket['job_id']}")
    assert confirm.status == 422
    jobs = (await (await alice.call("GET", "/api/v1/jobs")).json())["jobs"]
    assert [(j["id"], j["status"]) for j in jobs] == [(ticket["job_id"], "failed")]
    assert (await bob.call("GET", f"/api/v1/jobs/{ticket['job_id']}")).status == 404
    big = await alice.call(
        "POST",
        "/api/v1/upload/multipart/init",
        json={"filename": "long.mp4", "content_type": "video/mp4", "size": 6 * 2**30},
    )
    assert big.status == 201  # sizes over 2 GiB fit the column
