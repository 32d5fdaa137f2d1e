"""Accounts: register, sign in, tokens, sign out, and the admin command."""

from __future__ import annotations

import subprocess
import sys

import pytest
from sqlmodel import select

from server.accounts import hash_password, verify_password
from server.context import DB
from server.models import AuthToken, User
from tests.server.conftest import sign_up


async def test_register_login_me_logout(client):
    alice = await sign_up(client, "Alice@Example.com ")
    me = await alice.call("GET", "/api/v1/auth/me")
    assert me.status == 200
    assert (await me.json()) == {"id": alice.id, "email": "alice@example.com"}

    login = await client.post(
        "/api/v1/auth/login",
        json={"email": "alice@example.com", "password": "correct horse battery"},
    )
    assert login.status == 200
    second = (await login.json())["token"]
    assert second != alice.token

    assert (await alice.call("POST", "/api/v1/auth/logout")).status == 204
    revoked = await alice.call("GET", "/api/v1/auth/me")
    assert revoked.status == 401
    assert "signed out" in (await revoked.json())["error"]
    # The other token of the same account still works.
    other = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {second}"})
    assert other.status == 200


@pytest.mark.parametrize(
    "body, status, message",
    [
        ({"email": "a@b.co", "password": "short"}, 400, "at least 8"),
        ({"email": "not-an-email", "password": "long enough pw"}, 400, "email"),
        ({"email": "a@b.co"}, 400, "password"),
        ({"password": "long enough pw"}, 400, "email"),
        (["a list"], 400, "JSON object"),
    ],
)
async def test_register_rejects_bad_input(client, body, status, message):
    response = await client.post("/api/v1/auth/register", json=body)
    assert response.status == status
    assert message in (await response.json())["error"]


async def test_register_rejects_invalid_json_and_duplicates(client):
    response = await client.post(
        "/api/v1/auth/register", data=b"{nope", headers={"Content-Type": "application/json"}
    )
    assert response.status == 400
    assert "not valid JSON" in (await response.json())["error"]
    await sign_up(client, "carol@example.com")
    again = await client.post(
        "/api/v1/auth/register", json={"email": "CAROL@example.com", "password": "another one!"}
    )
    assert again.status == 409


async def test_login_failures_look_the_same(client):
    await sign_up(client, "dave@example.com")
    wrong = await client.post(
        "/api/v1/auth/login", json={"email": "dave@example.com", "password": "wrong password"}
    )
    unknown = await client.post(
        "/api/v1/auth/login", json={"email": "nobody@example.com", "password": "wrong password"}
    )
    assert wrong.status == unknown.status == 401
    assert (await wrong.json()) == (await unknown.json())


@pytest.mark.parametrize(
    "header", [None, "Bearer", "Bearer nonsense-token", "Basic abc", "bearer  "]
)
async def test_api_needs_a_valid_token(client, header):
    headers = {"Authorization": header} if header is not None else {}
    response = await client.get("/api/v1/jobs", headers=headers)
    assert response.status == 401
    assert response.content_type == "application/json"


async def test_passwords_and_tokens_are_stored_hashed(client):
    alice = await sign_up(client, "erin@example.com", password="a secret password")
    async with client.app[DB].session() as session:
        user = (await session.exec(select(User).where(User.email == "erin@example.com"))).one()
        tokens = (await session.exec(select(AuthToken).where(AuthToken.user_id == user.id))).all()
    assert user.password_hash.startswith("scrypt$")
    assert "a secret password" not in user.password_hash
    assert [t.token_hash for t in tokens] != [alice.token]
    assert alice.token not in {t.token_hash for t in tokens}


def test_password_hash_round_trip():
    stored = hash_password("hunter2hunter2")
    assert verify_password("hunter2hunter2", stored)
    assert not verify_password("hunter2hunter3", stored)
    assert stored != hash_password("hunter2hunter2")  # salted
    assert not verify_password("x", "garbage")


def test_user_create_command(tmp_path):
    env = {"DATA_DIR": str(tmp_path), "BADMINTON_PASSWORD": "admin password", "PATH": ""}
    command = [sys.executable, "-m", "server.cli", "user", "create", "admin@example.com", "--admin"]
    created = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert created.returncode == 0, created.stderr
    assert "created admin admin@example.com" in created.stdout
    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert again.returncode == 2
    assert again.stderr.strip() == "badminton: error: an account with this email already exists"
