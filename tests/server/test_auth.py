"""Accounts: register, sign in, tokens, sign out, and the admin command; password rules,
argon2id hashes (scrypt ones upgraded at sign-in) and the limits on failed sign-ins."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import secrets
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import aiohttp
import pytest
from sqlmodel import select

from server.app import create_app
from server.context import DB
from server.models import AuthToken, User
from server.passwords import hash_password, verify_password
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
        ({"email": "a@b.co", "password": "password123"}, 400, "most common"),
        ({"email": "a@b.co", "password": " Baseball1 "}, 400, "most common"),
        ({"email": "a" * 250 + "@b.co.uk", "password": "long enough pw"}, 400, "254"),
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
    assert user.password_hash.startswith("$argon2id$")
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


async def test_emails_past_254_characters_are_refused_at_sign_in(client):
    response = await client.post(
        "/api/v1/auth/login", json={"email": "a" * 300 + "@example.com", "password": "whatever"}
    )
    assert response.status == 400
    assert "254" in (await response.json())["error"]


def legacy_scrypt_hash(password: str) -> str:
    """A password hash as accounts made before argon2id stored it."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1, dklen=32)
    encoded = [base64.b64encode(v).decode() for v in (salt, digest)]
    return "$".join(["scrypt", str(2**14), "8", "1", *encoded])


async def test_scrypt_hashes_still_sign_in_and_are_upgraded(client):
    async with client.app[DB].session() as session:
        user = User(email="old@example.com", password_hash=legacy_scrypt_hash("an old password"))
        session.add(user)
        await session.commit()
    login = {"email": "old@example.com", "password": "an old password"}
    wrong = await client.post("/api/v1/auth/login", json={**login, "password": "not the one"})
    assert wrong.status == 401
    async with client.app[DB].session() as session:
        assert (await session.get(User, user.id)).password_hash.startswith("scrypt$")

    assert (await client.post("/api/v1/auth/login", json=login)).status == 200
    async with client.app[DB].session() as session:
        upgraded = (await session.get(User, user.id)).password_hash
    assert upgraded.startswith("$argon2id$")
    assert (await client.post("/api/v1/auth/login", json=login)).status == 200
    async with client.app[DB].session() as session:
        assert (await session.get(User, user.id)).password_hash == upgraded  # not redone


async def login_status(client, email: str, password: str) -> tuple[int, dict, dict]:
    response = await client.post("/api/v1/auth/login", json={"email": email, "password": password})
    return response.status, dict(response.headers), await response.json()


async def test_failed_sign_ins_are_limited_per_account(aiohttp_client, settings):
    client = await aiohttp_client(create_app(replace(settings, login_failures_per_account=3)))
    await sign_up(client, "alice@example.com")
    await sign_up(client, "bob@example.com")
    for _ in range(3):
        assert (await login_status(client, "alice@example.com", "a wrong guess"))[0] == 401
    status, headers, body = await login_status(client, "alice@example.com", "a wrong guess")
    assert status == 429
    retry_after = int(headers["Retry-After"])
    assert 1 <= retry_after <= settings.login_failure_window_s
    assert body == {
        "error": f"too many failed sign-ins; try again in {retry_after} s",
        "detail": {"retry_after": retry_after},
    }
    # The right password waits too; other accounts from the same address do not.
    assert (await login_status(client, "alice@example.com", "correct horse battery"))[0] == 429
    assert (await login_status(client, "bob@example.com", "correct horse battery"))[0] == 200
    # An account that does not exist is limited the same way (nothing tells them apart).
    for _ in range(3):
        assert (await login_status(client, "nobody@example.com", "a wrong guess"))[0] == 401
    assert (await login_status(client, "nobody@example.com", "a wrong guess"))[0] == 429


async def test_a_burst_of_parallel_guesses_gets_no_more_tries(aiohttp_client, settings):
    client = await aiohttp_client(create_app(replace(settings, login_failures_per_account=3)))
    await sign_up(client, "alice@example.com")
    guesses = [login_status(client, "alice@example.com", f"guess number {n}") for n in range(20)]
    statuses = sorted(status for status, _, _ in await asyncio.gather(*guesses))
    assert statuses == [401] * 3 + [429] * 17


async def test_failed_sign_ins_are_limited_per_client_address(aiohttp_client, settings):
    app = create_app(replace(settings, login_failures_per_address=4))
    client = await aiohttp_client(app)
    await sign_up(client, "alice@example.com")
    for n in range(4):
        assert (await login_status(client, f"user{n}@example.com", "a wrong guess"))[0] == 401
    status, headers, _ = await login_status(client, "alice@example.com", "correct horse battery")
    assert status == 429
    assert int(headers["Retry-After"]) >= 1
    # The same account from another address signs in.
    other = aiohttp.TCPConnector(local_addr=("127.0.0.2", 0))
    async with aiohttp.ClientSession(connector=other) as http:
        url = client.make_url("/api/v1/auth/login")
        body = {"email": "alice@example.com", "password": "correct horse battery"}
        async with http.post(url, json=body) as response:
            assert response.status == 200


async def test_sign_in_does_not_need_the_default_thread_pool(client):
    """Password hashing has threads of its own: with every thread of the default pool (the
    one file transfers use) taken, sign-ins still go through."""
    await sign_up(client, "alice@example.com")
    loop = asyncio.get_running_loop()
    pool = ThreadPoolExecutor(1)
    loop.set_default_executor(pool)
    release = threading.Event()
    taken = loop.run_in_executor(None, release.wait)
    try:
        login = client.post(
            "/api/v1/auth/login",
            json={"email": "alice@example.com", "password": "correct horse battery"},
        )
        response = await asyncio.wait_for(login, 60)
        assert response.status == 200
    finally:
        release.set()
        await taken


@pytest.mark.parametrize(
    "email, password, message",
    [
        ("admin@example.com", "password123", "most common"),
        ("a" * 250 + "@example.com", "admin password", "longer than 254"),
    ],
)
def test_user_create_command_applies_the_same_rules(tmp_path, email, password, message):
    env = {"DATA_DIR": str(tmp_path), "BADMINTON_PASSWORD": password, "PATH": ""}
    command = [sys.executable, "-m", "server.cli", "user", "create", email]
    created = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert created.returncode == 2
    assert message in created.stderr
