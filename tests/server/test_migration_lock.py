"""Nodes started together against one fresh PostgreSQL database: the schema is migrated once,
under a lock, and every node comes up."""

from __future__ import annotations

import asyncio
import signal
import uuid

import asyncpg
from alembic.script import ScriptDirectory
from sqlalchemy.engine import make_url

from server.db import Database, alembic_config
from tests.server.server_process import free_port, spawn_server, wait_ready

NODES = 3


async def fresh_database(postgres_url: str) -> str:
    """A new, empty database on the test server; its URL."""
    url = make_url(postgres_url)
    name = f"fresh_{uuid.uuid4().hex[:12]}"
    connection = await asyncpg.connect(
        host=url.host, port=url.port, user=url.username, database=url.database
    )
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return url.set(database=name).render_as_string(hide_password=False)


async def schema_version(database_url: str) -> list[str]:
    url = make_url(database_url)
    connection = await asyncpg.connect(
        host=url.host, port=url.port, user=url.username, database=url.database
    )
    try:
        return [row[0] for row in await connection.fetch("SELECT version_num FROM alembic_version")]
    finally:
        await connection.close()


def head() -> str:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def test_nodes_started_together_all_come_up(tmp_path, postgres_url):
    database_url = asyncio.run(fresh_database(postgres_url))
    nodes = []
    try:
        for i in range(NODES):
            folder = tmp_path / f"node-{i}"
            folder.mkdir()
            port = free_port()
            server, log_path = spawn_server(folder, port, {"DATABASE_URL": database_url})
            nodes.append((server, port, log_path))
        for server, port, log_path in nodes:
            wait_ready(server, port, log_path)
        assert all(server.poll() is None for server, _, _ in nodes)
    finally:
        for server, _, _ in nodes:
            server.send_signal(signal.SIGINT)
        for server, _, _ in nodes:
            server.wait(timeout=60)
    assert asyncio.run(schema_version(database_url)) == [head()]
    upgrades = [log.read_text().count("Running upgrade") for _, _, log in nodes]
    assert sum(1 for n in upgrades if n) == 1, upgrades  # one node migrated, once


async def test_migrations_at_once_on_one_database(postgres_url):
    database_url = await fresh_database(postgres_url)
    databases = [Database(database_url) for _ in range(NODES)]
    try:
        await asyncio.gather(*(db.migrate() for db in databases))
    finally:
        await asyncio.gather(*(db.close() for db in databases))
    assert await schema_version(database_url) == [head()]
